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

#include "llvm/ADT/StringRef.h"

#include <memory>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace seqc {

/// Adds the GPU mapping and kernel outlining to `pm` (anchored on
/// builtin.module).
void buildGPUMappingPipeline(mlir::OpPassManager &pm);

/// Registers `seq-gpu-mapping-pipeline`.
void registerGPUMappingPipeline();

/// Adds what takes a model-level module (after the model pipeline) to the
/// functions of loops on memrefs the GPU mapping starts from: weights as
/// views of one weights buffer (seq-cpu-abi without C interfaces), seq ops
/// to linalg and loops, the layer functions inlined (each entry becomes one
/// straight list of kernels), one-shot bufferization, every copy a
/// linalg.copy (a kernel). Entries with loops over tokens (prefill) must be
/// removed first: their host part is not a static schedule.
void buildGPUModelLoweringPipeline(mlir::OpPassManager &pm);

/// seq-gpu-schedule (GPUSchedule.cpp) leaves each entry's schedule on its
/// func.func, whose body it empties: an array of {kernel, grid, block,
/// bindings} dictionaries in dispatch order, `bindings` holding a (buffer,
/// byte offset, bytes) triple per kernel argument, the buffer being the
/// entry's argument number or kScratch; and the scratch arena's bytes.
inline constexpr llvm::StringLiteral kScheduleAttr = "seq.gpu.schedule";
inline constexpr llvm::StringLiteral kScratchAttr = "seq.gpu.scratch_bytes";
/// The buffer number of the scratch arena in a schedule's bindings.
inline constexpr int64_t kScratch = -1;
/// Every binding of a schedule starts at a multiple of this (the largest
/// minStorageBufferOffsetAlignment Vulkan allows).
inline constexpr int64_t kBindingAlignment = 256;

/// Creates seq-gpu-schedule; registerGPUSchedulePass() makes it and
/// seq-gpu-step-entries known to seqc-opt.
std::unique_ptr<mlir::Pass> createGPUSchedulePass();
/// seq-gpu-step-entries: erases seqc_prefill and seqc_prefill_all, whose
/// host part loops over tokens (prompts run token by token on GPUs).
std::unique_ptr<mlir::Pass> createGPUStepEntriesPass();
/// seq-gpu-products (on func.func, buffers): each marked product a
/// workgroup per output element whose 64 threads share the reduction
/// (GPUProducts.cpp); seq-gpu-fuse-elementwise (on func.func, tensors):
/// elementwise fusion but into products. registerGPUProductsPasses()
/// makes both known to seqc-opt.
std::unique_ptr<mlir::Pass> createGPUProductsPass();
std::unique_ptr<mlir::Pass> createGPUFuseElementwisePass();
void registerGPUProductsPasses();

/// seq-gpu-tile-loops (on func.func): the innermost dimension of each
/// outermost parallel loop without a mapping tiled by 64, tile iterations
/// to threads.
std::unique_ptr<mlir::Pass> createGPUTileLoopsPass();
void registerGPUSchedulePass();

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
