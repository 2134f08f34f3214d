//===- KVCodec.h - quantize, pack and dequantize KV rows -------*- C++ -*-===//
//
// The codec of a compressed KV cache (KIVI's grids): the range of a group,
// its scale and minimum (asymmetric, or the symmetric grid), the code of a
// value, 8 codes packed into `bits` bytes, and the dequantization of one
// token row back into f32, 8 channels at a time in vector registers. Groups
// run along the channels of a token (per token) or along the tokens of a
// channel (per channel, KIVI's keys). The helpers emit scf/arith/math/vector
// ops on the cache's memref views and nothing target-specific: a GPU
// lowering of the KV ops reuses them as they are inside its own loops.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVCODEC_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVCODEC_H

#include "passes/Conversion/KVCacheToLoops/KVLoopBuilder.h"

namespace mlir::seq::kv {

/// The loops of one cache together with its quantization codec. Every
/// helper takes the side (keys or values) it codes: both sides may differ
/// in bits, group and axis.
class KVCodec : public KVLoopBuilder {
public:
  using KVLoopBuilder::KVLoopBuilder;

  /// The packed codes [heads, quantCapacity, rowBytes] (i8), scales and
  /// minima [heads, scaleRows, scaleCols] (f32) of one side.
  Value codes(const KVLayout::Side &s);
  Value scales(const KVLayout::Side &s);
  Value minima(const KVLayout::Side &s);
  /// The integer holding 8 codes (`bits` bytes): i32 up to 4 bits, so that
  /// the decoding vectorizes 8 lanes wide, i64 for 8 bits.
  Type wordType(const KVLayout::Side &s);
  /// The (row, column) of the scale of token `i`, channel `c`.
  std::pair<Value, Value> scaleAt(const KVLayout::Side &s, Value i, Value c);
  /// The minimum of the symmetric grid, -2^(b-1) scale (`scale` an f32 or
  /// a vector of them).
  Value symmetricMinimum(const KVLayout::Side &s, Value scale);
  /// The stored (scale, minimum) of token i, channel c of head h, from the
  /// side's scale and minima views (`mins` null for the symmetric grid,
  /// whose minimum is -2^(b-1) scale).
  std::pair<Value, Value> groupParams(const KVLayout::Side &s, Value sc,
                                      Value mins, Value h, Value i, Value c);
  /// (scale, minimum) of a group from its range: asymmetric
  /// s = (max - min) / (2^b - 1), m = min; symmetric s = max|x| / (2^(b-1) -
  /// 1), m = -2^(b-1) s. A zero range gets s = 1. Dequantization is q s + m.
  std::pair<Value, Value> params(const KVLayout::Side &s, Value mn, Value mx);
  /// The code of x: asymmetric clamp(round((x - m) / s), 0, 2^b - 1);
  /// symmetric clamp(round(x / s), -M, M) + 2^(b-1), M = 2^(b-1) - 1.
  Value code(const KVLayout::Side &s, Value x, Value scale, Value minimum);
  /// (min, max) of `at(k)` for k in [0, n).
  std::pair<Value, Value> minMax(function_ref<Value(Value)> at, int64_t n);
  /// Stores the scale (and minimum) of the group with range [mn, mx] at
  /// (row, col) of head h.
  void storeParams(const KVLayout::Side &s, Value h, Value row, Value col,
                   Value mn, Value mx);
  /// Packs the codes of token i (index in the packed region) of head h,
  /// whose channel c holds `at(c)`, with the group parameters already
  /// stored: 8 channels (`bits` bytes) at a time.
  void packCodes(const KVLayout::Side &s, Value h, Value i,
                 function_ref<Value(Value)> at);
  /// Quantizes token i of head h (channel c = `at(c)`) with channel-axis
  /// groups: its group parameters, then its codes.
  void quantizeToken(const KVLayout::Side &s, Value h, Value i,
                     function_ref<Value(Value)> at);
  /// Quantizes tokens nq .. nq + chunk - 1 (indices after the sinks) of one
  /// side from the ring into the packed region.
  void quantizeChunk(Value ring, const KVLayout::Side &s, Value nq);
  /// Dequantizes token `i` (index after the sinks) of head `h` of one side
  /// into `row` ([D] f32), 8 channels (one word of `bits` bytes) at a time
  /// in vector registers: the word broadcast to 8 lanes, shifted right by
  /// 0, b, ..., 7b, masked and converted, then scaled and offset by the
  /// group parameters (8 per-channel ones, or one per-token group's,
  /// broadcast). With `codesOnly` the codes themselves.
  void dequantRow(const KVLayout::Side &s, Value h, Value i, Value row,
                  bool codesOnly = false);

  // Whole rows in vector registers (the attention's packed region). With
  // `bits` dividing 8 (1, 2, 4, 8), byte k of a row holds the codes of
  // channels P k + e (P = 8 / bits) at bits [e bits, (e + 1) bits): the row
  // bytes repeated P times and masked lane by lane give every code in one
  // vector of head_dim lanes, lane e R + k (R = rowBytes) holding channel
  // P k + e's code times 2^(e bits), with no shift. The attention works in
  // that lane order (queries and group parameters permuted once per query
  // or group, the sums permuted back at the end) and folds the 2^-(e bits)
  // into the factors it multiplies by anyway.

  /// Whether side `s` decodes whole rows (bits 1, 2, 4 or 8).
  bool wholeRows(const KVLayout::Side &s) const;
  /// Channel of each lane: laneChannels(s)[e R + k] = P k + e.
  SmallVector<int64_t> laneChannels(const KVLayout::Side &s) const;
  /// Lane of each channel (the inverse permutation).
  SmallVector<int64_t> channelLanes(const KVLayout::Side &s) const;
  /// 2^-(e bits) per lane (vector<head_dim x f32>); null when bits = 8.
  Value laneWeights(const KVLayout::Side &s);
  /// Token i of head h from the codes view `cd`: one vector load of its
  /// rowBytes bytes, repeated P times (vector.shuffle), masked (arith.andi)
  /// and converted (arith.uitofp) to vector<head_dim x f32> in lane order.
  Value unpackRow(const KVLayout::Side &s, Value cd, Value h, Value i);
  /// v ([n] vector) with its lanes picked by `order`: result[k] =
  /// v[order[k]].
  Value permute(Value v, ArrayRef<int64_t> order);
};

} // namespace mlir::seq::kv

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVCODEC_H
