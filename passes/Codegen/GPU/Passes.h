//===- Passes.h - GPU code generation ---------------------------*- C++ -*-===//

#ifndef SEQC_PASSES_CODEGEN_GPU_PASSES_H
#define SEQC_PASSES_CODEGEN_GPU_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

#include "llvm/ADT/StringRef.h"

namespace mlir::seq {

#define GEN_PASS_DECL
#include "passes/Codegen/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Codegen/GPU/Passes.h.inc"

/// Where seq-gpu-schedule leaves an entry's schedule (its description in
/// Passes.td has the format).
inline constexpr llvm::StringLiteral kGPUScheduleAttr = "seq.gpu.schedule";
inline constexpr llvm::StringLiteral kGPUScratchAttr = "seq.gpu.scratch_bytes";
/// The buffer number of the scratch arena in a schedule's bindings.
inline constexpr int64_t kGPUScratchBuffer = -1;
/// Every binding of a schedule starts at a multiple of this.
inline constexpr int64_t kGPUBindingAlignment = 256;

/// Bytes of one element of a buffer, and of a static buffer.
inline int64_t gpuElementBytes(MemRefType type) {
  return (type.getElementTypeBitWidth() + 7) / 8;
}
inline int64_t gpuBufferBytes(MemRefType type) {
  return type.getNumElements() * gpuElementBytes(type);
}

} // namespace mlir::seq

#endif // SEQC_PASSES_CODEGEN_GPU_PASSES_H
