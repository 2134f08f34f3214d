//===- X86Int8Kernels.h - x86 integer kernels of int8 products --*- C++ -*-===//
//
// Products of f32 activations with int8 weights computed with the x86
// integer dot-product instructions (AVX2 vpmaddubsw/vpmaddwd, AVX-VNNI and
// AVX512-VNNI vpdpbusd) over activations quantized per block of channels.
// The kernels call the intrinsics directly (llvm.call_intrinsic); they sit
// behind this header so that another target's kernels (or runtime
// microkernels) can take their place without touching the generic tiling.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_CPU_X86INT8KERNELS_H
#define SEQC_PASSES_CODEGEN_CPU_X86INT8KERNELS_H

#include "seqc/Support/Int8Kernel.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seq::cpu {

/// Whether `op` is y[t, n] += x[t, k] * sitofp(w[n, k]) with f32 x and y
/// and int8 w, as the model builders write an int8 projection.
bool isInt8Product(linalg::GenericOp op);

/// Replaces the int8 product `op` (isInt8Product holds) by the integer
/// kernel `kernel` (not None): the activations quantized per token and
/// block of `block` channels, then one dot product per output over the
/// whole row, as scf.parallel loops when `parallel` (tiles for prefill),
/// nested scf.for loops otherwise; a length that is not a multiple of the
/// vector ends with scalar integer products. Fails (creating nothing) for a
/// dynamic reduction length or one the block does not divide, or weight
/// rows that are not contiguous. Does not erase `op`.
LogicalResult lowerInt8Product(RewriterBase &rewriter, linalg::GenericOp op,
                               seqc::Int8Kernel kernel, int64_t block,
                               bool parallel);

} // namespace mlir::seq::cpu

#endif // SEQC_PASSES_CODEGEN_CPU_X86INT8KERNELS_H
