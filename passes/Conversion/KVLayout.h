//===- KVLayout.h - storage layout of a lowered KV cache --------*- C++ -*-===//
//
// Where the lowering (convert-seq-kv-to-loops) keeps a `!seq.kv_cache` in a
// byte buffer, and how many bytes it takes. The driver uses the same numbers
// to size the model's state, so there is one definition of the layout.
//
// One cache, all regions 64-byte aligned, in this order:
//   header    i64 length (tokens held), i64 quantized (tokens in the
//             bit-packed region); 64 bytes
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

#ifndef SEQC_PASSES_CONVERSION_KVLAYOUT_H
#define SEQC_PASSES_CONVERSION_KVLAYOUT_H

#include "dialects/Seq/IR/SeqTypes.h"

#include <cstdint>
#include <string>

namespace mlir::seq {

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

/// The layout of `type`, or an error message (in `error`) when the lowering
/// does not support it: one side quantized and the other not, scales that
/// are not f32, a head_dim that is not a multiple of 8.
bool computeKVLayout(KVCacheType type, KVLayout &layout, std::string &error);

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_KVLAYOUT_H
