//===- InitAll.h - register what seqc's tools use ---------------*- C++ -*-===//

#ifndef SEQC_INITALL_H
#define SEQC_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace seqc {

/// The seq dialect and the upstream dialects seqc's pipelines use (func, arith,
/// math, tensor, linalg, scf, memref, bufferization, vector, llvm, gpu, spirv,
/// nvvm, cf, index, ub), with the interface implementations they need
/// (bufferization, inlining, --convert-to-llvm).
void registerAllDialects(mlir::DialectRegistry &registry);

/// seq's passes, seq's pipelines (seqc/Pipelines) and the upstream passes
/// and pipelines of those dialects.
void registerAllPasses();

} // namespace seqc

#endif // SEQC_INITALL_H
