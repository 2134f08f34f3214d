//===- SeqQ4Product.h - the linalg form of a 4-bit weight product -*- C++
//-*-===//
//
// A projection over 4-bit weights (`seqc compile --weights=q4`) is a
// linalg.generic whose body unpacks the weight codes, so that every target
// can run it as written; the CPU codegen recognizes the form and computes
// it with integer dot products (passes/Codegen/CPU/X86Q4Kernels.cpp). The
// builder and the matcher live together here so that they cannot drift.
//
// The q4 format of a weight matrix W [N, K] (K a multiple of 32) is GGML's
// Q4_0 with the scales apart from the codes:
//   - groups of 32 channels along K, each with an f16 scale d[n, g] and 32
//     codes c in 0..15: W[n, k] = d[n, k / 32] * (c[n, k] - 8);
//   - codes packed two per byte, 16 bytes per group: byte
//     w[n, 16 * (k / 32) + k % 16] holds c[n, k] in its low nibble when
//     k % 32 < 16, in its high nibble otherwise (Q4_0's order, so a GGUF
//     Q4_0 tensor keeps its codes byte for byte).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECTS_SEQ_IR_SEQQ4PRODUCT_H
#define SEQC_DIALECTS_SEQ_IR_SEQQ4PRODUCT_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::seq {

/// Channels per scale of a q4 weight.
constexpr int64_t kQ4Group = 32;

/// out[t, n] + sum_k x[t, k] * d[n, k / 32] * (c[n, k] - 8), with the codes
/// c unpacked from `w` as above: x [T, K] f32, w [N, K / 2] i8, d [N, K /
/// 32] f16, out [T, N] f32; tensors (the result is the op's) or memrefs.
linalg::GenericOp buildQ4Product(OpBuilder &b, Location loc, Value x, Value w,
                                 Value d, Value out);

/// Whether `op` is a product buildQ4Product makes (after canonicalization,
/// which moves the body's constants out and may swap commutative operands),
/// on f32 activations of a static reduction length K.
bool isQ4Product(linalg::GenericOp op);

} // namespace mlir::seq

#endif // SEQC_DIALECTS_SEQ_IR_SEQQ4PRODUCT_H
