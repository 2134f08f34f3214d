//===- HadamardRow.h - in-place Hadamard transform of a row ----*- C++ -*-===//
//
//
// The fast Walsh–Hadamard transform of one f32 row in a memref, emitted as
// loops (or, for small power-of-two orders, one vector). Shared by the
// lowering of seq.hadamard and the KV-cache lowering, which rotates cached
// keys back inside the attention loop.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_HADAMARDROW_H
#define SEQC_PASSES_CONVERSION_HADAMARDROW_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seq {

/// row[0..n) ← c · M · row[0..n) with M = H (or Hᵀ when `transpose`), H the
/// Hadamard matrix of order n that seq.hadamard uses, c = 1/sqrt(n) when
/// `normalized`, else 1. `row` is a rank-1 f32 memref of at least n
/// elements with unit stride; n must have a Hadamard matrix. `tmp` is an f32
/// scratch memref of the base factor's order (Paley orders; unused, may be
/// null, for powers of two).
void emitRowHadamard(ImplicitLocOpBuilder &b, Value row, int64_t n,
                     bool transpose, bool normalized, Value tmp);

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_HADAMARDROW_H
