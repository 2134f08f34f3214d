//===- KVLayout.h - storage layout of a lowered KV cache --------*- C++ -*-===//
//
// Where a `!seq.kv_cache` lives in a byte buffer, and how many bytes it
// takes. The layout is part of the artifact's ABI: the KV lowering
// (convert-seq-kv-to-loops) emits loads and stores at these offsets, the
// driver sizes the model's state with it and records the cache's description
// in the manifest (`kv_desc`), and the runtime rebuilds the same layout from
// that line to read the cache. So it is defined once, here, in plain C++
// (no MLIR): the dialect turns a cache type into a KVCacheDesc
// (dialects/Seq/IR/SeqKVLayout.h) and everything else starts from the desc.
//
// One cache, all regions 64-byte aligned, in this order:
//   header    i64 length (tokens held), i64 quantized (tokens in the
//             bit-packed region; in an uncompressed cache, the tokens
//             seq.kv_select dropped, so that the position of the next token
//             is the sum of the two); 64 bytes
// Uncompressed cache:
//   keys      [heads, capacity, head_dim] element type
//   values    [heads, capacity, head_dim] element type
// Compressed cache (token p is a sink if p < sinks, else it has index
// i = p - sinks; indices below `quantized` are bit-packed, the others sit in
// the full-precision ring at slot i mod ringSlots):
//   sink keys, sink values     [heads, sinks, head_dim] element type
//   ring keys, ring values     [heads, ringSlots, head_dim] element type
//   for keys, then values:
//     codes   [heads, quantCapacity, rowBytes] i8: a token's head_dim codes
//             packed little-endian, code c at bits [c*bits, (c+1)*bits)
//     scales  [heads, scaleRows, scaleCols] f32
//     minima  [heads, scaleRows, scaleCols] f32 (asymmetric grid only)
//   with (scaleRows, scaleCols) = (quantCapacity / group, head_dim) for
//   token-axis groups (per-channel) and (quantCapacity, head_dim / group)
//   for channel-axis groups (per-token).
//
// An evicting cache (a window, no encoding) has the sinks and a ring of
// `window` slots only; a token leaving the ring is dropped (`quantized`
// then counts the dropped tokens).
//
// A scored cache (evict = h2o or roco) keeps, per KV head, `budget` slots
// at full precision, with the position and attention statistics of the
// token in each:
//   slot keys, slot values     [heads, budget, head_dim] element type
//   slot positions             [heads, budget] i32
//   attention sums, counts     [heads, budget] f32 each
//   squared deviations         [heads, budget] f32 (roco: n x the variance
//                              of the attention, by Welford's update)
//   shield flags               [heads, budget] i8 (roco with window > 10:
//                              scratch of the victim search)
// and, when it has encodings (mixed precision), every token that left the
// slots, quantized per token at its position:
//   low flags                  [heads, capacity] i8 (1: quantized)
//   for keys, then values: codes, scales, minima as above with
//   quantCapacity = capacity and channel-axis groups.
// Tokens fill slots 0, 1, ... in order; once all are taken a new token
// replaces, per head, the unprotected one with the lowest score.
//
// Tokens leave the ring `chunk` at a time (the least common multiple of the
// token-axis group sizes, 1 when both sides group channels), as soon as the
// ring holds `window + chunk` tokens, so the `window` most recent tokens are
// always at full precision.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_KVLAYOUT_H
#define SEQC_SUPPORT_KVLAYOUT_H

#include <cstdint>
#include <string>

namespace seqc {

/// How one side (keys or values) of a cache is quantized.
struct KVQuantDesc {
  /// False: the side is stored at the cache's element type (the other
  /// fields are then unused and zero).
  bool quantized = false;
  unsigned bits = 0;
  int64_t group = 0;
  /// Axis 0: groups of tokens (one scale per channel and group of tokens);
  /// otherwise axis 1, groups of channels.
  bool perChannel = false;
  bool asymmetric = false;
  /// Bytes of one scale (and zero point) as the type declares them; the
  /// lowering stores f32 scales only (4).
  int64_t scaleBytes = 0;

  bool operator==(const KVQuantDesc &o) const {
    return quantized == o.quantized && bits == o.bits && group == o.group &&
           perChannel == o.perChannel && asymmetric == o.asymmetric &&
           scaleBytes == o.scaleBytes;
  }
  bool operator!=(const KVQuantDesc &o) const { return !(*this == o); }
};

/// Which tokens a cache keeps by attention score (`evict = ...`).
enum class KVEvict { None, H2O, RoCo };

/// Everything of a `!seq.kv_cache` type the storage layout depends on, in
/// plain numbers.
struct KVCacheDesc {
  int64_t heads = 0, headDim = 0, capacity = 0;
  /// Bytes of one key or value element (2: f16 / bf16, 4: f32).
  int64_t elementBytes = 0;
  KVQuantDesc keys, values;
  int64_t sinks = 0, window = 0;
  KVEvict evict = KVEvict::None;
  int64_t budget = 0;

  bool operator==(const KVCacheDesc &o) const {
    return heads == o.heads && headDim == o.headDim && capacity == o.capacity &&
           elementBytes == o.elementBytes && keys == o.keys &&
           values == o.values && sinks == o.sinks && window == o.window &&
           evict == o.evict && budget == o.budget;
  }
  bool operator!=(const KVCacheDesc &o) const { return !(*this == o); }
};

struct KVLayout {
  /// One quantized side (keys or values).
  struct Side {
    unsigned bits = 0;
    int64_t group = 0;
    bool perChannel = false; // axis 0: groups of tokens.
    bool asymmetric = true;
    int64_t rowBytes = 0, scaleRows = 0, scaleCols = 0;
    int64_t codes = 0, scales = 0, minima = 0; // byte offsets
  };

  int64_t heads = 0, headDim = 0, capacity = 0, elementBytes = 0;
  bool compressed = false;
  /// A window without encodings: tokens leaving it are dropped.
  bool evicting = false;
  /// Tokens chosen by attention (h2o / roco), dropped or (mixed) quantized.
  bool scored = false, mixed = false, roco = false;
  int64_t budget = 0;
  int64_t sinks = 0, window = 0, chunk = 1, ringSlots = 0, quantCapacity = 0;
  // Byte offsets within one cache.
  int64_t keys = 0, values = 0;         // uncompressed
  int64_t sinkKeys = 0, sinkValues = 0; // compressed
  int64_t ringKeys = 0, ringValues = 0;
  int64_t slotKeys = 0, slotValues = 0, slotPos = 0, slotSum = 0, slotCount = 0,
          slotDeviations = 0, slotShield = 0, lowFlags = 0; // scored
  Side key, value;
  /// RoCo's recency protection: the most recent tokens kept whatever their
  /// attention (RoCo's implementation keeps the last 10); the rest of the
  /// `window` protected tokens are the most variable ones.
  int64_t rocoRecent() const { return window < 10 ? window : 10; }
  /// Columns of the attention's score buffer: one per token it can see.
  int64_t scoreColumns() const {
    return scored ? (mixed ? budget + capacity : budget) : capacity;
  }
  /// Bytes of one cache (a multiple of 64).
  int64_t bytes = 0;
};

/// The layout of `desc`, or an error message (in `error`) when the lowering
/// does not support it: one side quantized and the other not, scales that
/// are not f32, a head_dim that is not a multiple of 8. `desc` is taken as
/// the cache type's verifier leaves it (see parseKVCacheDesc for a desc read
/// from outside the compiler).
bool computeKVLayout(const KVCacheDesc &desc, KVLayout &layout,
                     std::string &error);

/// Bytes one full-precision token occupies (keys and values, all heads).
int64_t kvBytesPerFullToken(const KVCacheDesc &desc);

/// Bytes one token occupies in the cache's quantized region (keys and
/// values, all heads), counting codes, scales and zero points, or its
/// full-precision storage for an unquantized side. Fractional for sub-byte
/// codes and token-axis groups.
double kvBytesPerQuantizedToken(const KVCacheDesc &desc);

/// `desc` as one line of text without newlines (the manifest's `kv_desc`
/// value), e.g.
///   heads=2 head_dim=16 capacity=64 element_bytes=4
///   keys=q2,g8,axis0,asym,s4 values=q2,g8,axis1,asym,s4 sinks=0 window=8
///   evict=none budget=0
/// (on one line); an unquantized side is written `none`.
std::string serializeKVCacheDesc(const KVCacheDesc &desc);

/// Reads what serializeKVCacheDesc writes: every field once, in that order,
/// separated by single spaces, with values in range (positive sizes, 2 or
/// 4 element bytes, 2/3/4/8 bits, a budget exactly when it evicts). On
/// failure returns false and says why in `error`; `desc` is then
/// unspecified.
bool parseKVCacheDesc(const std::string &text, KVCacheDesc &desc,
                      std::string &error);

} // namespace seqc

#endif // SEQC_SUPPORT_KVLAYOUT_H
