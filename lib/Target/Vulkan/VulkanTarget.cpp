//===- VulkanTarget.cpp - the Vulkan (SPIR-V) target ----------------------===//
//
// seq-vulkan-pipeline leaves, beside each host function, the gpu.launch_func
// of its kernel and the kernel's spirv.module. This target serializes each
// spirv.module (spirv::serialize) and writes kernels.bin: the manifest with
// one table entry per kernel (entry point, dispatch grid, workgroup size,
// workgroup memory, the device features its capabilities need, bindings),
// then the SPIR-V modules (seqc/artifact.h describes the layout).
//
// Whole models are not compiled for Vulkan yet: they need the
// target-neutral lowering of seq ops to loops on memrefs that the GPU
// mapping starts from.
//
//===----------------------------------------------------------------------===//

#include "seqc/Target/VulkanTarget.h"
#include "seqc/Pipelines/VulkanPipeline.h"
#include "seqc/Target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVTypes.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/SPIRV/Serialization.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace {

/// The manifest's name of a binding's element type.
std::string elementName(mlir::Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isF64())
    return "f64";
  if (type.isInteger())
    return "i" + std::to_string(type.getIntOrFloatBitWidth());
  return "";
}

/// "r", "w" or "rw": how the kernel uses its argument.
std::string accessOf(mlir::BlockArgument arg) {
  bool read = false, written = false;
  for (mlir::Operation *user : arg.getUsers()) {
    auto effects = dyn_cast<mlir::MemoryEffectOpInterface>(user);
    if (!effects) {
      // Unknown use (a view, a call): assume both.
      read = written = true;
      continue;
    }
    SmallVector<mlir::MemoryEffects::EffectInstance> list;
    effects.getEffectsOnValue(arg, list);
    for (auto &e : list) {
      read |= isa<mlir::MemoryEffects::Read>(e.getEffect());
      written |= isa<mlir::MemoryEffects::Write>(e.getEffect());
    }
    // Views (subview, cast) of the argument report no effect on it.
    if (list.empty() && user->getNumResults())
      read = written = true;
  }
  return written ? (read ? "rw" : "w") : "r";
}

/// Bytes of a SPIR-V type held in workgroup memory (scalars, vectors,
/// arrays and structs of them).
int64_t workgroupBytes(mlir::Type type) {
  if (auto s = dyn_cast<mlir::spirv::StructType>(type)) {
    int64_t bytes = 0;
    for (mlir::Type member : s.getElementTypes())
      bytes += workgroupBytes(member);
    return bytes;
  }
  if (auto a = dyn_cast<mlir::spirv::ArrayType>(type))
    return a.getNumElements() * workgroupBytes(a.getElementType());
  if (auto v = dyn_cast<mlir::VectorType>(type))
    return v.getNumElements() * workgroupBytes(v.getElementType());
  if (type.isIntOrFloat())
    return (type.getIntOrFloatBitWidth() + 7) / 8;
  return 0;
}

std::string joinInts(ArrayRef<int64_t> v) {
  return join(map_range(v, [](int64_t x) { return std::to_string(x); }), ",");
}

class VulkanTarget : public seqc::TargetBackend {
public:
  explicit VulkanTarget(seqc::VulkanProfile profile)
      : profile(std::move(profile)) {}

  StringRef getName() const override { return "vulkan"; }

  ArrayRef<StringRef> getExecutableFiles() const override {
    static const StringRef files[] = {seqc::artifact::kKernelsFile};
    return files;
  }

  seqc::TargetDescription describe() const override {
    seqc::TargetDescription d;
    d.target = getName().str();
    d.runtime.add(seqc::artifact::Key::VulkanProfile, profile.name);
    return d;
  }

  void buildPipeline(mlir::OpPassManager &pm) const override {
    seqc::buildVulkanPipeline(pm, profile);
  }

  bool compilesModels() const override { return false; }

  Error compileKernels(mlir::ModuleOp module,
                       const seqc::ArtifactWriter &artifact,
                       const seqc::ProgressFn &progress) override;

  Error serialize(mlir::ModuleOp, const seqc::Manifest &,
                  const seqc::ArtifactWriter &,
                  const seqc::ProgressFn &) override {
    return createStringError("the vulkan target compiles kernel modules "
                             "only; whole models need the target-neutral "
                             "lowering of seq ops, which is not there yet");
  }

private:
  seqc::VulkanProfile profile;
};

} // namespace

Error VulkanTarget::compileKernels(mlir::ModuleOp module,
                                   const seqc::ArtifactWriter &artifact,
                                   const seqc::ProgressFn &progress) {
  // Seq ops are the model level: the GPU mapping starts from loops.
  mlir::Operation *seqOp = nullptr;
  module.walk([&](mlir::Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "seq") {
      seqOp = op;
      return mlir::WalkResult::interrupt();
    }
    return mlir::WalkResult::advance();
  });
  if (seqOp) {
    std::string loc;
    raw_string_ostream os(loc);
    if (auto fileLoc = dyn_cast<mlir::FileLineColLoc>(seqOp->getLoc()))
      os << fileLoc.getFilename().getValue() << ":" << fileLoc.getLine() << ":"
         << fileLoc.getColumn();
    else
      seqOp->getLoc().print(os);
    return createStringError(
        loc + ": '" + seqOp->getName().getStringRef() +
        "': the vulkan target compiles kernels written as loops on memrefs; "
        "seq ops (whole models) need the target-neutral lowering, which is "
        "not there yet");
  }
  if (module->hasAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName()))
    return createStringError("the kernel module already holds GPU kernels; "
                             "give functions of loops on memrefs");

  progress("mapping loops to workgroups and converting to SPIR-V (profile " +
           profile.name + ")");
  mlir::PassManager pm(module.getContext());
  buildPipeline(pm);
  if (failed(pm.run(module)))
    return createStringError(
        "the Vulkan lowering failed (see the diagnostics above)");

  seqc::Manifest manifest;
  manifest.add(seqc::artifact::Key::Format,
               Twine(seqc::artifact::kFormatVersion));
  manifest.add(seqc::artifact::Key::Target, getName());
  auto [major, minor] = profile.spirvVersion();
  SmallVector<std::string> names;
  SmallVector<std::pair<std::string, std::string>> entries;
  std::string blob;

  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    if (func.isExternal())
      continue;
    SmallVector<mlir::gpu::LaunchFuncOp> launches;
    func.walk([&](mlir::gpu::LaunchFuncOp l) { launches.push_back(l); });
    if (launches.size() != 1)
      return createStringError(
          formatv("function @{0}: {1} kernels; each function of a kernel "
                  "module must map to exactly one (its outermost parallel "
                  "loop nest)",
                  func.getName(), launches.size()));
    mlir::gpu::LaunchFuncOp launch = launches.front();
    StringRef gpuModuleName = launch.getKernelModuleName();
    StringRef kernelName = launch.getKernelName();
    auto gpuModule = module.lookupSymbol<mlir::gpu::GPUModuleOp>(gpuModuleName);
    auto spvModule = module.lookupSymbol<mlir::spirv::ModuleOp>(
        ("__spv__" + gpuModuleName).str());
    if (!gpuModule || !spvModule)
      return createStringError("function @" + func.getName() +
                               ": no SPIR-V module for its kernel");
    auto kernel = gpuModule.lookupSymbol<mlir::gpu::GPUFuncOp>(kernelName);
    if (!kernel)
      return createStringError("function @" + func.getName() +
                               ": its kernel @" + kernelName +
                               " is missing after the lowering");

    SmallVector<int64_t> grid, workgroup;
    mlir::gpu::KernelDim3 g = launch.getGridSizeOperandValues(),
                          w = launch.getBlockSizeOperandValues();
    for (mlir::Value v : {g.x, g.y, g.z})
      grid.push_back(mlir::getConstantIntValue(v).value_or(0));
    for (mlir::Value v : {w.x, w.y, w.z})
      workgroup.push_back(mlir::getConstantIntValue(v).value_or(0));
    if (is_contained(grid, 0) || is_contained(workgroup, 0))
      return createStringError("function @" + func.getName() +
                               ": the launch's sizes are not constants");

    // Bindings: convert-gpu-to-spirv binds argument i at (0, i).
    SmallVector<std::string> bindings;
    // Outlining orders a kernel's arguments by first use: each binding
    // records the function argument it is.
    for (auto [i, arg] : enumerate(launch.getKernelOperands())) {
      auto type = cast<mlir::MemRefType>(arg.getType());
      auto blockArg = dyn_cast<mlir::BlockArgument>(arg);
      if (!blockArg || blockArg.getOwner() != &func.getBody().front())
        return createStringError(
            formatv("function @{0}: the kernel uses a buffer that is not an "
                    "argument of the function (allocate buffers outside)",
                    func.getName()));
      std::string element = elementName(type.getElementType());
      if (element.empty())
        return createStringError(
            formatv("function @{0}: argument {1} has elements of a type "
                    "the runtime does not bind",
                    func.getName(), i));
      bindings.push_back(
          formatv("{0}:{1}:{2}:{3}", element, type.getNumElements(),
                  accessOf(kernel.getArgument(i)), blockArg.getArgNumber())
              .str());
    }

    // Workgroup memory and the features the module's capabilities need.
    int64_t shared = 0;
    for (auto global : spvModule.getOps<mlir::spirv::GlobalVariableOp>()) {
      auto ptr = cast<mlir::spirv::PointerType>(global.getType());
      if (ptr.getStorageClass() != mlir::spirv::StorageClass::Workgroup)
        continue;
      shared += workgroupBytes(ptr.getPointeeType());
    }
    SmallVector<std::string> features;
    if (auto vce = spvModule.getVceTriple())
      for (mlir::spirv::Capability cap : vce->getCapabilities()) {
        StringRef feature = seqc::vulkanFeatureForCapability(
            mlir::spirv::stringifyCapability(cap));
        if (!feature.empty() && !is_contained(features, feature))
          features.push_back(feature.str());
      }
    llvm::sort(features);

    SmallVector<uint32_t> words;
    if (failed(mlir::spirv::serialize(spvModule, words)))
      return createStringError("function @" + func.getName() +
                               ": SPIR-V serialization failed (see the "
                               "diagnostics above)");
    size_t offset = blob.size();
    blob.append(reinterpret_cast<const char *>(words.data()),
                words.size() * sizeof(uint32_t));

    names.push_back(func.getName().str());
    entries.push_back(
        {seqc::artifact::kKernelKeyPrefix + func.getName().str(),
         formatv("entry={0} spirv={1}+{2} grid={3} workgroup={4} shared={5} "
                 "features={6} bindings={7}",
                 kernelName, offset, words.size() * sizeof(uint32_t),
                 joinInts(grid), joinInts(workgroup), shared,
                 features.empty() ? std::string("none") : join(features, ","),
                 join(bindings, ","))
             .str()});
  }
  if (names.empty())
    return createStringError("the kernel module has no functions");

  manifest.add(seqc::artifact::Key::Kernels, join(names, " "));
  manifest.add(seqc::artifact::Key::VulkanProfile, profile.name);
  manifest.add(seqc::artifact::Key::SpirvVersion,
               Twine(major) + "." + Twine(minor));
  for (auto &[key, value] : entries)
    manifest.add(StringRef(key), value);

  std::string text = manifest.text();
  std::string file =
      formatv("{0} {1}\n", seqc::artifact::kKernelsMagic, text.size()).str();
  file += text;
  file.resize(alignTo(file.size(), 16), '\0');
  file += blob;
  progress(formatv("writing {0} ({1} kernels, {2} bytes of SPIR-V)",
                   seqc::artifact::kKernelsFile, names.size(), blob.size())
               .str());
  if (Error e = artifact.create())
    return e;
  if (Error e = artifact.writeFile(seqc::artifact::kKernelsFile, file))
    return e;
  return artifact.writeManifest(manifest);
}

Expected<std::unique_ptr<seqc::TargetBackend>>
seqc::createVulkanTarget(const TargetOptions &options) {
  if (options.vulkan.profile.empty())
    return std::make_unique<VulkanTarget>(VulkanProfile::lavapipe());
  auto profile = VulkanProfile::read(options.vulkan.profile);
  if (!profile)
    return profile.takeError();
  return std::make_unique<VulkanTarget>(std::move(*profile));
}
