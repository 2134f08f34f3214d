//===- CUDAPipeline.cpp - kernel modules to NVVM, PTX and cubin -----------===//
//
// Upstream passes do the work (the GPU mapping shared with the Vulkan
// target, the NVVM conversion, gpu-module-to-binary); the pass here checks
// each outlined kernel against the limits every CUDA GPU from sm_75 on has
// and gives the NVVM conversion what it needs: workgroup memory allocated
// at the top of a kernel (memref.alloc in #gpu.address_space<workgroup>,
// how the kernel modules write it for both targets) becomes a workgroup
// attribution of the gpu.func, which convert-gpu-to-nvvm turns into a
// .shared global; left as an alloc it would become a call to malloc.
//
//===----------------------------------------------------------------------===//

#include "seqc/Pipelines/CUDAPipeline.h"
#include "seqc/Pipelines/GPUPipeline.h"

#include "passes/Codegen/GPU/Passes.h"
#include "seqc/Support/CUDAArch.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace {

/// Limits of every CUDA GPU from compute capability 7.5 to 12.x.
constexpr int64_t kMaxThreadsPerBlock = 1024;
constexpr int64_t kMaxBlockDim[3] = {1024, 1024, 64};
constexpr int64_t kMaxGridDim[3] = {2147483647, 65535, 65535};
/// Static shared memory per block (more needs a dynamic allocation and an
/// opt-in attribute, which the driver does not set).
constexpr int64_t kMaxStaticShared = 48 * 1024;
/// The alignment the kernels may assume of every buffer (the driver's
/// allocations have 256 bytes; 16 is what vector loads need).
constexpr int64_t kBufferAlignment = 16;

struct PrepareKernelsPass
    : public PassWrapper<PrepareKernelsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareKernelsPass)
  StringRef getArgument() const override { return "seq-cuda-prepare-kernels"; }
  StringRef getDescription() const override {
    return "Check outlined kernels against CUDA's limits and turn their "
           "workgroup memory into workgroup attributions";
  }

  LogicalResult prepareKernel(gpu::GPUFuncOp kernel) {
    DenseI32ArrayAttr known = kernel.getKnownBlockSizeAttr();
    if (!known)
      return kernel.emitError("kernel @")
             << kernel.getName()
             << ": its block size is not a constant (the loops mapped to "
                "threads need constant bounds)";
    int64_t threads = 1;
    for (auto [dim, n] : llvm::enumerate(known.asArrayRef())) {
      if (n > kMaxBlockDim[dim])
        return kernel.emitError("kernel @")
               << kernel.getName() << ": block size " << n << " in "
               << "xyz"[dim] << " exceeds CUDA's " << kMaxBlockDim[dim];
      threads *= n;
    }
    if (threads > kMaxThreadsPerBlock)
      return kernel.emitError("kernel @")
             << kernel.getName() << ": " << threads
             << " threads per block exceed CUDA's " << kMaxThreadsPerBlock;

    // Every buffer is a whole allocation of the driver's (cuMemAlloc:
    // 256-byte aligned; the kernel table binds function arguments only), so
    // its pointer is declared 16-byte aligned: LLVM's load-store vectorizer
    // then merges adjacent 32-bit loads into 64- and 128-bit ones.
    for (auto [i, arg] : llvm::enumerate(kernel.getArguments()))
      if (isa<MemRefType>(arg.getType()))
        kernel.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                          Builder(kernel).getI64IntegerAttr(kBufferAlignment));

    FailureOr<int64_t> bytes =
        seqc::placeWorkgroupMemory(kernel, [&](Operation *op, MemRefType type) {
          BlockArgument attribution =
              kernel.addWorkgroupAttribution(type, op->getLoc());
          // 16-byte aligned like the buffers, whatever the element: a tile
          // of halves may be written 128 bits at a time.
          kernel.setWorkgroupAttributionAttr(
              kernel.getNumWorkgroupAttributions() - 1,
              LLVM::LLVMDialect::getAlignAttrName(),
              Builder(kernel).getI64IntegerAttr(kBufferAlignment));
          for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
            if (isa<memref::DeallocOp>(user))
              user->erase();
          op->getResult(0).replaceAllUsesWith(attribution);
          op->erase();
        });
    if (failed(bytes))
      return failure();
    if (*bytes > kMaxStaticShared)
      return kernel.emitError("kernel @")
             << kernel.getName() << " allocates " << *bytes
             << " bytes of workgroup (shared) memory; CUDA allows "
             << kMaxStaticShared << " statically per block";
    return success();
  }

  LogicalResult checkLaunch(gpu::LaunchFuncOp launch) {
    gpu::KernelDim3 gridSize = launch.getGridSizeOperandValues();
    Value grid[] = {gridSize.x, gridSize.y, gridSize.z};
    for (auto [dim, v] : llvm::enumerate(grid)) {
      std::optional<int64_t> n = getConstantIntValue(v);
      if (!n)
        return launch.emitError("the number of blocks in ")
               << "xyz"[dim]
               << " is not a constant (kernels have static shapes so far)";
      if (*n > kMaxGridDim[dim])
        return launch.emitError() << *n << " blocks in " << "xyz"[dim]
                                  << " exceed CUDA's " << kMaxGridDim[dim];
    }
    for (auto [i, arg] : llvm::enumerate(launch.getKernelOperands())) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type)
        return launch.emitError("kernel argument ")
               << i << " is a scalar (" << arg.getType()
               << "); only buffers are passed so far: make it a constant of "
                  "the function";
      // Memrefs become bare pointers, which needs static shapes.
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return launch.emitError("kernel argument ")
               << i << " (" << type
               << ") must have a static shape and the identity layout";
    }
    return success();
  }

  void runOnOperation() override {
    SmallVector<gpu::GPUFuncOp> kernels;
    SmallVector<gpu::LaunchFuncOp> launches;
    getOperation().walk([&](Operation *op) {
      if (auto kernel = dyn_cast<gpu::GPUFuncOp>(op);
          kernel && kernel.isKernel())
        kernels.push_back(kernel);
      else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op))
        launches.push_back(launch);
    });
    for (gpu::GPUFuncOp kernel : kernels)
      if (failed(prepareKernel(kernel)))
        return signalPassFailure();
    for (gpu::LaunchFuncOp launch : launches)
      if (failed(checkLaunch(launch)))
        return signalPassFailure();
  }
};

/// The compute capability of a chip name (`sm_90a` -> 90), 0 if none.
unsigned smVersion(StringRef chip) {
  std::optional<seqc::CUDAArch> a = seqc::parseCUDAArch(chip);
  return a ? a->version : 0;
}

/// Refuses kernels that use instructions the chip lacks, before LLVM's
/// NVPTX backend would stop the process on them ("Cannot select"): the
/// tensor-core products of nvgpu.mma.sync need sm_80 (sm_75 has only the
/// m16n8k8 f16 shape).
struct CheckChipPass
    : public PassWrapper<CheckChipPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CheckChipPass)
  explicit CheckChipPass(std::string chip) : chip(std::move(chip)) {}
  StringRef getArgument() const override { return "seq-cuda-check-chip"; }
  StringRef getDescription() const override {
    return "Check the kernels' instructions against the chip";
  }
  void runOnOperation() override {
    unsigned version = smVersion(chip);
    WalkResult r = getOperation().walk([&](nvgpu::MmaSyncOp mma) {
      SmallVector<int64_t> shape =
          llvm::to_vector(llvm::map_range(mma.getMmaShape(), [](Attribute a) {
            return cast<IntegerAttr>(a).getInt();
          }));
      Type element = getElementTypeOrSelf(mma.getMatrixA().getType());
      bool turing = shape == SmallVector<int64_t>{16, 8, 8} && element.isF16();
      unsigned needed = turing ? 75 : 80;
      if (version >= needed)
        return WalkResult::advance();
      auto kernel = mma->getParentOfType<gpu::GPUFuncOp>();
      mma.emitError("kernel @")
          << (kernel ? kernel.getName() : StringRef("?"))
          << ": a tensor-core product (mma.sync m" << shape[0] << "n"
          << shape[1] << "k" << shape[2] << " on " << element << ") needs sm_"
          << needed << " or later, not " << chip;
      return WalkResult::interrupt();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
  std::string chip;
};

/// In-bounds 1-D vector transfers (the Hadamard rows) as vector loads and
/// stores, vector.insert/extract_strided_slice as shuffles and element
/// moves: convert-gpu-to-nvvm leaves them, and LLVM IR has no translation.
struct LowerVectorSlicesPass
    : public PassWrapper<LowerVectorSlicesPass,
                         OperationPass<gpu::GPUModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerVectorSlicesPass)
  StringRef getArgument() const override {
    return "seq-cuda-lower-vector-slices";
  }
  StringRef getDescription() const override {
    return "Lower 1-D vector transfers and strided vector slices";
  }
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    vector::populateVectorInsertExtractStridedSliceTransforms(patterns);
    vector::populateVectorTransferLoweringPatterns(patterns,
                                                   /*maxTransferRank=*/1);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void seqc::buildCUDAKernelPipeline(OpPassManager &pm) {
  buildGPUMappingPipeline(pm);
  pm.addPass(std::make_unique<PrepareKernelsPass>());
}

void seqc::buildCUDAModelKernelPipeline(OpPassManager &pm) {
  buildGPUModelLoweringPipeline(pm);
  buildGPUMappingPipeline(pm);
  pm.addPass(seq::createSeqGPUSchedulePass());
  pm.addPass(std::make_unique<PrepareKernelsPass>());
}

void seqc::buildCUDALoweringPipeline(OpPassManager &pm,
                                     const CUDAPipelineOptions &options) {
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.optLevel = 3;
  // libdevice (math.exp -> __nv_expf) is linked by gpu-module-to-binary
  // from the toolkit; without it the PTX keeps .extern .func __nv_expf.
  pm.addPass(std::make_unique<CheckChipPass>(options.chip));
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &gpu = pm.nest<gpu::GPUModuleOp>();
  // Subviews in kernels (a KV head's scratch) folded into the indices of
  // their loads and stores.
  gpu.addPass(memref::createFoldMemRefAliasOpsPass());
  gpu.addPass(createLowerAffinePass());
  // A thread's scratch (a prefill's WKV output row per token) in local
  // memory.
  gpu.addPass(seq::createSeqGPUPrivateAllocsPass());
  // Strided slices of vectors (the KV codec's groups) as shuffles, which
  // NVVM's translation has; 1-D transfers as loads and stores.
  gpu.addPass(std::make_unique<LowerVectorSlicesPass>());
  gpu.addPass(createSCFToControlFlowPass());
  // Warp-level matrix products (nvgpu.mma.sync, the tensor-core kernels)
  // become nvvm.mma.sync; the rest of nvgpu is not used.
  gpu.addPass(createConvertNVGPUToNVVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  // Static shapes: each memref is one pointer (the runtime passes one
  // device address per buffer).
  nvvm.useBarePtrCallConv = true;
  gpu.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  gpu.addPass(createCanonicalizerPass());
  gpu.addPass(createCSEPass());
  gpu.addPass(createReconcileUnrealizedCastsPass());
  if (options.format.empty())
    return;
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.toolkit;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void seqc::buildCUDAPipeline(OpPassManager &pm,
                             const CUDAPipelineOptions &options) {
  buildCUDAKernelPipeline(pm);
  buildCUDALoweringPipeline(pm, options);
}

namespace {
struct CUDAPipelineCLOptions
    : public PassPipelineOptions<CUDAPipelineCLOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU architecture (sm_75 or later)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> toolkit{*this, "toolkit",
                              llvm::cl::desc("CUDA toolkit directory"),
                              llvm::cl::init("/usr/local/cuda")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("isa (PTX), bin (cubin) or fatbin; empty: stop at NVVM"),
      llvm::cl::init("")};
};
} // namespace

void seqc::registerCUDAPipeline() {
  PassRegistration<PrepareKernelsPass>();
  registerPassPipeline(
      "seq-cuda-pipeline",
      "Map loops on memrefs to blocks and threads, outline kernels and "
      "convert them to NVVM (and PTX or cubin with format=)",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        CUDAPipelineCLOptions cl;
        if (failed(cl.parseFromString(text)))
          return failure();
        if (!cl.format.empty() && cl.format != "isa" && cl.format != "bin" &&
            cl.format != "fatbin")
          return errorHandler("seq-cuda-pipeline: format=" + cl.format +
                              ": expected isa, bin or fatbin");
        CUDAPipelineOptions options;
        options.chip = cl.chip;
        options.toolkit = cl.toolkit;
        options.format = cl.format;
        buildCUDAPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optHandler) {
        optHandler(CUDAPipelineCLOptions());
      });
}
