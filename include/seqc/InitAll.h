//===- InitAll.h - register what seqc's tools use ---------------*- C++ -*-===//

#ifndef SEQC_INITALL_H
#define SEQC_INITALL_H

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
void buildCPUPipeline(mlir::OpPassManager &pm);

} // namespace seqc

#endif // SEQC_INITALL_H
