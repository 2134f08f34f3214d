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
// Whole models go through seq-vulkan-model-pipeline: the GPU model
// lowering, the mapping, each entry's host part compiled to a static
// schedule (passes/Codegen/GPU/Schedule.cpp), SPIR-V. serialize() writes
// kernels.bin with the kernels (identical ones once) and one schedule.ENTRY
// line per entry, and model.so, which carries the manifest only (the CPU target
// links it from an empty module): the runtime's core opens model.so for every
// target.
//
//===----------------------------------------------------------------------===//

#include "seqc/Target/VulkanTarget.h"
#include "seqc/Pipelines/GPUPipeline.h"
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

/// What the kernel table says of one SPIR-V module besides its launch.
struct SPIRVKernel {
  SmallVector<uint32_t> words;
  int64_t shared = 0;
  SmallVector<std::string> features;
};

Expected<SPIRVKernel> describeSPIRV(mlir::spirv::ModuleOp spvModule,
                                    const Twine &what) {
  SPIRVKernel k;
  // Workgroup memory and the features the module's capabilities need.
  for (auto global : spvModule.getOps<mlir::spirv::GlobalVariableOp>()) {
    auto ptr = cast<mlir::spirv::PointerType>(global.getType());
    if (ptr.getStorageClass() != mlir::spirv::StorageClass::Workgroup)
      continue;
    k.shared += workgroupBytes(ptr.getPointeeType());
  }
  if (auto vce = spvModule.getVceTriple())
    for (mlir::spirv::Capability cap : vce->getCapabilities()) {
      StringRef feature = seqc::vulkanFeatureForCapability(
          mlir::spirv::stringifyCapability(cap));
      if (!feature.empty() && !is_contained(k.features, feature))
        k.features.push_back(feature.str());
    }
  llvm::sort(k.features);
  if (failed(mlir::spirv::serialize(spvModule, k.words)))
    return createStringError(what + ": SPIR-V serialization failed (see the "
                                    "diagnostics above)");
  return k;
}

std::string kernelEntry(StringRef entry, size_t offset, const SPIRVKernel &k,
                        ArrayRef<int64_t> grid, ArrayRef<int64_t> block,
                        ArrayRef<std::string> bindings) {
  return formatv("entry={0} spirv={1}+{2} grid={3} workgroup={4} shared={5} "
                 "features={6} bindings={7}",
                 entry, offset, k.words.size() * sizeof(uint32_t),
                 seqc::joinInts(grid), seqc::joinInts(block), k.shared,
                 k.features.empty() ? std::string("none")
                                    : join(k.features, ","),
                 join(bindings, ","))
      .str();
}

class VulkanTarget : public seqc::TargetBackend {
public:
  VulkanTarget(seqc::VulkanProfile profile, int64_t prefill,
               std::unique_ptr<seqc::TargetBackend> host)
      : profile(std::move(profile)), prefill(prefill), host(std::move(host)) {}

  StringRef getName() const override { return "vulkan"; }

  ArrayRef<StringRef> getExecutableFiles() const override {
    // model.so first: weights.bin's header checks it (models only; a
    // kernel module's artifact is kernels.bin alone).
    static const StringRef files[] = {"model.so", seqc::artifact::kKernelsFile};
    return files;
  }

  void registerDialects(mlir::DialectRegistry &registry) const override {
    host->registerDialects(registry);
  }

  seqc::TargetDescription describe() const override {
    seqc::TargetDescription d;
    d.target = getName().str();
    d.runtime.add(seqc::artifact::Key::VulkanProfile, profile.name);
    if (prefill)
      d.runtime.add(seqc::artifact::Key::PrefillTokens, Twine(prefill));
    return d;
  }

  int64_t prefillTokens() const override { return prefill; }

  void buildPipeline(mlir::OpPassManager &pm) const override {
    seqc::buildVulkanModelPipeline(pm, profile);
  }
  StringRef getLoweringDescription() const override {
    return "lowering to SPIR-V kernels and a dispatch schedule";
  }

  Error serialize(mlir::ModuleOp module, const seqc::Manifest &manifest,
                  const seqc::ArtifactWriter &artifact,
                  const seqc::ProgressFn &progress) override;

  Error compileKernels(mlir::ModuleOp module,
                       const seqc::ArtifactWriter &artifact,
                       const seqc::ProgressFn &progress) override;

private:
  /// kernels.bin's manifest: the target, profile and SPIR-V version.
  seqc::Manifest kernelTable() const {
    seqc::Manifest table;
    table.add(seqc::artifact::Key::Format,
              Twine(seqc::artifact::kFormatVersion));
    table.add(seqc::artifact::Key::Target, getName());
    return table;
  }
  void addProfile(seqc::Manifest &table) const {
    auto [major, minor] = profile.spirvVersion();
    table.add(seqc::artifact::Key::VulkanProfile, profile.name);
    table.add(seqc::artifact::Key::SpirvVersion,
              Twine(major) + "." + Twine(minor));
  }

  seqc::VulkanProfile profile;
  /// Tokens of one seqc_prefill schedule (0: none).
  int64_t prefill;
  /// Links model.so (the manifest only).
  std::unique_ptr<seqc::TargetBackend> host;
};

} // namespace

Error VulkanTarget::serialize(mlir::ModuleOp module,
                              const seqc::Manifest &manifest,
                              const seqc::ArtifactWriter &artifact,
                              const seqc::ProgressFn &progress) {
  auto schedules = seqc::collectSchedules(
      module, "Vulkan", profile.maxStorageBufferRange,
      "one storage binding of the profile '" + profile.name + "'");
  if (!schedules)
    return schedules.takeError();
  std::string blob;
  auto kernels = seqc::tableModelKernels(
      *schedules,
      [&](seqc::ScheduledDispatch &d, StringRef) -> Expected<std::string> {
        auto spvModule =
            module.lookupSymbol<mlir::spirv::ModuleOp>("__spv__" + d.gpuModule);
        if (!spvModule)
          return createStringError("no SPIR-V module for kernel " +
                                   d.gpuModule);
        if (profile.maxPerStageStorageBuffers &&
            (int64_t)d.bindings.size() > profile.maxPerStageStorageBuffers)
          return createStringError(
              formatv("kernel {0} binds {1} storage buffers; the profile '{2}' "
                      "allows {3} per kernel (max_per_stage_storage_buffers)",
                      d.gpuModule, d.bindings.size(), profile.name,
                      profile.maxPerStageStorageBuffers));
        auto spv = describeSPIRV(spvModule, "kernel " + d.gpuModule);
        if (!spv)
          return spv.takeError();
        size_t offset = blob.size();
        blob.append(reinterpret_cast<const char *>(spv->words.data()),
                    spv->words.size() * sizeof(uint32_t));
        return kernelEntry(d.kernel.getName(), offset, *spv, d.grid, d.block,
                           d.bindings);
      });
  if (!kernels)
    return kernels.takeError();
  seqc::Manifest table = kernelTable();
  table.add(seqc::artifact::Key::Kernels, join(kernels->names, " "));
  addProfile(table);
  kernels->addTo(table);

  progress(formatv("writing {0} ({1} kernels for {2} dispatches, {3} bytes "
                   "of SPIR-V)",
                   seqc::artifact::kKernelsFile, kernels->names.size(),
                   kernels->dispatches, blob.size())
               .str());
  if (Error e = artifact.create())
    return e;
  if (Error e = artifact.writeFile(
          seqc::artifact::kKernelsFile,
          seqc::kernelsFile(seqc::artifact::kKernelsMagic, table, blob)))
    return e;
  // model.so: the manifest, from a module with no code.
  mlir::OwningOpRef<mlir::ModuleOp> empty =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(module.getContext()));
  return host->serialize(*empty, manifest, artifact, progress);
}

Error VulkanTarget::compileKernels(mlir::ModuleOp module,
                                   const seqc::ArtifactWriter &artifact,
                                   const seqc::ProgressFn &progress) {
  if (Error e = seqc::checkKernelModule(module, getName()))
    return e;

  progress("mapping loops to workgroups and converting to SPIR-V (profile " +
           profile.name + ")");
  mlir::PassManager pm(module.getContext());
  seqc::buildVulkanPipeline(pm, profile);
  if (failed(pm.run(module)))
    return createStringError(
        "the Vulkan lowering failed (see the diagnostics above)");

  seqc::Manifest manifest = kernelTable();
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
    auto spv = describeSPIRV(spvModule, "function @" + k.function);
    if (!spv)
      return spv.takeError();
    size_t offset = blob.size();
    blob.append(reinterpret_cast<const char *>(spv->words.data()),
                spv->words.size() * sizeof(uint32_t));
    names.push_back(k.function);
    entries.push_back({seqc::artifact::kKernelKeyPrefix + k.function,
                       kernelEntry(k.kernel.getName(), offset, *spv, k.grid,
                                   k.block, k.bindings)});
  }
  manifest.add(seqc::artifact::Key::Kernels, join(names, " "));
  addProfile(manifest);
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
  // The profile's prefill chunk unless --prefill-chunk names one.
  auto prefillOf = [&](const VulkanProfile &p) {
    return options.gpuPrefillTokens >= 0 ? options.gpuPrefillTokens
                                         : p.prefillTokens;
  };
  auto host = createCPUTarget(options);
  if (!host)
    return host.takeError();
  if (options.vulkan.profile.empty())
    return std::make_unique<VulkanTarget>(VulkanProfile::lavapipe(),
                                          prefillOf(VulkanProfile::lavapipe()),
                                          std::move(*host));
  auto profile = VulkanProfile::read(options.vulkan.profile);
  if (!profile)
    return profile.takeError();
  return std::make_unique<VulkanTarget>(std::move(*profile),
                                        prefillOf(*profile), std::move(*host));
}
