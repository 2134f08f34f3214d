//===- CUDATarget.cpp - the CUDA (NVVM, PTX, cubin) target ----------------===//
//
// A kernel module goes through the GPU mapping shared with the Vulkan
// target and seq-cuda-prepare-kernels; the kernel table is read there
// (GPUKernels.cpp: grid, block, bindings and how each kernel uses them),
// while the gpu.func ops still exist. The kernels are then lowered to NVVM
// and each gpu.module is serialized twice by gpu-module-to-binary, with the
// toolkit (so libdevice is linked): as PTX (format=isa) and as a cubin for
// the architecture (format=bin, ptxas). kernels.bin holds the manifest and
// both (seqc/artifact.h); no PTX may still call a libdevice function.
//
// A whole model goes through the GPU model lowering shared with the Vulkan
// target, the mapping and seq-gpu-schedule; serialize() reads the
// schedules and each kernel's name and shared memory, lowers and
// serializes the kernels as above, keeps identical ones once, and writes
// kernels.bin with one schedule.ENTRY line per entry, and model.so (the
// manifest only, linked by the CPU target from an empty module).
//
//===----------------------------------------------------------------------===//

#include "seqc/Target/CUDATarget.h"
#include "seqc/Pipelines/CUDAPipeline.h"
#include "seqc/Pipelines/GPUPipeline.h"
#include "seqc/Support/CUDAArch.h"
#include "seqc/Target/GPUKernels.h"
#include "seqc/Target/Target.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <limits>
#include <map>

using namespace llvm;

namespace {

/// What the kernel table records of one kernel, read before the NVVM
/// conversion replaces its gpu.func.
struct KernelEntry {
  std::string function, kernel, gpuModule;
  SmallVector<int64_t, 3> grid, block;
  int64_t shared = 0;
  SmallVector<std::string> bindings;
};

class CUDATarget : public seqc::TargetBackend {
public:
  CUDATarget(std::string arch, std::string toolkit, int64_t prefill,
             std::unique_ptr<seqc::TargetBackend> host)
      : arch(std::move(arch)), toolkit(std::move(toolkit)), prefill(prefill),
        host(std::move(host)) {}

  StringRef getName() const override { return "cuda"; }

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
    d.runtime.add(seqc::artifact::Key::CudaArch, arch);
    if (prefill)
      d.runtime.add(seqc::artifact::Key::PrefillTokens, Twine(prefill));
    return d;
  }

  int64_t prefillTokens() const override { return prefill; }

  /// Models: to outlined kernels and schedules; serialize() lowers the
  /// kernels to NVVM, PTX and cubin after reading what the table needs.
  void buildPipeline(mlir::OpPassManager &pm) const override {
    seqc::buildCUDAModelKernelPipeline(pm);
  }
  StringRef getLoweringDescription() const override {
    return "lowering to GPU kernels and a dispatch schedule";
  }

  Error serialize(mlir::ModuleOp module, const seqc::Manifest &manifest,
                  const seqc::ArtifactWriter &artifact,
                  const seqc::ProgressFn &progress) override;

  Error compileKernels(mlir::ModuleOp module,
                       const seqc::ArtifactWriter &artifact,
                       const seqc::ProgressFn &progress) override;

private:
  seqc::CUDAPipelineOptions options(StringRef format) const {
    seqc::CUDAPipelineOptions o;
    o.chip = arch;
    o.toolkit = toolkit;
    o.format = format.str();
    return o;
  }

  /// Serializes every gpu.module of a copy of `module` in `format`: the
  /// bytes per gpu.module name.
  Expected<std::map<std::string, std::string>>
  serializeModules(mlir::ModuleOp module, StringRef format) const;

  /// The PTX and cubin of every gpu.module, lowered from outlined kernels:
  /// the kernel modules' lowering after the mapping.
  Error lowerAndSerialize(mlir::ModuleOp module,
                          std::map<std::string, std::string> &ptx,
                          std::map<std::string, std::string> &cubin,
                          const seqc::ProgressFn &progress) const;
  /// What is wrong with a kernel's PTX (a libdevice call left unresolved),
  /// or an empty string.
  std::string checkPTX(StringRef what, StringRef ptx) const;

  std::string arch, toolkit;
  /// Tokens of one seqc_prefill schedule (0: none).
  int64_t prefill;
  /// Links model.so (the manifest only).
  std::unique_ptr<seqc::TargetBackend> host;
};

/// Bytes of a kernel's workgroup memory (after seq-cuda-prepare-kernels
/// made it workgroup attributions).
int64_t sharedBytes(mlir::gpu::GPUFuncOp kernel) {
  int64_t bytes = 0;
  for (mlir::BlockArgument a : kernel.getWorkgroupAttributions())
    bytes += seqc::workgroupMemoryBytes(cast<mlir::MemRefType>(a.getType()));
  return bytes;
}

/// "O+N" of `bytes` appended to `blob` at a multiple of 16.
std::string appendCode(std::string &blob, const std::string &bytes) {
  blob.resize(alignTo(blob.size(), 16), '\0');
  size_t offset = blob.size();
  blob += bytes;
  return formatv("{0}+{1}", offset, bytes.size()).str();
}

} // namespace

Error CUDATarget::lowerAndSerialize(mlir::ModuleOp module,
                                    std::map<std::string, std::string> &ptx,
                                    std::map<std::string, std::string> &cubin,
                                    const seqc::ProgressFn &progress) const {
  mlir::PassManager lowering(module.getContext());
  seqc::buildCUDALoweringPipeline(lowering, options(""));
  if (failed(lowering.run(module)))
    return createStringError(
        "the CUDA lowering failed (see the diagnostics above)");
  progress("PTX and cubin (" + arch + ") with " + toolkit + "/bin/ptxas");
  auto p = serializeModules(module, "isa");
  if (!p)
    return p.takeError();
  auto c = serializeModules(module, "bin");
  if (!c)
    return c.takeError();
  ptx = std::move(*p);
  cubin = std::move(*c);
  return Error::success();
}

std::string CUDATarget::checkPTX(StringRef what, StringRef ptx) const {
  // libdevice is linked from the toolkit: a call left unresolved would
  // fail at load time on the GPU, so it is refused here.
  size_t at = ptx.find(".extern .func __nv_");
  if (at == StringRef::npos)
    return "";
  StringRef rest = ptx.substr(at + 14);
  return (what + ": the PTX still calls " +
          rest.take_until([](char ch) { return ch == '(' || ch == ' '; }) +
          " (libdevice was not linked: " + toolkit +
          "/nvvm/libdevice/libdevice.10.bc)")
      .str();
}

Error CUDATarget::serialize(mlir::ModuleOp module,
                            const seqc::Manifest &manifest,
                            const seqc::ArtifactWriter &artifact,
                            const seqc::ProgressFn &progress) {
  // A CUDA kernel parameter is a pointer: no binding limit but the
  // device's memory.
  auto schedules = seqc::collectSchedules(
      module, "CUDA", std::numeric_limits<int64_t>::max(), "");
  if (!schedules)
    return schedules.takeError();
  // What the table needs of each kernel, before the NVVM conversion
  // replaces the gpu.func ops.
  std::map<std::string, std::pair<std::string, int64_t>> kernelInfo;
  for (seqc::EntrySchedule &entry : *schedules)
    for (seqc::ScheduledDispatch &d : entry.dispatches)
      kernelInfo[d.gpuModule] = {d.kernel.getName().str(),
                                 sharedBytes(d.kernel)};
  std::map<std::string, std::string> ptx, cubin;
  if (Error e = lowerAndSerialize(module, ptx, cubin, progress))
    return e;

  std::string blob;
  size_t ptxBytes = 0, cubinBytes = 0;
  auto kernels = seqc::tableModelKernels(
      *schedules,
      [&](seqc::ScheduledDispatch &d, StringRef) -> Expected<std::string> {
        auto p = ptx.find(d.gpuModule), c = cubin.find(d.gpuModule);
        if (p == ptx.end() || c == cubin.end() || p->second.empty() ||
            c->second.empty())
          return createStringError("no PTX or cubin for kernel " + d.gpuModule);
        std::string bad = checkPTX("kernel " + d.gpuModule, p->second);
        if (!bad.empty())
          return createStringError(bad);
        auto &[kernelName, shared] = kernelInfo.at(d.gpuModule);
        std::string cubinRange = appendCode(blob, c->second);
        std::string ptxRange = appendCode(blob, p->second);
        cubinBytes += c->second.size();
        ptxBytes += p->second.size();
        return formatv("entry={0} cubin={1} ptx={2} grid={3} workgroup={4} "
                       "shared={5} bindings={6}",
                       kernelName, cubinRange, ptxRange, seqc::joinInts(d.grid),
                       seqc::joinInts(d.block), shared, join(d.bindings, ","))
            .str();
      });
  if (!kernels)
    return kernels.takeError();
  seqc::Manifest table;
  table.add(seqc::artifact::Key::Format, Twine(seqc::artifact::kFormatVersion));
  table.add(seqc::artifact::Key::Target, getName());
  table.add(seqc::artifact::Key::Kernels, join(kernels->names, " "));
  table.add(seqc::artifact::Key::CudaArch, arch);
  kernels->addTo(table);
  progress(formatv("writing {0} ({1} kernels for {2} dispatches, {3} bytes "
                   "of cubin, {4} bytes of PTX)",
                   seqc::artifact::kKernelsFile, kernels->names.size(),
                   kernels->dispatches, cubinBytes, ptxBytes)
               .str());
  if (Error e = artifact.create())
    return e;
  if (Error e = artifact.writeFile(
          seqc::artifact::kKernelsFile,
          seqc::kernelsFile(seqc::artifact::kCudaKernelsMagic, table, blob)))
    return e;
  // model.so: the manifest, from a module with no code.
  mlir::OwningOpRef<mlir::ModuleOp> empty =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(module.getContext()));
  return host->serialize(*empty, manifest, artifact, progress);
}

Expected<std::map<std::string, std::string>>
CUDATarget::serializeModules(mlir::ModuleOp module, StringRef format) const {
  mlir::OwningOpRef<mlir::ModuleOp> copy = module.clone();
  mlir::PassManager pm(module.getContext());
  mlir::GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = toolkit;
  binary.compilationTarget = format.str();
  pm.addPass(mlir::createGpuModuleToBinaryPass(binary));
  if (failed(pm.run(*copy)))
    return createStringError(
        formatv("serializing the kernels as {0} for {1} failed (see the "
                "diagnostics above; the toolkit: {2})",
                format == "isa" ? "PTX" : "cubin", arch, toolkit));
  std::map<std::string, std::string> out;
  for (auto binaryOp : copy->getOps<mlir::gpu::BinaryOp>()) {
    auto objects = binaryOp.getObjects();
    if (objects.size() != 1)
      return createStringError("gpu.binary @" + binaryOp.getName() +
                               ": expected one object");
    auto object = cast<mlir::gpu::ObjectAttr>(objects[0]);
    std::string bytes = object.getObject().getValue().str();
    while (format == "isa" && !bytes.empty() && bytes.back() == '\0')
      bytes.pop_back();
    out[binaryOp.getName().str()] = std::move(bytes);
  }
  return out;
}

Error CUDATarget::compileKernels(mlir::ModuleOp module,
                                 const seqc::ArtifactWriter &artifact,
                                 const seqc::ProgressFn &progress) {
  if (Error e = seqc::checkKernelModule(module, getName()))
    return e;

  progress("mapping loops to blocks and threads, lowering to NVVM (" + arch +
           ")");
  mlir::PassManager kernels(module.getContext());
  seqc::buildCUDAKernelPipeline(kernels);
  if (failed(kernels.run(module)))
    return createStringError(
        "the CUDA lowering failed (see the diagnostics above)");
  auto launches = seqc::collectKernelLaunches(module);
  if (!launches)
    return launches.takeError();
  SmallVector<KernelEntry> entries;
  for (seqc::KernelLaunch &l : *launches) {
    KernelEntry e;
    e.function = l.function;
    e.kernel = l.kernel.getName().str();
    e.gpuModule = l.gpuModule.getName().str();
    e.grid = l.grid;
    e.block = l.block;
    e.bindings = l.bindings;
    e.shared = sharedBytes(l.kernel);
    entries.push_back(std::move(e));
  }

  std::map<std::string, std::string> ptx, cubin;
  if (Error e = lowerAndSerialize(module, ptx, cubin, progress))
    return e;

  seqc::Manifest manifest;
  manifest.add(seqc::artifact::Key::Format,
               Twine(seqc::artifact::kFormatVersion));
  manifest.add(seqc::artifact::Key::Target, getName());
  SmallVector<std::string> names;
  SmallVector<std::pair<std::string, std::string>> table;
  std::string blob;
  size_t ptxBytes = 0, cubinBytes = 0;
  for (KernelEntry &e : entries) {
    auto p = ptx.find(e.gpuModule), c = cubin.find(e.gpuModule);
    if (p == ptx.end() || c == cubin.end() || p->second.empty() ||
        c->second.empty())
      return createStringError("function @" + e.function +
                               ": no PTX or cubin for its kernel");
    std::string bad = checkPTX("function @" + e.function, p->second);
    if (!bad.empty())
      return createStringError(bad);
    std::string cubinRange = appendCode(blob, c->second);
    std::string ptxRange = appendCode(blob, p->second);
    cubinBytes += c->second.size();
    ptxBytes += p->second.size();
    names.push_back(e.function);
    table.push_back(
        {seqc::artifact::kKernelKeyPrefix + e.function,
         formatv("entry={0} cubin={1} ptx={2} grid={3} workgroup={4} "
                 "shared={5} bindings={6}",
                 e.kernel, cubinRange, ptxRange, seqc::joinInts(e.grid),
                 seqc::joinInts(e.block), e.shared, join(e.bindings, ","))
             .str()});
  }
  manifest.add(seqc::artifact::Key::Kernels, join(names, " "));
  manifest.add(seqc::artifact::Key::CudaArch, arch);
  for (auto &[key, value] : table)
    manifest.add(StringRef(key), value);

  std::string file =
      seqc::kernelsFile(seqc::artifact::kCudaKernelsMagic, manifest, blob);
  progress(formatv("writing {0} ({1} kernels, {2} bytes of cubin, {3} bytes "
                   "of PTX)",
                   seqc::artifact::kKernelsFile, names.size(), cubinBytes,
                   ptxBytes)
               .str());
  if (Error e = artifact.create())
    return e;
  if (Error e = artifact.writeFile(seqc::artifact::kKernelsFile, file))
    return e;
  return artifact.writeManifest(manifest);
}

Error seqc::checkCUDAArch(StringRef arch) {
  static const int versions[] = {75, 80,  86,  87,  88,  89,
                                 90, 100, 103, 110, 120, 121};
  std::optional<CUDAArch> a = parseCUDAArch(arch);
  bool ok = a && is_contained(versions, static_cast<int>(a->version));
  if (ok && !a->suffix.empty())
    ok = (a->suffix == "a" && a->version >= 90) ||
         (a->suffix == "f" && a->version >= 100);
  if (ok)
    return Error::success();
  return createStringError(
      "--cuda-arch=" + arch +
      ": not an architecture CUDA 13 compiles for (sm_75, sm_80, sm_86, "
      "sm_87, sm_88, sm_89, sm_90, sm_100, sm_103, sm_110, sm_120, sm_121; "
      "'a' variants from sm_90, 'f' from sm_100)");
}

Expected<std::string> seqc::findCUDAToolkit(StringRef toolkit) {
  std::string dir = toolkit.str();
  if (dir.empty()) {
    const char *home = std::getenv("CUDA_HOME");
    dir = home && *home ? home : "/usr/local/cuda";
  }
  for (StringRef file : {"bin/ptxas", "nvvm/libdevice/libdevice.10.bc"}) {
    SmallString<256> path(dir);
    sys::path::append(path, file);
    if (!sys::fs::exists(path))
      return createStringError(
          "the CUDA toolkit is not at " + dir + " (no " + file +
          "): the cuda target needs ptxas and libdevice; install the CUDA "
          "toolkit or give --cuda-toolkit=DIR (or set CUDA_HOME)");
  }
  return dir;
}

Expected<std::unique_ptr<seqc::TargetBackend>>
seqc::createCUDATarget(const TargetOptions &options) {
  if (Error e = checkCUDAArch(options.cuda.arch))
    return std::move(e);
  auto toolkit = findCUDAToolkit(options.cuda.toolkit);
  if (!toolkit)
    return toolkit.takeError();
  auto host = createCPUTarget(options);
  if (!host)
    return host.takeError();
  return std::make_unique<CUDATarget>(
      options.cuda.arch, *toolkit,
      options.gpuPrefillTokens >= 0 ? options.gpuPrefillTokens : 16,
      std::move(*host));
}
