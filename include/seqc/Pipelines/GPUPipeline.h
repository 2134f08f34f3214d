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

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Support/LLVM.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace seqc {

/// Adds the GPU mapping and kernel outlining to `pm` (anchored on
/// builtin.module).
void buildGPUMappingPipeline(mlir::OpPassManager &pm);

/// Registers `seq-gpu-mapping-pipeline`.
void registerGPUMappingPipeline();

/// Adds what takes a model-level module (after the model pipeline) to the
/// functions of loops on memrefs the GPU mapping starts from: the entries a
/// schedule runs (seq-gpu-step-entries), weights as views of one weights
/// buffer (seq-cpu-abi without C interfaces), seq ops to linalg and loops,
/// the layer functions inlined (each entry becomes one straight list of
/// kernels), elementwise fusion but into products, one-shot
/// bufferization, every copy a linalg.copy (a kernel), the products as
/// workgroup reductions and the other loops tiled for threads
/// (passes/Codegen/GPU). seq-gpu-schedule runs after the mapping.
/// `maxBindingBytes` (0: none): products whose buffers exceed one storage
/// binding are split (seq-gpu-split-products). `subgroupReduce`: the
/// products' workgroups add their threads' sums by subgroup arithmetic
/// first (seq-gpu-products subgroup-reduce).
void buildGPUModelLoweringPipeline(mlir::OpPassManager &pm,
                                   int64_t maxBindingBytes = 0,
                                   bool subgroupReduce = false);

/// The bytes of a workgroup memory buffer: a static shape of scalars or 1-D
/// vectors of them (what placeWorkgroupMemory accepts).
int64_t workgroupMemoryBytes(mlir::MemRefType type);

/// Checks the workgroup memory of `kernel` (memref.alloc/alloca in the GPU
/// workgroup address space) as every GPU target needs it: a static shape,
/// the identity layout, scalar or 1-D vector elements, allocated at the
/// kernel's top
/// level. Each allocation is handed to `place` (which replaces and erases
/// it) in order; the first bad one is reported on its op. Gives the bytes
/// allocated in all, for the target's own limit.
mlir::FailureOr<int64_t> placeWorkgroupMemory(
    mlir::gpu::GPUFuncOp kernel,
    llvm::function_ref<void(mlir::Operation *, mlir::MemRefType)> place);

} // namespace seqc

#endif // SEQC_PIPELINES_GPUPIPELINE_H
