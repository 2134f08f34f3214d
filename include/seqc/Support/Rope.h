//===- Rope.h - rotary position embedding angles ----------------*- C++ -*-===//
//
// The RoPE angles as seqc computes them, in one place: seq.rope's lowering
// (which emits the same arithmetic as IR), the KV lowering's compile-time
// cos/sin tables for keys cached before RoPE, and the runtime, which undoes
// RoPE on cached keys. Channel pair i of a rotary_dim-channel head at
// position p turns by
//
//   angle = p * exp(i * k),   k = -2 ln(theta) / rotary_dim
//
// (theta^(-2i/d)), all in f64 from the f32 theta of the op, and cos and sin
// are rounded to f32. Results are bit-identical wherever these functions are
// used, so the order of the operations here is part of the contract. Depends
// on nothing but the C++ standard library.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_ROPE_H
#define SEQC_SUPPORT_ROPE_H

#include <cstdint>
#include <utility>
#include <vector>

namespace seqc {

/// Which channels form a rotated pair (the seq dialect's RopeStyle).
enum class RopeStyle {
  /// Pair i is channels (i, i + rotary_dim / 2).
  Half,
  /// Pair i is channels (2i, 2i + 1).
  Interleaved,
};

/// k = -2 ln(theta) / rotaryDim, the exponent step between pairs.
double ropeExponentStep(float theta, int64_t rotaryDim);

/// The angle of pair `pair` at position `pos`: pos * exp(pair * step).
double ropeAngle(double step, int64_t pos, int64_t pair);

/// The channels (first, second) of pair `pair`.
std::pair<int64_t, int64_t> ropePairChannels(RopeStyle style, int64_t rotaryDim,
                                             int64_t pair);

/// cos and sin (rounded to f32) of the angles of every pair at `pos`:
/// rotaryDim / 2 values each.
void ropeCosSin(float theta, int64_t rotaryDim, int64_t pos, float *cosOut,
                float *sinOut);

/// The cos (or, with `sine`, sin) of every position [0, positions) and pair:
/// [positions, rotaryDim / 2], row-major.
std::vector<float> ropeTable(float theta, int64_t rotaryDim, int64_t positions,
                             bool sine);

} // namespace seqc

#endif // SEQC_SUPPORT_ROPE_H
