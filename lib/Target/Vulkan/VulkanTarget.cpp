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
// schedule (GPUSchedule.cpp), SPIR-V. serialize() writes kernels.bin with
// the kernels (identical ones once) and one schedule.ENTRY line per entry,
// and model.so, which carries the manifest only (the CPU target links it
// from an empty module): the runtime's core opens model.so for every
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
#include "llvm/ADT/StringMap.h"
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

/// The buffers a model entry takes, in order (the importers' entry ABI
/// with the weights first, as seq-cpu-abi makes it).
std::optional<SmallVector<StringRef>> entryBuffers(mlir::func::FuncOp func) {
  unsigned n = func.getNumArguments();
  if (func.getName() == "seqc_init_state" && n == 1)
    return SmallVector<StringRef>{"state"};
  if (func.getName() == "seqc_step" && (n == 3 || n == 4)) {
    SmallVector<StringRef> names;
    if (n == 4)
      names.push_back("weights");
    names.append({"tokens", "state", "logits"});
    return names;
  }
  return std::nullopt;
}

class VulkanTarget : public seqc::TargetBackend {
public:
  VulkanTarget(seqc::VulkanProfile profile,
               std::unique_ptr<seqc::TargetBackend> host)
      : profile(std::move(profile)), host(std::move(host)) {}

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
    return d;
  }

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
  /// Links model.so (the manifest only).
  std::unique_ptr<seqc::TargetBackend> host;
};

} // namespace

Error VulkanTarget::serialize(mlir::ModuleOp module,
                              const seqc::Manifest &manifest,
                              const seqc::ArtifactWriter &artifact,
                              const seqc::ProgressFn &progress) {
  seqc::Manifest table = kernelTable();
  SmallVector<std::string> names;
  SmallVector<std::pair<std::string, std::string>> entries, schedules;
  std::string blob;
  // Identical kernels (the same code, sizes and bindings: a layer's
  // kernels and the next layer's) are kept once.
  StringMap<std::string> known;
  size_t dispatches = 0;
  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    auto list = func->getAttrOfType<mlir::ArrayAttr>(seqc::kScheduleAttr);
    auto scratch = func->getAttrOfType<mlir::IntegerAttr>(seqc::kScratchAttr);
    if (!list || !scratch)
      continue;
    auto buffers = entryBuffers(func);
    if (!buffers)
      return createStringError("entry @" + func.getName() +
                               " is not one the Vulkan runtime runs");
    std::string line =
        formatv("args={0} scratch={1}", join(*buffers, ","), scratch.getInt())
            .str();
    for (mlir::Attribute a : list) {
      auto d = cast<mlir::DictionaryAttr>(a);
      auto ref = cast<mlir::SymbolRefAttr>(d.get("kernel"));
      ArrayRef<int64_t> grid =
          cast<mlir::DenseI64ArrayAttr>(d.get("grid")).asArrayRef();
      ArrayRef<int64_t> block =
          cast<mlir::DenseI64ArrayAttr>(d.get("block")).asArrayRef();
      ArrayRef<int64_t> bindings =
          cast<mlir::DenseI64ArrayAttr>(d.get("bindings")).asArrayRef();
      StringRef root = ref.getRootReference().getValue();
      auto gpuModule = module.lookupSymbol<mlir::gpu::GPUModuleOp>(root);
      auto spvModule =
          module.lookupSymbol<mlir::spirv::ModuleOp>(("__spv__" + root).str());
      mlir::gpu::GPUFuncOp kernel =
          gpuModule ? gpuModule.lookupSymbol<mlir::gpu::GPUFuncOp>(
                          ref.getLeafReference())
                    : nullptr;
      if (!kernel || !spvModule ||
          bindings.size() != 3 * kernel.getNumArguments())
        return createStringError("entry @" + func.getName() + ": kernel " +
                                 root + " is missing after the lowering");
      auto spv = describeSPIRV(spvModule, "kernel " + root);
      if (!spv)
        return spv.takeError();
      SmallVector<std::string> tableBindings, dispatchBindings;
      for (unsigned i = 0; i < kernel.getNumArguments(); ++i) {
        int64_t buffer = bindings[3 * i], offset = bindings[3 * i + 1],
                bytes = bindings[3 * i + 2];
        auto type = cast<mlir::MemRefType>(kernel.getArgument(i).getType());
        int64_t element = (type.getElementTypeBitWidth() + 7) / 8;
        if (bytes > (int64_t)profile.maxStorageBufferRange)
          return createStringError(formatv(
              "entry @{0}: kernel {1} binds {2} bytes, more than one storage "
              "binding of the profile '{3}' ({4})",
              func.getName(), root, bytes, profile.name,
              profile.maxStorageBufferRange));
        std::string binding =
            seqc::describeBinding(kernel.getArgument(i), bytes / element, i);
        if (binding.empty() || bytes % element)
          return createStringError("entry @" + func.getName() + ": kernel " +
                                   root +
                                   " binds elements of a type the "
                                   "runtime does not bind");
        tableBindings.push_back(binding);
        StringRef name = buffer == seqc::kScratch ? StringRef("scratch")
                         : buffer >= 0 && buffer < (int64_t)buffers->size()
                             ? (*buffers)[buffer]
                             : StringRef();
        if (name.empty())
          return createStringError("entry @" + func.getName() +
                                   ": a binding of a buffer it does not take");
        dispatchBindings.push_back(
            formatv("{0}@{1}+{2}", name, offset, bytes).str());
      }
      std::string key(reinterpret_cast<const char *>(spv->words.data()),
                      spv->words.size() * sizeof(uint32_t));
      key += seqc::joinInts(grid) + "/" + seqc::joinInts(block) + "/" +
             join(tableBindings, ",");
      auto [it, inserted] =
          known.try_emplace(key, "k" + std::to_string(names.size()));
      if (inserted) {
        size_t offset = blob.size();
        blob.append(reinterpret_cast<const char *>(spv->words.data()),
                    spv->words.size() * sizeof(uint32_t));
        names.push_back(it->second);
        entries.push_back({seqc::artifact::kKernelKeyPrefix + it->second,
                           kernelEntry(kernel.getName(), offset, *spv, grid,
                                       block, tableBindings)});
      }
      line +=
          formatv(" dispatch={0}:{1}", it->second, join(dispatchBindings, ","))
              .str();
      ++dispatches;
    }
    schedules.push_back(
        {std::string(seqc::artifact::kScheduleKeyPrefix) + func.getName().str(),
         line});
  }
  if (schedules.empty())
    return createStringError("the Vulkan lowering left no entry schedule");
  table.add(seqc::artifact::Key::Kernels, join(names, " "));
  addProfile(table);
  for (auto &[key, value] : entries)
    table.add(StringRef(key), value);
  for (auto &[key, value] : schedules)
    table.add(StringRef(key), value);

  progress(formatv("writing {0} ({1} kernels for {2} dispatches, {3} bytes "
                   "of SPIR-V)",
                   seqc::artifact::kKernelsFile, names.size(), dispatches,
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
  auto host = createCPUTarget(options);
  if (!host)
    return host.takeError();
  if (options.vulkan.profile.empty())
    return std::make_unique<VulkanTarget>(VulkanProfile::lavapipe(),
                                          std::move(*host));
  auto profile = VulkanProfile::read(options.vulkan.profile);
  if (!profile)
    return profile.takeError();
  return std::make_unique<VulkanTarget>(std::move(*profile), std::move(*host));
}
