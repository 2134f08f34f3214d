//===- CUDAPipeline.h - kernel modules to NVVM, PTX and cubin ---*- C++ -*-===//
//
// seq-cuda-pipeline: functions of loops on memrefs become kernels outlined
// by the shared GPU mapping (GPUPipeline.h), then NVVM, then (optionally)
// PTX or cubin through the CUDA toolkit:
//
//   GPU mapping and outlining (shared with seq-vulkan-pipeline) ->
//   seq-cuda-prepare-kernels (CUDA's limits; workgroup memory to workgroup
//   attributions) -> nvvm-attach-target{chip, O=3} -> per gpu.module:
//   scf to cf, gpu/arith/math/memref to NVVM (bare pointers for memrefs),
//   canonicalize, cse, reconcile casts -> [gpu-module-to-binary{format,
//   toolkit}: libdevice linked, LLVM's NVPTX backend, ptxas].
//
// The target (CUDATarget.cpp) runs the two halves apart: it reads the
// kernel table between them (the gpu.func ops are gone after the NVVM
// conversion), then serializes each kernel twice, as PTX and as cubin.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PIPELINES_CUDAPIPELINE_H
#define SEQC_PIPELINES_CUDAPIPELINE_H

#include <string>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace seqc {

struct CUDAPipelineOptions {
  /// The GPU architecture (sm_NN; checked by checkCUDAArch).
  std::string chip = "sm_90";
  /// The CUDA toolkit (ptxas, nvvm/libdevice).
  std::string toolkit = "/usr/local/cuda";
  /// gpu-module-to-binary's format (isa: PTX, bin: cubin, fatbin), or ""
  /// to stop at NVVM.
  std::string format;
};

/// The GPU mapping, outlining and seq-cuda-prepare-kernels.
void buildCUDAKernelPipeline(mlir::OpPassManager &pm);
/// A model-level module (after the model pipeline) to outlined kernels and
/// a dispatch schedule per entry: the GPU model lowering, the mapping,
/// seq-gpu-schedule, seq-cuda-prepare-kernels (GPUPipeline.h).
void buildCUDAModelKernelPipeline(mlir::OpPassManager &pm);
/// From outlined kernels to NVVM (and to `options.format` when set).
void buildCUDALoweringPipeline(mlir::OpPassManager &pm,
                               const CUDAPipelineOptions &options);
/// Both.
void buildCUDAPipeline(mlir::OpPassManager &pm,
                       const CUDAPipelineOptions &options);

/// Registers `seq-cuda-pipeline{chip=sm_90 toolkit=DIR format=isa|bin|fatbin}`
/// and `seq-cuda-prepare-kernels`.
void registerCUDAPipeline();

} // namespace seqc

#endif // SEQC_PIPELINES_CUDAPIPELINE_H
