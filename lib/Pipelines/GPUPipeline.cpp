//===- GPUPipeline.cpp - loops on memrefs to outlined GPU kernels ---------===//
//
// Upstream passes only: the mapping every GPU target starts from.
//
//===----------------------------------------------------------------------===//

#include "seqc/Pipelines/GPUPipeline.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/SCFToGPU/SCFToGPUPass.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
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
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void seqc::registerGPUMappingPipeline() {
  PassPipelineRegistration<>(
      "seq-gpu-mapping-pipeline",
      "Map loops on memrefs to blocks and threads and outline the kernels "
      "(the start of seq-vulkan-pipeline and seq-cuda-pipeline)",
      [](OpPassManager &pm) { buildGPUMappingPipeline(pm); });
}
