//===- CPUPipeline.cpp - the CPU lowering of seq IR -----------------------===//

#include "seqc/Pipelines/CPUPipeline.h"
#include "seqc/Pipelines/ModelPipeline.h"

#include "passes/Codegen/CPU/Passes.h"
#include "passes/Conversion/Passes.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Async/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <string>

using namespace mlir;

llvm::Error seqc::CPUPipelineOptions::validate() const {
  if (activationBlock <= 0 || activationBlock % 4)
    return llvm::createStringError(
        "activation-block=" + std::to_string(activationBlock) +
        ": expected a positive multiple of 4");
  if (floatLanes != 0 && floatLanes != 8 && floatLanes != 16)
    return llvm::createStringError("float-lanes=" + std::to_string(floatLanes) +
                                   ": expected 0, 8 or 16");
  return llvm::Error::success();
}

/// async-parallel-for on the caller's thread (no dispatch task) with all the
/// runtime's workers, in tasks of at least `minTaskSize` iterations.
static std::unique_ptr<Pass> parallelForTasks(int32_t minTaskSize) {
  AsyncParallelForPassOptions options;
  options.asyncDispatch = false;
  options.numWorkerThreads = -1;
  options.minTaskSize = minTaskSize;
  return createAsyncParallelForPass(options);
}

void seqc::buildCPUPipeline(OpPassManager &pm,
                            const CPUPipelineOptions &options) {
  // The CPU entry ABI: weights by reference become views of the mapped
  // weight file, public functions C-interface entries.
  pm.addPass(seq::createSeqCPUABIPass());
  addSeqLoweringPasses(pm);
  pm.addPass(createCanonicalizerPass());
  // Independent decode products of equal extents next to each other, so
  // that their loops share one fork and join (seq-fuse-product-loops);
  // which products run on all threads is seq-parallelize-products' rule.
  seq::SeqParallelizeProductsPassOptions products;
  products.int8Kernel = options.int8Kernel;
  products.activationBlock = options.activationBlock;
  products.floatLanes = options.floatLanes;
  seq::SeqGroupProductsPassOptions groups;
  groups.minDecodeElements = products.minDecodeElements;
  pm.addNestedPass<func::FuncOp>(seq::createSeqGroupProductsPass(groups));
  addBufferizationPasses(pm);
  bufferization::buildBufferDeallocationPipeline(pm);
  // Vector writes into buffers whose innermost stride is not 1 (a caller's
  // strided view) become loops; unit-stride ones stay.
  pm.addNestedPass<func::FuncOp>(createConvertVectorToSCFPass());

  // CPU codegen. Matrix products on all threads: scf.parallel, split into
  // tasks for the async runtime ABI (which seqc's runtime provides).
  pm.addNestedPass<func::FuncOp>(
      seq::createSeqParallelizeProductsPass(products));
  pm.addNestedPass<func::FuncOp>(seq::createSeqFuseProductLoopsPass());
  pm.addPass(parallelForTasks(/*minTaskSize=*/512));
  // Then the loops marked parallel (attention over KV heads): a task per
  // iteration.
  pm.addNestedPass<func::FuncOp>(seq::createSeqParallelizeLoopsPass());
  pm.addPass(parallelForTasks(/*minTaskSize=*/1));
  pm.addPass(createAsyncToAsyncRuntimePass());
  pm.addPass(createAsyncRuntimeRefCountingPass());
  pm.addPass(createAsyncRuntimeRefCountingOptPass());
  OpPassManager &loops = pm.nest<func::FuncOp>();
  loops.addPass(seq::createSeqStridedCopyToLinalgPass());
  loops.addPass(createConvertLinalgToLoopsPass());
  // exp and tanh as polynomials, so that their loops vectorize (a libm call
  // per element keeps a loop scalar).
  loops.addPass(seq::createSeqApproximateMathPass());

  // Loops -> the LLVM dialect.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertAsyncToLLVMPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
/// seq-cpu-pipeline's textual options (CPUPipelineOptions).
struct CPUPipelineCLOptions : public PassPipelineOptions<CPUPipelineCLOptions> {
  Option<seqc::Int8Kernel> int8Kernel{
      *this, "int8-dot",
      llvm::cl::desc("Integer kernel for int8-weight products: none, avx2, "
                     "avxvnni or avx512vnni (the target must have it)"),
      llvm::cl::init(seqc::Int8Kernel::None), seqc::int8KernelOptionValues()};
  Option<int64_t> activationBlock{
      *this, "activation-block",
      llvm::cl::desc("Activation channels sharing one int8 scale"),
      llvm::cl::init(32)};
  Option<int64_t> floatLanes{
      *this, "float-lanes",
      llvm::cl::desc("f32 lanes of the panel kernel of prefill float "
                     "products: 0 (scalar tiles), 8 (AVX2) or 16 (AVX-512)"),
      llvm::cl::init(0)};
};
} // namespace

void seqc::registerCPUPipeline() {
  // registerPassPipeline rather than PassPipelineRegistration: its builder
  // can refuse options (validate) with a message instead of building a
  // pipeline that fails later.
  registerPassPipeline(
      "seq-cpu-pipeline",
      "Lower seq ops through linalg, one-shot bufferization, buffer "
      "deallocation and loops to the LLVM dialect",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        CPUPipelineCLOptions cl;
        if (failed(cl.parseFromString(text)))
          return failure();
        CPUPipelineOptions options;
        options.int8Kernel = cl.int8Kernel;
        options.activationBlock = cl.activationBlock;
        options.floatLanes = cl.floatLanes;
        if (llvm::Error e = options.validate())
          return errorHandler("seq-cpu-pipeline: " +
                              llvm::toString(std::move(e)));
        buildCPUPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optHandler) {
        optHandler(CPUPipelineCLOptions());
      });
}
