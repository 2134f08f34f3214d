//===- drivers/cuda/cuda_driver.cpp - models on a CUDA GPU ----------------===//
//
// The driver of target "cuda": a model artifact's kernels.bin holds each
// kernel's cubin and PTX and one schedule per entry (seqc/artifact.h).
// Loading opens the first device (libcuda.so.1 at run time: without the
// NVIDIA driver or a device the load fails with a message saying so),
// loads every kernel (the cubin, or the PTX JIT-compiled where the cubin
// does not run), allocates the device buffers and resolves every launch's
// arguments to device addresses (cuda_kernels.cpp); each entry's launches
// are captured as a CUDA graph on its first run and replayed. The
// Executable is the GPU drivers' shared one (gpu/model_executable.h).
//
//===----------------------------------------------------------------------===//

#include "drivers/cuda/cuda_kernels.h"
#include "drivers/gpu/model_executable.h"

namespace seqc::rt {
namespace {

class CudaDriver : public Driver {
public:
  const char *name() const override { return "cuda"; }

  seqc_status load(const ModelInfo &m,
                   std::unique_ptr<Executable> &out) const override {
    auto artifact = std::make_unique<cuda::KernelArtifact>();
    std::string message;
    if (!cuda::loadArtifact(m.dir, *artifact, message))
      return error("%s", message.c_str());
    std::map<std::string, uint64_t> sizes;
    uint64_t weightBytes = 0;
    int64_t prefillTokens = 0;
    if (seqc_status s =
            gpuModelBuffers(m, *artifact, sizes, weightBytes, prefillTokens))
      return s;
    auto runner = cuda::Runner::create(*artifact, message);
    if (!runner || !runner->prepareModel(sizes, message))
      return error("%s: %s", m.dir.c_str(), message.c_str());
    out = std::make_unique<GpuModelExecutable<cuda::Runner>>(
        std::move(artifact), std::move(runner), m, weightBytes, prefillTokens);
    return nullptr;
  }
};

} // namespace

const Driver &cudaDriver() {
  static const CudaDriver driver;
  return driver;
}

} // namespace seqc::rt
