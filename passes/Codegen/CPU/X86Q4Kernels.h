//===- X86Q4Kernels.h - x86 integer kernels of q4 products ------*- C++ -*-===//
//
// Products of f32 activations with 4-bit weights (the linalg form of
// dialects/Seq/IR/SeqQ4Product.h) computed with the x86 integer dot-product
// instructions over activations quantized to int8 per group of 32 channels,
// the weights' groups: the codes are unpacked in registers and never
// widened in memory.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_CPU_X86Q4KERNELS_H
#define SEQC_PASSES_CODEGEN_CPU_X86Q4KERNELS_H

#include "seqc/Support/Int8Kernel.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seq::cpu {

/// Replaces the group product `op` (q4, q5, q6, q8 or q4k:
/// seq::matchGroupProduct holds, on memrefs) by
/// the integer kernel `kernel` (not None): each token's activations
/// quantized per group of 32 channels, then per output and group the
/// 32-bit sums of the codes' products, scaled once by the two groups'
/// scales; scf.parallel loops when `parallel` (tiles for prefill), nested
/// scf.for loops otherwise. Fails (creating nothing) when the weight or
/// scale rows are not contiguous. Does not erase `op`.
LogicalResult lowerQ4Product(RewriterBase &rewriter, linalg::GenericOp op,
                             seqc::Int8Kernel kernel, bool parallel);

} // namespace mlir::seq::cpu

#endif // SEQC_PASSES_CODEGEN_CPU_X86Q4KERNELS_H
