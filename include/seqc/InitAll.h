//===- InitAll.h - register what seqc's tools use ---------------*- C++ -*-===//

#ifndef SEQC_INITALL_H
#define SEQC_INITALL_H

#include <cstdint>
#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace seqc {

/// The seq dialect and the upstream dialects seqc's pipelines use (func, arith,
/// math, tensor, linalg, scf, memref, bufferization, vector, llvm, gpu, spirv,
/// nvvm, cf, index, ub), with the interface implementations they need
/// (bufferization, inlining, --convert-to-llvm).
void registerAllDialects(mlir::DialectRegistry &registry);

/// seq's passes and the upstream passes and pipelines of those dialects.
void registerAllPasses();

/// The CPU lowering (`seq-cpu-pipeline`): seq -> linalg/scf/arith/math ->
/// one-shot bufferization with ownership-based deallocation -> loops -> LLVM
/// dialect. Needs registerAllPasses() first.
struct CPUPipelineOptions {
  /// Integer kernel for int8-weight products (seq-parallelize-products'
  /// int8-dot: none, avx2, avxvnni, avx512vnni); the target must have it.
  std::string int8Dot = "none";
  /// Activation channels sharing one int8 scale in those kernels.
  int64_t activationBlock = 32;
};
void buildCPUPipeline(mlir::OpPassManager &pm,
                      const CPUPipelineOptions &options = {});

} // namespace seqc

#endif // SEQC_INITALL_H
