//===- CPUPipeline.h - the CPU lowering of seq IR ---------------*- C++ -*-===//
//
// seq IR -> linalg/scf/arith/math -> one-shot bufferization with
// ownership-based deallocation -> CPU codegen (threads, int8 kernels) ->
// loops -> the LLVM dialect. Other backends add a <Target>Pipeline.h beside
// this one.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PIPELINES_CPUPIPELINE_H
#define SEQC_PIPELINES_CPUPIPELINE_H

#include "seqc/Support/Int8Kernel.h"

#include "llvm/Support/Error.h"

#include <cstdint>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace seqc {

/// What the CPU pipeline can be asked for (`seq-cpu-pipeline{...}`).
struct CPUPipelineOptions {
  /// Integer kernel for int8-weight products (int8-dot); the target must
  /// have its instructions.
  Int8Kernel int8Kernel = Int8Kernel::None;
  /// Activation channels sharing one int8 scale in those kernels
  /// (activation-block): a positive multiple of 4.
  int64_t activationBlock = 32;
  /// f32 lanes of the panel kernel of prefill float products (float-lanes):
  /// 0 keeps scalar tiles, 8 (AVX2 and FMA) or 16 (AVX-512) vectors of
  /// that many lanes, which the target must have.
  int64_t floatLanes = 0;

  /// An error naming the first option out of range.
  llvm::Error validate() const;
};

/// Adds the CPU lowering to `pm` (anchored on builtin.module). `options`
/// should satisfy validate(); otherwise seq-parallelize-products reports
/// the bad value when the pipeline runs.
void buildCPUPipeline(mlir::OpPassManager &pm,
                      const CPUPipelineOptions &options = {});

/// Registers `seq-cpu-pipeline` with the textual options int8-dot,
/// activation-block and float-lanes; a value out of range is a parse error, not
/// a crash.
void registerCPUPipeline();

} // namespace seqc

#endif // SEQC_PIPELINES_CPUPIPELINE_H
