//===- GPUPipeline.cpp - loops on memrefs to outlined GPU kernels ---------===//
//
// Upstream passes only: the mapping every GPU target starts from.
//
//===----------------------------------------------------------------------===//

#include "seqc/Pipelines/GPUPipeline.h"
#include "seqc/Pipelines/ModelPipeline.h"

#include "passes/Codegen/CPU/Passes.h"
#include "passes/Codegen/GPU/Passes.h"
#include "passes/Conversion/Passes.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/SCFToGPU/SCFToGPUPass.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void seqc::buildGPUMappingPipeline(OpPassManager &pm) {
  // Loops to gpu.launch: linalg ops become scf.parallel; loops without a
  // mapping get the greedy one (outermost to workgroups, next to threads).
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  // Constants into the launches, so they are not kernel arguments.
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  // Parallel loops the mapping left inside a kernel (nested under a
  // sequential loop, as in the WKV-5/6 state update) run sequentially in
  // each thread.
  pm.addNestedPass<gpu::GPUModuleOp>(createParallelForToNestedForsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void seqc::buildGPUModelLoweringPipeline(OpPassManager &pm,
                                         int64_t maxBindingBytes,
                                         bool subgroupReduce) {
  pm.addPass(seq::createSeqGPUStepEntriesPass());
  pm.addPass(createSymbolDCEPass()); // their layer functions
  // Weights as views of one buffer at their byte offsets, as on the CPU;
  // no C interfaces: no host code calls the entries.
  seq::SeqCPUABIPassOptions abi;
  abi.cInterface = false;
  pm.addPass(seq::createSeqCPUABIPass(abi));
  // KV heads: a parallel loop (workgroups), their scratch on the heap.
  addSeqLoweringPasses(pm, /*parallelKVHeads=*/true);
  // One straight list of kernels per entry: the shared layer functions
  // inlined (their calls pass constant layers, so every view's offset
  // becomes a constant).
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  // Fewer kernels: elementwise producers fused into their consumers (each
  // kernel is a dispatch, with a barrier, per token), but not into
  // products, where they would be recomputed for every output element.
  pm.addNestedPass<func::FuncOp>(seq::createSeqGPUFuseElementwisePass());
  pm.addPass(createCanonicalizerPass());
  addBufferizationPasses(pm);
  pm.addPass(createCanonicalizerPass());
  // A copy is a kernel like any other.
  seq::SeqStridedCopyToLinalgPassOptions copies;
  copies.all = true;
  pm.addNestedPass<func::FuncOp>(seq::createSeqStridedCopyToLinalgPass(copies));
  // Products larger than one storage binding: as several launches.
  seq::SeqGPUSplitProductsPassOptions split;
  split.maxBindingBytes = maxBindingBytes;
  pm.addNestedPass<func::FuncOp>(seq::createSeqGPUSplitProductsPass(split));
  // Products: a workgroup per output element, its threads sharing the
  // reduction.
  seq::SeqGPUProductsPassOptions products;
  products.subgroupReduce = subgroupReduce;
  pm.addNestedPass<func::FuncOp>(seq::createSeqGPUProductsPass(products));
  // Threads, not only workgroups: the loops the mapping will take, tiled.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  // The KV-cache code left on the host (the length read, the append, the
  // heads' loop, made parallel) into kernels.
  pm.addNestedPass<func::FuncOp>(seq::createSeqParallelizeLoopsPass());
  pm.addNestedPass<func::FuncOp>(seq::createSeqGPUHostKernelsPass());
  pm.addNestedPass<func::FuncOp>(seq::createSeqGPUTileLoopsPass());
}

void seqc::registerGPUMappingPipeline() {
  PassPipelineRegistration<>(
      "seq-gpu-mapping-pipeline",
      "Map loops on memrefs to blocks and threads and outline the kernels "
      "(the start of seq-vulkan-pipeline and seq-cuda-pipeline)",
      [](OpPassManager &pm) { buildGPUMappingPipeline(pm); });
}

int64_t seqc::workgroupMemoryBytes(MemRefType type) {
  Type element = type.getElementType();
  int64_t lanes = 1;
  if (auto vector = dyn_cast<VectorType>(element))
    lanes = vector.getNumElements();
  Type scalar = getElementTypeOrSelf(element);
  return type.getNumElements() * lanes *
         ((scalar.getIntOrFloatBitWidth() + 7) / 8);
}

FailureOr<int64_t> seqc::placeWorkgroupMemory(
    gpu::GPUFuncOp kernel,
    llvm::function_ref<void(Operation *, MemRefType)> place) {
  auto isWorkgroupMemory = [](MemRefType type) {
    auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(type.getMemorySpace());
    return space && space.getValue() == gpu::AddressSpace::Workgroup;
  };
  SmallVector<Operation *> allocs;
  kernel.walk([&](Operation *op) {
    if (isa<memref::AllocOp, memref::AllocaOp>(op) &&
        isWorkgroupMemory(cast<MemRefType>(op->getResult(0).getType())))
      allocs.push_back(op);
  });
  int64_t bytes = 0;
  for (Operation *op : allocs) {
    auto type = cast<MemRefType>(op->getResult(0).getType());
    // Scalars, or 1-D vectors of them (a tile read 128 bits at a time).
    Type element = type.getElementType();
    auto vector = dyn_cast<VectorType>(element);
    bool scalarOrVector =
        element.isIntOrFloat() ||
        (vector && vector.getRank() == 1 && !vector.isScalable() &&
         vector.getElementType().isIntOrFloat());
    if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
        !scalarOrVector)
      return op->emitError("workgroup memory must have a static shape, the "
                           "identity layout and scalar or 1-D vector "
                           "elements, not ")
             << type;
    if (op->getParentOp() != kernel.getOperation())
      return op->emitError("workgroup memory must be allocated at the top "
                           "level of the kernel (outside loops mapped to "
                           "threads and sequential loops)");
    bytes += seqc::workgroupMemoryBytes(type);
    place(op, type);
  }
  return bytes;
}
