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
// Where the profile has subgroup arithmetic, the products' kernels use it,
// and each of them gets a fallback in the table: the same kernel lowered
// without subgroup operations (the module the pipeline started from, kept
// as bytecode by KeepSourcePass and lowered again in serialize()), which the
// runtime dispatches on a device that lacks them or where
// SEQC_VULKAN_SUBGROUPS=0 says they are broken.
//
//===----------------------------------------------------------------------===//

#include "seqc/Target/VulkanTarget.h"
#include "seqc/Pipelines/GPUPipeline.h"
#include "seqc/Pipelines/VulkanPipeline.h"
#include "seqc/Target/GPUKernels.h"
#include "seqc/Target/Target.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVTypes.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/SPIRV/Serialization.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <memory>
#include <set>

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

/// The device features a SPIR-V module's capabilities need, sorted.
SmallVector<std::string> spirvFeatures(mlir::spirv::ModuleOp spvModule) {
  SmallVector<std::string> features;
  if (auto vce = spvModule.getVceTriple())
    for (mlir::spirv::Capability cap : vce->getCapabilities()) {
      StringRef feature = seqc::vulkanFeatureForCapability(
          mlir::spirv::stringifyCapability(cap));
      if (!feature.empty() && !is_contained(features, feature))
        features.push_back(feature.str());
    }
  llvm::sort(features);
  return features;
}

bool needsSubgroups(ArrayRef<std::string> features) {
  return llvm::any_of(features,
                      [](StringRef f) { return f.starts_with("subgroup_"); });
}

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
  k.features = spirvFeatures(spvModule);
  if (failed(mlir::spirv::serialize(spvModule, k.words)))
    return createStringError(what + ": SPIR-V serialization failed (see the "
                                    "diagnostics above)");
  return k;
}

/// Appends `k`'s module to the code after the manifest; its offset there.
size_t appendSPIRV(std::string &blob, const SPIRVKernel &k) {
  size_t offset = blob.size();
  blob.append(reinterpret_cast<const char *>(k.words.data()),
              k.words.size() * sizeof(uint32_t));
  return offset;
}

/// A kernel table's feature list: "F,..." or "none".
std::string featureField(ArrayRef<std::string> features) {
  return features.empty() ? std::string("none") : join(features, ",");
}

std::string kernelEntry(StringRef entry, size_t offset, const SPIRVKernel &k,
                        ArrayRef<int64_t> grid, ArrayRef<int64_t> block,
                        ArrayRef<std::string> bindings) {
  return formatv("entry={0} spirv={1}+{2} grid={3} workgroup={4} shared={5} "
                 "features={6} bindings={7}",
                 entry, offset, k.words.size() * sizeof(uint32_t),
                 seqc::joinInts(grid), seqc::joinInts(block), k.shared,
                 featureField(k.features), join(bindings, ","))
      .str();
}

/// Keeps the module as the target's pipeline receives it, as bytecode, for
/// the fallback kernels' second lowering (bytecode, not a clone: the
/// target outlives the context).
struct KeepSourcePass
    : public mlir::PassWrapper<KeepSourcePass,
                               mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(KeepSourcePass)
  explicit KeepSourcePass(std::shared_ptr<std::string> into)
      : into(std::move(into)) {}
  StringRef getArgument() const override { return "seq-vulkan-keep-source"; }
  void runOnOperation() override {
    into->clear();
    raw_string_ostream os(*into);
    if (failed(mlir::writeBytecodeToFile(getOperation(), os))) {
      getOperation().emitError("could not keep the module for the fallback "
                               "kernels' lowering");
      signalPassFailure();
    }
  }
  std::shared_ptr<std::string> into;
};

/// The kernel table fields of `fallback`, the workgroup-memory twin of
/// `main` (dispatched with the same grid, workgroup size and bindings).
Expected<std::string> fallbackFields(const seqc::ScheduledDispatch &main,
                                     const seqc::ScheduledDispatch &fallback,
                                     mlir::ModuleOp fallbackModule,
                                     const SPIRVKernel &mainSpv,
                                     std::string &blob) {
  std::string what = "kernel " + main.gpuModule + "'s fallback";
  if (main.grid != fallback.grid || main.block != fallback.block ||
      main.bindings != fallback.bindings)
    return createStringError(what + " (" + fallback.gpuModule +
                             ") is launched differently");
  auto spvModule = fallbackModule.lookupSymbol<mlir::spirv::ModuleOp>(
      "__spv__" + fallback.gpuModule);
  if (!spvModule)
    return createStringError("no SPIR-V module for " + what);
  auto spv = describeSPIRV(spvModule, what);
  if (!spv)
    return spv.takeError();
  if (spv->shared != mainSpv.shared)
    return createStringError(
        formatv("{0} has {1} bytes of workgroup memory, the kernel {2}", what,
                spv->shared, mainSpv.shared));
  if (needsSubgroups(spv->features))
    return createStringError(what + " still needs subgroup operations");
  size_t offset = appendSPIRV(blob, *spv);
  return formatv(" fallback_spirv={0}+{1} fallback_features={2}", offset,
                 spv->words.size() * sizeof(uint32_t),
                 featureField(spv->features))
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
    if (hasFallbacks())
      pm.addPass(std::make_unique<KeepSourcePass>(source));
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

  /// Whether the products' kernels use subgroup operations, and so get
  /// fallbacks.
  bool hasFallbacks() const {
    return profile.hasFeature("subgroup_arithmetic");
  }
  /// The fallback kernels: the module the pipeline started from, lowered
  /// without subgroup operations, and its schedules; only the kernels of
  /// the dispatches `needed` (entry -> dispatch indices) are converted to
  /// SPIR-V (the others are identical to the main lowering's).
  Error lowerFallbacks(mlir::MLIRContext *ctx,
                       const std::map<std::string, std::set<size_t>> &needed,
                       mlir::OwningOpRef<mlir::ModuleOp> &module,
                       std::vector<seqc::EntrySchedule> &schedules) const;

  seqc::VulkanProfile profile;
  /// The module KeepSourcePass kept (bytecode).
  std::shared_ptr<std::string> source = std::make_shared<std::string>();
  /// Tokens of one seqc_prefill schedule (0: none).
  int64_t prefill;
  /// Links model.so (the manifest only).
  std::unique_ptr<seqc::TargetBackend> host;
};

} // namespace

Error VulkanTarget::lowerFallbacks(
    mlir::MLIRContext *ctx,
    const std::map<std::string, std::set<size_t>> &needed,
    mlir::OwningOpRef<mlir::ModuleOp> &module,
    std::vector<seqc::EntrySchedule> &schedules) const {
  if (source->empty())
    return createStringError("the module for the fallback kernels was not "
                             "kept (KeepSourcePass did not run)");
  module = mlir::parseSourceString<mlir::ModuleOp>(
      *source, mlir::ParserConfig(ctx), "fallback kernels' source");
  source->clear();
  if (!module)
    return createStringError("could not read back the module for the "
                             "fallback kernels");
  auto failedTo = [](StringRef what) {
    return createStringError("lowering the fallback kernels failed " + what +
                             " (see the diagnostics above)");
  };
  mlir::PassManager schedule(ctx);
  seqc::buildVulkanModelSchedulePipeline(schedule, profile,
                                         /*subgroups=*/false);
  if (failed(schedule.run(*module)))
    return failedTo("before the schedules");
  auto collected = seqc::collectSchedules(
      *module, "Vulkan", profile.maxStorageBufferRange,
      "one storage binding of the profile '" + profile.name + "'");
  if (!collected)
    return collected.takeError();
  schedules = std::move(*collected);
  // Only the needed kernels on to SPIR-V: the schedules are read, so the
  // entries go, and every other gpu.module.
  std::set<std::string> keep;
  for (const seqc::EntrySchedule &entry : schedules) {
    auto it = needed.find(entry.name);
    if (it == needed.end())
      continue;
    for (size_t i : it->second)
      if (i < entry.dispatches.size())
        keep.insert(entry.dispatches[i].gpuModule);
  }
  for (auto func :
       llvm::make_early_inc_range(module->getOps<mlir::func::FuncOp>()))
    func.erase();
  for (auto gpuModule :
       llvm::make_early_inc_range(module->getOps<mlir::gpu::GPUModuleOp>()))
    if (!keep.count(gpuModule.getName().str()))
      gpuModule.erase();
  for (seqc::EntrySchedule &entry : schedules)
    for (seqc::ScheduledDispatch &d : entry.dispatches)
      d.kernel = nullptr; // erased, or converted below
  mlir::PassManager spirv(ctx);
  seqc::buildVulkanKernelsToSPIRV(spirv, profile);
  if (failed(spirv.run(*module)))
    return failedTo("in the conversion to SPIR-V");
  return Error::success();
}

Error VulkanTarget::serialize(mlir::ModuleOp module,
                              const seqc::Manifest &manifest,
                              const seqc::ArtifactWriter &artifact,
                              const seqc::ProgressFn &progress) {
  auto schedules = seqc::collectSchedules(
      module, "Vulkan", profile.maxStorageBufferRange,
      "one storage binding of the profile '" + profile.name + "'");
  if (!schedules)
    return schedules.takeError();
  // Each dispatch's twin in the fallback lowering, by position.
  mlir::OwningOpRef<mlir::ModuleOp> fallbackModule;
  std::vector<seqc::EntrySchedule> fallbackSchedules;
  std::map<std::string, const seqc::ScheduledDispatch *> twin;
  // The dispatches whose kernels need subgroup operations (each distinct
  // kernel's features read once).
  std::map<std::string, std::set<size_t>> needed;
  std::map<std::string, bool> subgroupKernel;
  if (hasFallbacks())
    for (const seqc::EntrySchedule &entry : *schedules)
      for (auto [i, d] : llvm::enumerate(entry.dispatches)) {
        auto [it, inserted] = subgroupKernel.try_emplace(d.gpuModule, false);
        if (inserted)
          if (auto spv = module.lookupSymbol<mlir::spirv::ModuleOp>(
                  "__spv__" + d.gpuModule))
            it->second = needsSubgroups(spirvFeatures(spv));
        if (it->second)
          needed[entry.name].insert(i);
      }
  if (!needed.empty()) {
    progress("lowering the products again without subgroup operations (the "
             "fallback kernels)");
    if (Error e = lowerFallbacks(module.getContext(), needed, fallbackModule,
                                 fallbackSchedules))
      return e;
    for (const seqc::EntrySchedule &entry : *schedules) {
      auto other = llvm::find_if(fallbackSchedules,
                                 [&](auto &s) { return s.name == entry.name; });
      if (other == fallbackSchedules.end() ||
          other->dispatches.size() != entry.dispatches.size())
        return createStringError("the fallback kernels' lowering scheduled "
                                 "entry " +
                                 entry.name + " differently");
      for (size_t i : needed[entry.name])
        twin.try_emplace(entry.dispatches[i].gpuModule, &other->dispatches[i]);
    }
  }
  std::string blob;
  size_t fallbacks = 0;
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
        size_t offset = appendSPIRV(blob, *spv);
        std::string fields = kernelEntry(d.kernel.getName(), offset, *spv,
                                         d.grid, d.block, d.bindings);
        auto twinOf = twin.find(d.gpuModule);
        if (twinOf == twin.end())
          return fields;
        auto fallback =
            fallbackFields(d, *twinOf->second, *fallbackModule, *spv, blob);
        if (!fallback)
          return fallback.takeError();
        ++fallbacks;
        return fields + *fallback;
      });
  if (!kernels)
    return kernels.takeError();
  seqc::Manifest table = kernelTable();
  table.add(seqc::artifact::Key::Kernels, join(kernels->names, " "));
  addProfile(table);
  kernels->addTo(table);

  progress(formatv("writing {0} ({1} kernels for {2} dispatches{3}, {4} "
                   "bytes of SPIR-V)",
                   seqc::artifact::kKernelsFile, kernels->names.size(),
                   kernels->dispatches,
                   fallbacks ? formatv(", {0} with a fallback without "
                                       "subgroup operations",
                                       fallbacks)
                                   .str()
                             : std::string(),
                   blob.size())
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
    size_t offset = appendSPIRV(blob, *spv);
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
