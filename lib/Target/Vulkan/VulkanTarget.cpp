//===- VulkanTarget.cpp - the Vulkan (SPIR-V) target ----------------------===//
//
// seq-vulkan-pipeline leaves, beside each host function, the gpu.launch_func
// of its kernel and the kernel's spirv.module. This target serializes each
// spirv.module (spirv::serialize) and writes kernels.bin: the manifest with
// one table entry per kernel (entry point, dispatch grid, workgroup size,
// workgroup memory, the device features its capabilities need, bindings),
// then the SPIR-V modules (seqc/artifact.h describes the layout). What the
// CUDA target does alike (the launches, the bindings, the file's layout) is
// in GPUKernels.cpp.
//
// Whole models are not compiled for Vulkan yet: they need the
// target-neutral lowering of seq ops to loops on memrefs that the GPU
// mapping starts from.
//
//===----------------------------------------------------------------------===//

#include "seqc/Target/VulkanTarget.h"
#include "seqc/Pipelines/VulkanPipeline.h"
#include "seqc/Target/GPUKernels.h"
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

private:
  seqc::VulkanProfile profile;
};

} // namespace

Error VulkanTarget::compileKernels(mlir::ModuleOp module,
                                   const seqc::ArtifactWriter &artifact,
                                   const seqc::ProgressFn &progress) {
  if (Error e = seqc::checkKernelModule(module, getName()))
    return e;

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

  auto launches = seqc::collectKernelLaunches(module);
  if (!launches)
    return launches.takeError();
  for (seqc::KernelLaunch &k : *launches) {
    StringRef gpuModuleName = k.gpuModule.getName();
    auto spvModule = module.lookupSymbol<mlir::spirv::ModuleOp>(
        ("__spv__" + gpuModuleName).str());
    if (!spvModule)
      return createStringError("function @" + k.function +
                               ": no SPIR-V module for its kernel");

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
      return createStringError("function @" + k.function +
                               ": SPIR-V serialization failed (see the "
                               "diagnostics above)");
    size_t offset = blob.size();
    blob.append(reinterpret_cast<const char *>(words.data()),
                words.size() * sizeof(uint32_t));

    names.push_back(k.function);
    entries.push_back(
        {seqc::artifact::kKernelKeyPrefix + k.function,
         formatv("entry={0} spirv={1}+{2} grid={3} workgroup={4} shared={5} "
                 "features={6} bindings={7}",
                 k.kernel.getName(), offset, words.size() * sizeof(uint32_t),
                 seqc::joinInts(k.grid), seqc::joinInts(k.block), shared,
                 features.empty() ? std::string("none") : join(features, ","),
                 join(k.bindings, ","))
             .str()});
  }
  manifest.add(seqc::artifact::Key::Kernels, join(names, " "));
  manifest.add(seqc::artifact::Key::VulkanProfile, profile.name);
  manifest.add(seqc::artifact::Key::SpirvVersion,
               Twine(major) + "." + Twine(minor));
  for (auto &[key, value] : entries)
    manifest.add(StringRef(key), value);

  std::string file =
      seqc::kernelsFile(seqc::artifact::kKernelsMagic, manifest, blob);
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
