//===- GPUPipeline.h - loops on memrefs to outlined GPU kernels -*- C++ -*-===//
//
// The part of the GPU lowering that no GPU target owns: functions of loops
// on memrefs (linalg, or scf.parallel with or without a GPU mapping) become
// gpu.launch ops, then kernels outlined into gpu.modules, beside the host
// functions that launch them:
//
//   linalg to parallel loops -> map loops to blocks/threads -> gpu.launch ->
//   lower affine, canonicalize -> sink constants, outline kernels ->
//   canonicalize, cse.
//
// seq-vulkan-pipeline converts the outlined kernels to SPIR-V,
// seq-cuda-pipeline to NVVM and then PTX and cubin; both start here, so a
// kernel module maps to the same grid, block and kernel arguments on both.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PIPELINES_GPUPIPELINE_H
#define SEQC_PIPELINES_GPUPIPELINE_H

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace seqc {

/// Adds the GPU mapping and kernel outlining to `pm` (anchored on
/// builtin.module).
void buildGPUMappingPipeline(mlir::OpPassManager &pm);

/// Registers `seq-gpu-mapping-pipeline`.
void registerGPUMappingPipeline();

} // namespace seqc

#endif // SEQC_PIPELINES_GPUPIPELINE_H
