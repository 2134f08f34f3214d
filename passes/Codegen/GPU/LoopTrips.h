//===- LoopTrips.h - bounds on a kernel's loop iterations -------*- C++ -*-===//
//
// How many loop iterations one invocation of a kernel runs at most, for
// devices that end a shader's loops after a fixed count (llvmpipe).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_GPU_LOOPTRIPS_H
#define SEQC_PASSES_CODEGEN_GPU_LOOPTRIPS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::seq {

/// The loop iterations one invocation of `kernel` runs at most: over every
/// scf.for, its trips times those of the loops around it. A loop's trips
/// are bounded by the integer ranges of its bounds (constants, thread and
/// workgroup ids, arithmetic on them) and by its `seq.max_trips` attribute
/// (a loop over a KV cache's tokens). Fails with the first loop that
/// neither bounds, in `unbounded`.
FailureOr<uint64_t> kernelLoopIterations(gpu::GPUFuncOp kernel,
                                         scf::ForOp &unbounded);

} // namespace mlir::seq

#endif // SEQC_PASSES_CODEGEN_GPU_LOOPTRIPS_H
