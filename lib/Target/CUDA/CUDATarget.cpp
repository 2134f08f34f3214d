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
// Whole models are not compiled for CUDA yet: they need the target-neutral
// lowering of seq ops to loops on memrefs that the GPU mapping starts from.
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
  CUDATarget(std::string arch, std::string toolkit)
      : arch(std::move(arch)), toolkit(std::move(toolkit)) {}

  StringRef getName() const override { return "cuda"; }

  ArrayRef<StringRef> getExecutableFiles() const override {
    static const StringRef files[] = {seqc::artifact::kKernelsFile};
    return files;
  }

  seqc::TargetDescription describe() const override {
    seqc::TargetDescription d;
    d.target = getName().str();
    d.runtime.add(seqc::artifact::Key::CudaArch, arch);
    return d;
  }

  void buildPipeline(mlir::OpPassManager &pm) const override {
    seqc::buildCUDAPipeline(pm, options(""));
  }

  bool compilesModels() const override { return false; }

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

  std::string arch, toolkit;
};

} // namespace

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
    for (mlir::BlockArgument a : l.kernel.getWorkgroupAttributions()) {
      e.shared +=
          seqc::workgroupMemoryBytes(cast<mlir::MemRefType>(a.getType()));
    }
    entries.push_back(std::move(e));
  }

  mlir::PassManager lowering(module.getContext());
  seqc::buildCUDALoweringPipeline(lowering, options(""));
  if (failed(lowering.run(module)))
    return createStringError(
        "the CUDA lowering failed (see the diagnostics above)");

  progress("PTX and cubin (" + arch + ") with " + toolkit + "/bin/ptxas");
  auto ptx = serializeModules(module, "isa");
  if (!ptx)
    return ptx.takeError();
  auto cubin = serializeModules(module, "bin");
  if (!cubin)
    return cubin.takeError();

  seqc::Manifest manifest;
  manifest.add(seqc::artifact::Key::Format,
               Twine(seqc::artifact::kFormatVersion));
  manifest.add(seqc::artifact::Key::Target, getName());
  SmallVector<std::string> names;
  SmallVector<std::pair<std::string, std::string>> table;
  std::string blob;
  auto append = [&](const std::string &bytes) {
    blob.resize(alignTo(blob.size(), 16), '\0');
    size_t offset = blob.size();
    blob += bytes;
    return formatv("{0}+{1}", offset, bytes.size()).str();
  };
  size_t ptxBytes = 0, cubinBytes = 0;
  for (KernelEntry &e : entries) {
    auto p = ptx->find(e.gpuModule), c = cubin->find(e.gpuModule);
    if (p == ptx->end() || c == cubin->end() || p->second.empty() ||
        c->second.empty())
      return createStringError("function @" + e.function +
                               ": no PTX or cubin for its kernel");
    // libdevice is linked from the toolkit: a call left unresolved would
    // fail at load time on the GPU, so it is refused here.
    size_t at = p->second.find(".extern .func __nv_");
    if (at != std::string::npos) {
      StringRef rest = StringRef(p->second).substr(at + 14);
      return createStringError(
          "function @" + e.function + ": the PTX still calls " +
          rest.take_until([](char ch) { return ch == '(' || ch == ' '; }) +
          " (libdevice was not linked: " + toolkit +
          "/nvvm/libdevice/libdevice.10.bc)");
    }
    std::string cubinRange = append(c->second);
    std::string ptxRange = append(p->second);
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
  return std::make_unique<CUDATarget>(options.cuda.arch, *toolkit);
}
