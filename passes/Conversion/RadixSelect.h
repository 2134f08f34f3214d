//===- RadixSelect.h - the k largest of n f32 scores, without sorting -*- C++
//-*-===//
//
// The selection seq.kv_select (a prompt's best rows per KV head) and
// seq.select_top (the tokens FastKV propagates) share: the k-th largest
// score found by a radix select on the scores' bits, mapped to unsigned
// integers that order as the floats do (32 counting passes over the scores,
// no scratch memory, no sort), and the rule that then takes exactly k of
// them in position order (every score above the k-th, and the first ones
// equal to it).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_RADIXSELECT_H
#define SEQC_PASSES_CONVERSION_RADIXSELECT_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seq {

/// An f32 score as an i32 whose unsigned order is the float order (-0
/// compares equal to +0; NaN is not ordered meaningfully).
Value orderedScoreBits(ImplicitLocOpBuilder &b, Value score);

/// Which scores a selection takes: those whose ordered bits are above `kth`,
/// and the first `ties` (in position order) equal to it. Both i32.
struct RadixSelection {
  Value kth, ties;
};

/// The selection of the `k` largest of `n` scores (index values, k <= n),
/// score j given as ordered bits by `bitsAt(j)`.
RadixSelection radixSelect(ImplicitLocOpBuilder &b, Value n, Value k,
                           function_ref<Value(Value)> bitsAt);

/// Whether the score with ordered bits `u` is taken, given how many equal
/// to the k-th were taken before it (`tiesTaken`, i32): {taken, tie} (i1),
/// `tie` meaning it is taken as one of the ties.
std::pair<Value, Value> radixTakes(ImplicitLocOpBuilder &b,
                                   const RadixSelection &sel, Value u,
                                   Value tiesTaken);

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_RADIXSELECT_H
