//===- VulkanPipeline.cpp - kernel modules to SPIR-V ----------------------===//
//
// Upstream passes do the work (the GPU mapping shared with the CUDA target,
// GPUPipeline.cpp; the SPIR-V pattern sets); the two passes here bind them to a
// device profile: one attaches the profile's SPIR-V target environment, one
// checks each outlined kernel against the profile's limits and gives it what
// the SPIR-V conversion needs (its entry-point ABI from the launch's workgroup
// size, workgroup memory in the Workgroup storage class).
//
//===----------------------------------------------------------------------===//

#include "seqc/Pipelines/VulkanPipeline.h"
#include "seqc/Pipelines/GPUPipeline.h"

#include "passes/Codegen/GPU/LoopTrips.h"
#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/GPUToSPIRV/GPUToSPIRVPass.h"
#include "mlir/Conversion/MathToSPIRV/MathToSPIRVPass.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace {

/// Signed floor and ceiling divisions (of an index delinearized when a
/// load through a collapsed view is folded onto its buffer) in the arith
/// ops SPIR-V has: the SPIR-V conversion has no pattern for them.
struct ExpandIndexDivisionPass
    : public PassWrapper<ExpandIndexDivisionPass,
                         OperationPass<gpu::GPUModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ExpandIndexDivisionPass)
  StringRef getArgument() const override {
    return "seq-vulkan-expand-index-division";
  }
  StringRef getDescription() const override {
    return "Expand arith.floordivsi and ceildivsi/ui into basic arith ops";
  }
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateCeilFloorDivExpandOpsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

/// Puts the profile's SPIR-V target environment on the module (replacing
/// any there: the profile is the one description of the device).
struct AttachTargetEnvPass
    : public PassWrapper<AttachTargetEnvPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AttachTargetEnvPass)
  explicit AttachTargetEnvPass(seqc::VulkanProfile profile)
      : profile(std::move(profile)) {}
  StringRef getArgument() const override { return "seq-vulkan-attach-target"; }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->setAttr(spirv::getTargetEnvAttrName(),
                    profile.targetEnv(&getContext()));
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
  }
  seqc::VulkanProfile profile;
};

/// The profile features a buffer of `element` needs. Without them the
/// upstream conversion does not fail: it stores f16 as f32 (reading the
/// buffer as twice-wider words, a silent wrong answer) and narrows 64-bit
/// types to 32 bits, so such kernels are refused instead.
SmallVector<StringRef> featuresForElement(Type element) {
  unsigned bits = element.getIntOrFloatBitWidth();
  if (isa<FloatType>(element)) {
    if (bits == 16)
      return {"shaderFloat16", "storageBuffer16BitAccess"};
    if (bits == 64)
      return {"shaderFloat64"};
    return {};
  }
  if (bits == 8)
    return {"shaderInt8", "storageBuffer8BitAccess"};
  if (bits == 16)
    return {"shaderInt16", "storageBuffer16BitAccess"};
  if (bits == 64)
    return {"shaderInt64"};
  return {};
}

/// The feature that arithmetic on values of `element` needs ("" if none):
/// SPIR-V's Float16, Float64, Int8, Int16 and Int64 capabilities.
StringRef featureForArithmetic(Type element) {
  unsigned bits = element.getIntOrFloatBitWidth();
  if (isa<FloatType>(element))
    return bits == 16 ? "shaderFloat16" : bits == 64 ? "shaderFloat64" : "";
  switch (bits) {
  case 8:
    return "shaderInt8";
  case 16:
    return "shaderInt16";
  case 64:
    return "shaderInt64";
  default:
    return "";
  }
}

/// Checks every outlined kernel and its launches against the profile and
/// prepares the kernel for the SPIR-V conversion.
struct PrepareKernelsPass
    : public PassWrapper<PrepareKernelsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareKernelsPass)
  explicit PrepareKernelsPass(seqc::VulkanProfile profile)
      : profile(std::move(profile)) {}
  StringRef getArgument() const override {
    return "seq-vulkan-prepare-kernels";
  }

  /// convert-gpu-to-spirv turns a `uniform` gpu.subgroup_reduce into
  /// OpGroupFAdd, whose Groups capability Vulkan does not have; the
  /// canonicalizer marks the products' subgroup sums uniform (every thread
  /// of the workgroup reaches them). The non-uniform form
  /// (OpGroupNonUniformFAdd, GroupNonUniformArithmetic) computes the same
  /// where every invocation is active.
  static void nonUniformSubgroupReductions(gpu::GPUFuncOp kernel) {
    kernel.walk([](gpu::SubgroupReduceOp op) { op.setUniform(false); });
  }

  /// SCF-to-SPIR-V keeps a loop's results in variables that only its
  /// iterations write, so a loop that runs no iteration yields undefined
  /// values, not its initial ones (a KV window's ring loop at the first
  /// tokens). A loop with results that may run none is guarded: scf.if
  /// (lower < upper) runs it, else yields the initial values.
  static void guardEmptyLoops(gpu::GPUFuncOp kernel) {
    SmallVector<scf::ForOp> loops;
    kernel.walk([&](scf::ForOp loop) {
      std::optional<int64_t> lo = getConstantIntValue(loop.getLowerBound());
      std::optional<int64_t> hi = getConstantIntValue(loop.getUpperBound());
      if (loop.getNumResults() && !(lo && hi && *lo < *hi))
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops) {
      OpBuilder b(loop);
      Location loc = loop.getLoc();
      Value runs = arith::CmpIOp::create(
          b, loc,
          loop.getUnsignedCmp() ? arith::CmpIPredicate::ult
                                : arith::CmpIPredicate::slt,
          loop.getLowerBound(), loop.getUpperBound());
      auto guard = scf::IfOp::create(b, loc, loop.getResultTypes(), runs,
                                     /*withElseRegion=*/true);
      loop->replaceAllUsesWith(guard.getResults());
      b.setInsertionPointToStart(guard.thenBlock());
      loop->moveBefore(guard.thenBlock(), guard.thenBlock()->begin());
      b.setInsertionPointAfter(loop);
      scf::YieldOp::create(b, loc, loop.getResults());
      b.setInsertionPointToStart(guard.elseBlock());
      scf::YieldOp::create(b, loc, loop.getInitArgs());
    }
  }

  LogicalResult prepareKernel(gpu::GPUFuncOp kernel) {
    // A device that ends a shader's loops after so many iterations in all
    // (llvmpipe) would return wrong values silently.
    if (profile.maxLoopIterations) {
      scf::ForOp unbounded;
      FailureOr<uint64_t> iterations =
          seq::kernelLoopIterations(kernel, unbounded);
      if (failed(iterations))
        return (unbounded ? unbounded.emitError() : kernel.emitError())
               << "kernel @" << kernel.getName()
               << ": a loop whose iterations are not bounded at compile time; "
                  "the profile '"
               << profile.name << "' ends a kernel's loops after "
               << profile.maxLoopIterations
               << " in all (max_loop_iterations), so the kernel could stop "
                  "short without an error";
      if (*iterations > (uint64_t)profile.maxLoopIterations)
        return kernel.emitError("kernel @")
               << kernel.getName() << " runs up to " << *iterations
               << " loop iterations per invocation; the profile '"
               << profile.name << "' ends a kernel's loops after "
               << profile.maxLoopIterations
               << " in all (max_loop_iterations): a prefill's recurrences "
                  "grow with its tokens (compile with a smaller "
                  "--prefill-chunk), an attention's scan with the context "
                  "(a smaller KV cache)";
    }
    guardEmptyLoops(kernel);
    nonUniformSubgroupReductions(kernel);
    DenseI32ArrayAttr known = kernel.getKnownBlockSizeAttr();
    if (!known)
      return kernel.emitError("kernel @")
             << kernel.getName()
             << ": its workgroup size is not a constant (the loops mapped to "
                "threads need constant bounds)";
    ArrayRef<int32_t> size = known.asArrayRef();
    int64_t invocations = 1;
    for (auto [dim, n] : llvm::enumerate(size)) {
      if (n > profile.maxComputeWorkgroupSize[dim])
        return kernel.emitError("kernel @")
               << kernel.getName() << ": workgroup size " << n << " in "
               << "xyz"[dim] << " exceeds the profile '" << profile.name
               << "' (" << profile.maxComputeWorkgroupSize[dim] << ")";
      invocations *= n;
    }
    if (invocations > profile.maxComputeWorkgroupInvocations)
      return kernel.emitError("kernel @")
             << kernel.getName() << ": " << invocations
             << " invocations per workgroup exceed the profile '"
             << profile.name << "' (" << profile.maxComputeWorkgroupInvocations
             << ")";
    for (BlockArgument arg : kernel.getArguments()) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type || !type.getElementType().isIntOrFloat())
        continue;
      for (StringRef feature : featuresForElement(type.getElementType()))
        if (!profile.hasFeature(feature))
          return kernel.emitError("kernel @")
                 << kernel.getName() << ": a buffer of "
                 << type.getElementType() << " needs the feature " << feature
                 << ", which the profile '" << profile.name << "' lacks";
    }
    // Arithmetic on 8-, 16- and 64-bit values needs the shader features
    // too, whatever the buffers hold (a kernel that loads 32-bit words and
    // unpacks halves from them computes in f16 and i16).
    WalkResult arithmetic = kernel.walk([&](Operation *op) {
      for (Value v : op->getResults()) {
        Type element = getElementTypeOrSelf(v.getType());
        if (!element.isIntOrFloat())
          continue;
        StringRef feature = featureForArithmetic(element);
        if (feature.empty() || profile.hasFeature(feature))
          continue;
        op->emitError("kernel @")
            << kernel.getName() << ": a value of type " << element << " ("
            << op->getName() << ") needs the feature " << feature
            << ", which the profile '" << profile.name << "' lacks";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (arithmetic.wasInterrupted())
      return failure();
    kernel->setAttr(spirv::getEntryPointABIAttrName(),
                    spirv::getEntryPointABIAttr(&getContext(), size));

    // Workgroup memory: memref.alloc/alloca in the GPU workgroup address
    // space become allocations in the SPIR-V Workgroup storage class.
    auto workgroup = spirv::StorageClassAttr::get(
        &getContext(), spirv::StorageClass::Workgroup);
    FailureOr<int64_t> bytes =
        seqc::placeWorkgroupMemory(kernel, [&](Operation *op, MemRefType type) {
          auto newType = MemRefType::get(type.getShape(), type.getElementType(),
                                         type.getLayout(), workgroup);
          OpBuilder b(op);
          Value alloc = memref::AllocOp::create(b, op->getLoc(), newType);
          op->getResult(0).replaceAllUsesWith(alloc);
          op->erase();
        });
    if (failed(bytes))
      return failure();
    if (*bytes > profile.maxComputeSharedMemorySize)
      return kernel.emitError("kernel @")
             << kernel.getName() << " allocates " << *bytes
             << " bytes of workgroup memory; the profile '" << profile.name
             << "' allows " << profile.maxComputeSharedMemorySize;
    return success();
  }

  LogicalResult checkLaunch(gpu::LaunchFuncOp launch) {
    gpu::KernelDim3 gridSize = launch.getGridSizeOperandValues();
    Value grid[] = {gridSize.x, gridSize.y, gridSize.z};
    for (auto [dim, v] : llvm::enumerate(grid)) {
      std::optional<int64_t> n = getConstantIntValue(v);
      if (!n)
        return launch.emitError("the number of workgroups in ")
               << "xyz"[dim]
               << " is not a constant (kernels have static shapes so far)";
      if (*n > profile.maxComputeWorkgroupCount[dim])
        return launch.emitError()
               << *n << " workgroups in " << "xyz"[dim]
               << " exceed the profile '" << profile.name << "' ("
               << profile.maxComputeWorkgroupCount[dim] << ")";
    }
    for (auto [i, arg] : llvm::enumerate(launch.getKernelOperands())) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type)
        return launch.emitError("kernel argument ")
               << i << " is a scalar (" << arg.getType()
               << "); kernels take buffers only (no push constants: a "
                  "schedule is recorded once, so values that change are "
                  "read from buffers): make it a constant of the function "
                  "or pass it in a memref";
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return launch.emitError("kernel argument ")
               << i << " (" << type
               << ") must have a static shape and the identity layout";
      int64_t bytes = seq::gpuBufferBytes(type);
      if (bytes > profile.maxStorageBufferRange)
        return launch.emitError("kernel argument ")
               << i << " has " << bytes
               << " bytes, more than one storage binding of the profile '"
               << profile.name << "' (" << profile.maxStorageBufferRange << ")";
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUFuncOp> kernels;
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](Operation *op) {
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
  seqc::VulkanProfile profile;
};

} // namespace

namespace {
/// What a kernel module and a model share after the GPU mapping: the
/// profile's checks, then SPIR-V.
void buildKernelsToSPIRV(OpPassManager &pm,
                         const seqc::VulkanProfile &profile) {
  // A thread's scratch (a prefill's WKV rows, per token) as its slice of
  // a workgroup array: lavapipe hung compiling kernels with Function
  // variables in small unrolled loops, and workgroup memory is what the
  // products use already. Before the profile's checks, which count it.
  seq::SeqGPUPrivateAllocsPassOptions privateAllocs;
  privateAllocs.memorySpace = "workgroup";
  privateAllocs.maxBytes = profile.maxComputeSharedMemorySize;
  pm.addNestedPass<gpu::GPUModuleOp>(
      seq::createSeqGPUPrivateAllocsPass(privateAllocs));
  pm.addPass(std::make_unique<PrepareKernelsPass>(profile));
  // convert-gpu-to-spirv does not lower math: convert it inside each
  // gpu.module first.
  // GLSL's exp, sin and cos take 32-bit floats at most: the f64 ones
  // (RoPE angles) in f64 arithmetic.
  // Vectors of a head's width (the KV codec) lane by lane.
  pm.addNestedPass<gpu::GPUModuleOp>(seq::createSeqGPUScalarizeVectorsPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(seq::createSeqGPUExpandF64MathPass());
  pm.addNestedPass<gpu::GPUModuleOp>(seq::createSeqGPURoundF16Pass());
  // Subviews in kernels (a KV head's scratch) folded into the indices of
  // their loads and stores: SPIR-V has no strided views.
  pm.addNestedPass<gpu::GPUModuleOp>(memref::createFoldMemRefAliasOpsPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createLowerAffinePass());
  pm.addNestedPass<gpu::GPUModuleOp>(
      std::make_unique<ExpandIndexDivisionPass>());
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertMathToSPIRVPass());
  pm.addPass(createConvertGPUToSPIRVPass(/*mapMemorySpace=*/true));
  OpPassManager &spv = pm.nest<spirv::ModuleOp>();
  spv.addPass(spirv::createSPIRVLowerABIAttributesPass());
  spv.addPass(spirv::createSPIRVUpdateVCEPass());
}
} // namespace

void seqc::buildVulkanPipeline(OpPassManager &pm,
                               const VulkanProfile &profile) {
  pm.addPass(std::make_unique<AttachTargetEnvPass>(profile));
  buildGPUMappingPipeline(pm);
  buildKernelsToSPIRV(pm, profile);
}

void seqc::buildVulkanModelSchedulePipeline(OpPassManager &pm,
                                            const VulkanProfile &profile,
                                            bool subgroups) {
  pm.addPass(std::make_unique<AttachTargetEnvPass>(profile));
  // Subgroup arithmetic where the profile has it; a profile without it
  // gets the reduction in workgroup memory alone (and so do the fallback
  // kernels the target adds for devices that turn out to lack it).
  buildGPUModelLoweringPipeline(pm, profile.maxStorageBufferRange,
                                subgroups &&
                                    profile.hasFeature("subgroup_arithmetic"));
  buildGPUMappingPipeline(pm);
  pm.addPass(seq::createSeqGPUSchedulePass());
}

void seqc::buildVulkanKernelsToSPIRV(OpPassManager &pm,
                                     const VulkanProfile &profile) {
  buildKernelsToSPIRV(pm, profile);
}

void seqc::buildVulkanModelPipeline(OpPassManager &pm,
                                    const VulkanProfile &profile,
                                    bool subgroups) {
  buildVulkanModelSchedulePipeline(pm, profile, subgroups);
  buildKernelsToSPIRV(pm, profile);
}

namespace {
struct VulkanPipelineCLOptions
    : public PassPipelineOptions<VulkanPipelineCLOptions> {
  Option<std::string> profile{
      *this, "profile",
      llvm::cl::desc("Device profile file (default: the checked-in lavapipe "
                     "profile)"),
      llvm::cl::init("")};
};
} // namespace

namespace {
void registerWithProfile(StringRef name, StringRef description,
                         void (*build)(OpPassManager &,
                                       const seqc::VulkanProfile &)) {
  registerPassPipeline(
      name, description,
      [name, build](OpPassManager &pm, StringRef text,
                    function_ref<LogicalResult(const Twine &)> errorHandler) {
        VulkanPipelineCLOptions cl;
        if (failed(cl.parseFromString(text)))
          return failure();
        if (cl.profile.empty()) {
          build(pm, seqc::VulkanProfile::lavapipe());
          return success();
        }
        auto profile = seqc::VulkanProfile::read(cl.profile);
        if (!profile)
          return errorHandler(name + ": " +
                              llvm::toString(profile.takeError()));
        build(pm, *profile);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optHandler) {
        optHandler(VulkanPipelineCLOptions());
      });
}
} // namespace

void seqc::registerVulkanPipeline() {
  registerWithProfile(
      "seq-vulkan-pipeline",
      "Map loops on memrefs to workgroups and threads, outline kernels and "
      "convert them to SPIR-V for a Vulkan device profile",
      buildVulkanPipeline);
  registerWithProfile(
      "seq-vulkan-model-pipeline",
      "Lower a model-level module to SPIR-V kernels for a Vulkan device "
      "profile and each entry to a static schedule of dispatches",
      [](OpPassManager &pm, const VulkanProfile &profile) {
        buildVulkanModelPipeline(pm, profile);
      });
}
