//===- cuda_kernels.cpp - running an artifact's CUDA kernels --------------===//

#include "drivers/cuda/cuda_kernels.h"
#include "drivers/cuda/cuda_api.h"

#include "seqc/artifact.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

using namespace seqc::cuda;

//===----------------------------------------------------------------------===//
// The driver library
//===----------------------------------------------------------------------===//

const Api *seqc::cuda::openDriver(std::string &error) {
  static Api api;
  static std::string openError;
  static bool opened = false;
  if (opened) {
    error = openError;
    return openError.empty() ? &api : nullptr;
  }
  opened = true;
  const char *override = std::getenv("SEQC_CUDA_LIBRARY");
  std::string name = override && *override ? override : "libcuda.so.1";
  void *lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    openError = "no CUDA driver: " + name + " cannot be loaded (" +
                (why ? why : "unknown error") +
                "); the NVIDIA driver is not installed on this machine";
    error = openError;
    return nullptr;
  }
  Dl_info dl;
  void *any = dlsym(lib, "cuInit");
  api.path = any && dladdr(any, &dl) && dl.dli_fname ? dl.dli_fname : name;
#define SEQC_CUDA_FN(SYMBOL, NAME, PARAMS)                                     \
  api.NAME = reinterpret_cast<decltype(api.NAME)>(dlsym(lib, #SYMBOL));        \
  if (!api.NAME && openError.empty())                                          \
    openError = "no CUDA driver: " + api.path +                                \
                " lacks " #SYMBOL                                              \
                " (a driver older than seqc's CUDA driver needs)";
#include "drivers/cuda/cuda_api.def"
#undef SEQC_CUDA_FN
  error = openError;
  return openError.empty() ? &api : nullptr;
}

std::string seqc::cuda::errorText(const Api &api, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  api.cuGetErrorName(result, &name);
  api.cuGetErrorString(result, &text);
  return std::string(name ? name : ("CUresult " + std::to_string(result))) +
         (text ? std::string(": ") + text : std::string());
}

namespace {

/// The first device and its primary context, made current.
struct Device {
  const Api *api = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  DeviceInfo info;

  bool open(std::string &error) {
    api = openDriver(error);
    if (!api)
      return false;
    CUresult r = api->cuInit(0);
    if (r == CUDA_ERROR_STUB_LIBRARY) {
      error = "no CUDA driver: " + api->path +
              " is the CUDA toolkit's stub library, not the NVIDIA driver "
              "(the driver is not installed on this machine)";
      return false;
    }
    if (r == CUDA_ERROR_NO_DEVICE) {
      error = "no CUDA device: the driver (" + api->path + ") reports none (" +
              errorText(*api, r) + ")";
      return false;
    }
    if (r != CUDA_SUCCESS) {
      error = "no CUDA device: cuInit failed: " + errorText(*api, r);
      return false;
    }
    int count = 0;
    if (api->cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
      error = "no CUDA device: the driver (" + api->path + ") reports none";
      return false;
    }
    if (!check(api->cuDeviceGet(&device, 0), "cuDeviceGet", error) ||
        !check(api->cuDevicePrimaryCtxRetain(&context, device),
               "cuDevicePrimaryCtxRetain", error) ||
        !check(api->cuCtxSetCurrent(context), "cuCtxSetCurrent", error))
      return false;
    char name[256] = {0};
    api->cuDeviceGetName(name, sizeof(name) - 1, device);
    info.name = name;
    info.driverPath = api->path;
    api->cuDriverGetVersion(&info.driverVersion);
    info.major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    info.minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    api->cuDeviceTotalMem(&info.memoryBytes, device);
    return true;
  }

  int attribute(int which) const {
    int v = 0;
    if (api->cuDeviceGetAttribute(&v, which, device) != CUDA_SUCCESS)
      return 0;
    return v;
  }

  bool check(CUresult r, const char *what, std::string &error) const {
    if (r == CUDA_SUCCESS)
      return true;
    error = std::string(what) + " failed: " + errorText(*api, r);
    return false;
  }

  ~Device() {
    if (context)
      api->cuDevicePrimaryCtxRelease(device);
  }
};

} // namespace

bool seqc::cuda::probe(DeviceInfo &info, std::string &error) {
  Device d;
  if (!d.open(error))
    return false;
  info = d.info;
  return true;
}

//===----------------------------------------------------------------------===//
// The artifact
//===----------------------------------------------------------------------===//

const seqc::gpu::ArtifactFormat &seqc::cuda::artifactFormat() {
  return gpu::cudaFormat();
}

bool seqc::cuda::loadArtifact(const std::string &dir, KernelArtifact &out,
                              std::string &error) {
  return KernelArtifact::load(dir, artifactFormat(), out, error);
}

//===----------------------------------------------------------------------===//
// The runner
//===----------------------------------------------------------------------===//

struct Runner::Impl {
  Device device;
  const KernelArtifact *artifact = nullptr;
  CUstream stream = nullptr;
  struct Prepared {
    const Kernel *kernel = nullptr;
    CUmodule module = nullptr;
    CUfunction function = nullptr;
    std::string loaded; // cubin or ptx
    std::vector<CUdeviceptr> buffers;
  };
  std::map<std::string, Prepared> kernels;
  /// Model artifacts: the device buffers the schedules name, and per entry
  /// its launches (each kernel argument a device address) and, once run,
  /// their CUDA graph.
  struct Buffer {
    CUdeviceptr ptr = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string, Buffer> modelBuffers;
  struct Launch {
    Prepared *kernel = nullptr;
    std::vector<CUdeviceptr> params;
  };
  std::map<std::string, std::vector<Launch>> entries;
  std::map<std::string, CUgraphExec> graphs;

  bool checkKernel(const Kernel &k, std::string &error) const {
    std::string kp = "kernel " + k.name + " needs ";
    std::string on = " (the device " + device.info.name + " allows ";
    int threads = device.attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    uint64_t n = uint64_t(k.workgroup[0]) * k.workgroup[1] * k.workgroup[2];
    if (n > uint64_t(threads)) {
      error = kp + std::to_string(n) + " threads per block" + on +
              std::to_string(threads) + ")";
      return false;
    }
    for (int i = 0; i < 3; ++i) {
      int block = device.attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X + i);
      int grid = device.attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X + i);
      if (k.workgroup[i] > uint32_t(block)) {
        error = kp + "a block of " + std::to_string(k.workgroup[i]) + " in " +
                "xyz"[i] + on + std::to_string(block) + ")";
        return false;
      }
      if (k.grid[i] > uint32_t(grid)) {
        error = kp + std::to_string(k.grid[i]) + " blocks in " + "xyz"[i] + on +
                std::to_string(grid) + ")";
        return false;
      }
    }
    int shared =
        device.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    if (k.shared > uint64_t(shared)) {
      error = kp + std::to_string(k.shared) + " bytes of shared memory" + on +
              std::to_string(shared) + ")";
      return false;
    }
    return true;
  }

  bool loadModule(const Kernel &k, Prepared &p, std::string &error) {
    const Api &api = *device.api;
    // The cubin first; the driver refuses it on another architecture (or
    // from a newer toolkit than it knows), then the PTX is JIT-compiled.
    std::string cubin = artifact->codeOf(k, "cubin");
    // SEQC_CUDA_LOAD=ptx skips the cubins (the tests run the JIT path so).
    const char *load = std::getenv("SEQC_CUDA_LOAD");
    bool ptxOnly = load && std::strcmp(load, "ptx") == 0;
    CUresult r = ptxOnly ? CUresult(CUDA_ERROR_NO_BINARY_FOR_GPU)
                         : api.cuModuleLoadDataEx(&p.module, cubin.data(), 0,
                                                  nullptr, nullptr);
    if (r == CUDA_SUCCESS) {
      p.loaded = "cubin";
    } else {
      std::string cubinError = errorText(api, r);
      std::string ptx = artifact->codeOf(k, "ptx"); // NUL-terminated copy
      std::vector<char> log(8192, '\0');
      int options[] = {CU_JIT_ERROR_LOG_BUFFER,
                       CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
      void *values[] = {log.data(),
                        reinterpret_cast<void *>(uintptr_t(log.size() - 1))};
      r = api.cuModuleLoadDataEx(&p.module, ptx.c_str(), 2, options, values);
      if (r != CUDA_SUCCESS) {
        error =
            "kernel " + k.name + ": the device " + device.info.name + " (sm_" +
            std::to_string(device.info.major) +
            std::to_string(device.info.minor) + ") loads neither its cubin (" +
            artifact->manifest.at(artifact::keyName(artifact::Key::CudaArch)) +
            ": " + cubinError + ") nor its PTX (" + errorText(api, r) +
            (log[0] ? std::string("; ") + log.data() : std::string()) + ")";
        return false;
      }
      p.loaded = "ptx";
    }
    r = api.cuModuleGetFunction(&p.function, p.module, k.entry.c_str());
    if (r != CUDA_SUCCESS) {
      error = "kernel " + k.name + ": no function " + k.entry +
              " in its module (" + errorText(api, r) + ")";
      return false;
    }
    // A model's kernels take the model's buffers (prepareModel).
    if (!artifact->schedules.empty())
      return true;
    for (const Binding &b : k.bindings) {
      CUdeviceptr ptr = 0;
      if (!device.check(api.cuMemAlloc(&ptr, b.bytes()), "cuMemAlloc", error))
        return false;
      p.buffers.push_back(ptr);
      if (!device.check(api.cuMemsetD8(ptr, 0, b.bytes()), "cuMemsetD8", error))
        return false;
    }
    return true;
  }

  bool launchOnce(Prepared &p, std::string &error) {
    return launchWith(p, p.buffers, error);
  }

  /// Captures what `launches` launches on the stream as a CUDA graph,
  /// instantiated into `exec`.
  bool capture(const std::function<bool()> &launches, CUgraphExec &exec,
               std::string &error) {
    const Api &api = *device.api;
    CUgraph captured = nullptr;
    if (!device.check(
            api.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
            "cuStreamBeginCapture", error))
      return false;
    bool recorded = launches();
    // The capture is ended either way; a failed launch's message wins.
    std::string endError;
    bool ended = device.check(api.cuStreamEndCapture(stream, &captured),
                              "cuStreamEndCapture", endError);
    if (recorded && !ended)
      error = endError;
    bool made = recorded && ended &&
                device.check(api.cuGraphInstantiate(&exec, captured, 0),
                             "cuGraphInstantiate", error);
    if (captured)
      api.cuGraphDestroy(captured);
    return made;
  }

  bool launchWith(Prepared &p, std::vector<CUdeviceptr> &buffers,
                  std::string &error) {
    const Kernel &k = *p.kernel;
    std::vector<void *> params;
    for (CUdeviceptr &ptr : buffers)
      params.push_back(&ptr);
    // Static shared memory only: it is in the module, not a launch size.
    return device.check(device.api->cuLaunchKernel(
                            p.function, k.grid[0], k.grid[1], k.grid[2],
                            k.workgroup[0], k.workgroup[1], k.workgroup[2], 0,
                            stream, params.data(), nullptr),
                        ("cuLaunchKernel(" + k.name + ")").c_str(), error);
  }

  ~Impl() {
    if (!device.api)
      return;
    for (auto &[name, exec] : graphs)
      device.api->cuGraphExecDestroy(exec);
    for (auto &[name, b] : modelBuffers)
      device.api->cuMemFree(b.ptr);
    for (auto &[name, p] : kernels) {
      for (CUdeviceptr ptr : p.buffers)
        device.api->cuMemFree(ptr);
      if (p.module)
        device.api->cuModuleUnload(p.module);
    }
    if (stream)
      device.api->cuStreamDestroy(stream);
  }
};

Runner::Runner(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Runner::~Runner() = default;

std::unique_ptr<Runner> Runner::create(const KernelArtifact &artifact,
                                       std::string &error) {
  auto impl = std::make_unique<Impl>();
  impl->artifact = &artifact;
  if (!impl->device.open(error))
    return nullptr;
  for (const Kernel &k : artifact.kernels)
    if (!impl->checkKernel(k, error))
      return nullptr;
  if (!impl->device.check(impl->device.api->cuStreamCreate(&impl->stream, 0),
                          "cuStreamCreate", error))
    return nullptr;
  for (const Kernel &k : artifact.kernels) {
    Impl::Prepared &p = impl->kernels[k.name];
    p.kernel = &k;
    if (!impl->loadModule(k, p, error))
      return nullptr;
  }
  return std::unique_ptr<Runner>(new Runner(std::move(impl)));
}

const DeviceInfo &Runner::device() const { return impl->device.info; }

std::string Runner::loadedCode(const std::string &kernel) const {
  auto it = impl->kernels.find(kernel);
  return it == impl->kernels.end() ? std::string() : it->second.loaded;
}

bool Runner::launch(const std::string &kernel,
                    const std::map<unsigned, std::string> &inputs,
                    const std::vector<unsigned> &readBack,
                    std::map<unsigned, std::string> &results,
                    std::string &error) {
  if (!impl->artifact->schedules.empty()) {
    error = impl->artifact->dir +
            " is a model: its kernels take the model's buffers; run it with "
            "seqc-run";
    return false;
  }
  auto it = impl->kernels.find(kernel);
  if (it == impl->kernels.end()) {
    error = "no kernel named '" + kernel + "'";
    return false;
  }
  Impl::Prepared &p = it->second;
  const Api &api = *impl->device.api;
  for (auto &[binding, bytes] : inputs) {
    if (binding >= p.kernel->bindings.size()) {
      error = "kernel " + kernel + " has " +
              std::to_string(p.kernel->bindings.size()) +
              " bindings; there is no " + std::to_string(binding);
      return false;
    }
    const Binding &b = p.kernel->bindings[binding];
    if (bytes.size() != b.bytes()) {
      error = "kernel " + kernel + ", argument " + std::to_string(b.arg) +
              ": expected " + std::to_string(b.bytes()) + " bytes (" + b.type +
              " x " + std::to_string(b.count) + "), got " +
              std::to_string(bytes.size());
      return false;
    }
    if (!impl->device.check(
            api.cuMemcpyHtoD(p.buffers[binding], bytes.data(), bytes.size()),
            "cuMemcpyHtoD", error))
      return false;
  }
  if (!impl->launchOnce(p, error) ||
      !impl->device.check(api.cuStreamSynchronize(impl->stream),
                          ("the kernel " + kernel).c_str(), error))
    return false;
  for (unsigned binding : readBack) {
    if (binding >= p.buffers.size())
      continue;
    std::string &out = results[binding];
    out.resize(p.kernel->bindings[binding].bytes());
    if (!impl->device.check(
            api.cuMemcpyDtoH(&out[0], p.buffers[binding], out.size()),
            "cuMemcpyDtoH", error))
      return false;
  }
  return true;
}

bool Runner::prepareModel(const std::map<std::string, uint64_t> &bytes,
                          std::string &error) {
  const KernelArtifact &artifact = *impl->artifact;
  if (artifact.schedules.empty()) {
    error = artifact.dir + ": a kernel artifact, not a model";
    return false;
  }
  const Api &api = *impl->device.api;
  std::map<std::string, uint64_t> sizes = bytes;
  uint64_t scratch = 0;
  for (auto &[name, schedule] : artifact.schedules)
    scratch = std::max(scratch, schedule.scratch);
  sizes["scratch"] = scratch;
  for (auto &[name, n] : sizes) {
    Impl::Buffer &b = impl->modelBuffers[name];
    b.bytes = n;
    // cuMemAlloc of 0 bytes fails; an unused buffer gets 256.
    if (!impl->device.check(api.cuMemAlloc(&b.ptr, std::max<uint64_t>(n, 256)),
                            ("cuMemAlloc(" + name + ")").c_str(), error) ||
        !impl->device.check(
            api.cuMemsetD8(b.ptr, 0, std::max<uint64_t>(n, 256)), "cuMemsetD8",
            error))
      return false;
  }
  for (auto &[name, schedule] : artifact.schedules) {
    std::vector<Impl::Launch> &launches = impl->entries[name];
    for (size_t i = 0; i < schedule.dispatches.size(); ++i) {
      const gpu::Dispatch &d = schedule.dispatches[i];
      Impl::Launch launch;
      launch.kernel = &impl->kernels.at(artifact.kernels[d.kernel].name);
      for (size_t b = 0; b < d.bindings.size(); ++b) {
        const gpu::Dispatch::Ref &ref = d.bindings[b];
        const std::string &buffer = ref.buffer == gpu::Schedule::kScratch
                                        ? std::string("scratch")
                                        : schedule.args[ref.buffer];
        auto it = impl->modelBuffers.find(buffer);
        if (it == impl->modelBuffers.end()) {
          error = "entry " + name + " takes a buffer '" + buffer +
                  "' the runtime does not have";
          return false;
        }
        if (ref.offset > it->second.bytes ||
            ref.bytes > it->second.bytes - ref.offset) {
          error = "entry " + name + ", dispatch " + std::to_string(i) +
                  ": binding " + std::to_string(b) + " (" +
                  std::to_string(ref.bytes) + " bytes at " +
                  std::to_string(ref.offset) + ") lies outside its buffer '" +
                  buffer + "' of " + std::to_string(it->second.bytes) +
                  " bytes";
          return false;
        }
        launch.params.push_back(it->second.ptr + ref.offset);
      }
      launches.push_back(std::move(launch));
    }
  }
  return true;
}

bool Runner::copyToModel(const std::string &buffer, const void *data,
                         size_t bytes, std::string &error) {
  Impl::Buffer *b =
      gpu::findModelBuffer(impl->modelBuffers, buffer, bytes, error);
  return b &&
         impl->device.check(impl->device.api->cuMemcpyHtoD(b->ptr, data, bytes),
                            "cuMemcpyHtoD", error);
}

bool Runner::copyFromModel(const std::string &buffer, void *data, size_t bytes,
                           std::string &error) {
  Impl::Buffer *b =
      gpu::findModelBuffer(impl->modelBuffers, buffer, bytes, error);
  return b &&
         impl->device.check(impl->device.api->cuMemcpyDtoH(data, b->ptr, bytes),
                            "cuMemcpyDtoH", error);
}

bool Runner::runEntry(const std::string &entry, std::string &error) {
  auto it = impl->entries.find(entry);
  if (it == impl->entries.end()) {
    error = impl->artifact->dir + " has no entry " + entry;
    return false;
  }
  const Api &api = *impl->device.api;
  auto launchAll = [&]() {
    for (Impl::Launch &l : it->second)
      if (!impl->launchWith(*l.kernel, l.params, error))
        return false;
    return true;
  };
  // The entry's launches are captured once as a CUDA graph and replayed
  // (SEQC_CUDA_GRAPH=0: launched one by one).
  const char *graphs = std::getenv("SEQC_CUDA_GRAPH");
  bool useGraph = !(graphs && std::strcmp(graphs, "0") == 0);
  if (useGraph && !impl->graphs.count(entry)) {
    CUgraphExec exec = nullptr;
    if (!impl->capture(launchAll, exec, error))
      return false;
    impl->graphs[entry] = exec;
  }
  bool ok = useGraph
                ? impl->device.check(
                      api.cuGraphLaunch(impl->graphs.at(entry), impl->stream),
                      "cuGraphLaunch", error)
                : launchAll();
  return ok && impl->device.check(api.cuStreamSynchronize(impl->stream),
                                  ("entry " + entry).c_str(), error);
}

bool Runner::timeSequence(int warmup, int iterations, bool graph,
                          double &seconds, std::string &error) {
  if (!impl->artifact->schedules.empty()) {
    error = impl->artifact->dir + " is a model: run it with seqc-run";
    return false;
  }
  const Api &api = *impl->device.api;
  std::vector<Impl::Prepared *> order;
  for (const Kernel &k : impl->artifact->kernels)
    order.push_back(&impl->kernels.at(k.name));
  auto once = [&]() {
    for (Impl::Prepared *p : order)
      if (!impl->launchOnce(*p, error))
        return false;
    return true;
  };
  // With `graph`, the sequence is captured once and replayed: one launch
  // of the graph per iteration instead of one cuLaunchKernel per kernel.
  CUgraphExec exec = nullptr;
  auto release = [&]() {
    if (exec)
      api.cuGraphExecDestroy(exec);
  };
  if (graph && !impl->capture(once, exec, error))
    return false;
  auto step = [&]() {
    return graph ? impl->device.check(api.cuGraphLaunch(exec, impl->stream),
                                      "cuGraphLaunch", error)
                 : once();
  };
  bool ok = true;
  for (int i = 0; ok && i < warmup; ++i)
    ok = step();
  ok = ok && impl->device.check(api.cuStreamSynchronize(impl->stream),
                                "cuStreamSynchronize", error);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; ok && i < iterations; ++i)
    ok = step();
  ok = ok && impl->device.check(api.cuStreamSynchronize(impl->stream),
                                "cuStreamSynchronize", error);
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  seconds = d.count() / iterations;
  release();
  return ok;
}

bool Runner::time(const std::string &kernel, int warmup, int iterations,
                  double &seconds, std::string &error) {
  if (!impl->artifact->schedules.empty()) {
    error = impl->artifact->dir + " is a model: run it with seqc-run";
    return false;
  }
  auto it = impl->kernels.find(kernel);
  if (it == impl->kernels.end()) {
    error = "no kernel named '" + kernel + "'";
    return false;
  }
  const Api &api = *impl->device.api;
  for (int i = 0; i < warmup; ++i)
    if (!impl->launchOnce(it->second, error))
      return false;
  if (!impl->device.check(api.cuStreamSynchronize(impl->stream),
                          "cuStreamSynchronize", error))
    return false;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i)
    if (!impl->launchOnce(it->second, error))
      return false;
  if (!impl->device.check(api.cuStreamSynchronize(impl->stream),
                          "cuStreamSynchronize", error))
    return false;
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  seconds = d.count() / iterations;
  return true;
}
