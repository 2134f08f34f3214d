//===- drivers/vulkan/vulkan_driver.cpp - models on a Vulkan device -------===//
//
// The driver of target "vulkan": a model artifact's kernels.bin holds the
// SPIR-V kernels and one schedule per entry (seqc/artifact.h). Loading makes
// every pipeline, the device buffers (weights, tokens, state, logits, one
// scratch arena) and, per entry, one command buffer with all its dispatches
// (vulkan_kernels.cpp), once; a run submits it. The Executable is the GPU
// drivers' shared one (gpu/model_executable.h).
//
// SEQC_VULKAN_VALIDATION=1 enables the Khronos validation layer; any
// message it reports fails the call that caused it (the execution tests run
// that way). SEQC_VULKAN_STAGING=1 stages the copies to and from the model
// buffers as on a discrete GPU even where the host could map them, and
// SEQC_VULKAN_STAGING_BYTES=N sizes the staging buffer (the tests make it
// small, so that the weights pass through it in many pieces).
// SEQC_VULKAN_SUBGROUPS=0 treats the device's subgroup operations as
// missing (a driver whose subgroup operations are broken): the products run
// as the artifact's fallback kernels, which add their sums in workgroup
// memory alone, as they do on a device without subgroup arithmetic.
//
//===----------------------------------------------------------------------===//

#include "drivers/gpu/model_executable.h"
#include "drivers/vulkan/vulkan_kernels.h"

#include <cstdlib>
#include <cstring>

namespace seqc::rt {
namespace {

class VulkanDriver : public Driver {
public:
  const char *name() const override { return "vulkan"; }

  seqc_status load(const ModelInfo &m,
                   std::unique_ptr<Executable> &out) const override {
    auto artifact = std::make_unique<vk::KernelArtifact>();
    std::string message;
    if (!vk::loadArtifact(m.dir, *artifact, message))
      return error("%s", message.c_str());
    std::map<std::string, uint64_t> sizes;
    uint64_t weightBytes = 0;
    int64_t prefillTokens = 0;
    if (seqc_status s =
            gpuModelBuffers(m, *artifact, sizes, weightBytes, prefillTokens))
      return s;
    vk::Options options;
    const char *validate = std::getenv("SEQC_VULKAN_VALIDATION");
    options.validation = validate && std::strcmp(validate, "0") != 0;
    const char *staging = std::getenv("SEQC_VULKAN_STAGING");
    options.staging = staging && std::strcmp(staging, "0") != 0;
    if (const char *n = std::getenv("SEQC_VULKAN_STAGING_BYTES")) {
      char *end = nullptr;
      unsigned long long v = std::strtoull(n, &end, 10);
      if (!*n || *end || v == 0 || v > (1ull << 40))
        return error("SEQC_VULKAN_STAGING_BYTES must be a positive number "
                     "of bytes, got '%s'",
                     n);
      options.stagingBytes = v;
    }
    if (const char *sg = std::getenv("SEQC_VULKAN_SUBGROUPS")) {
      if (std::strcmp(sg, "0") != 0 && std::strcmp(sg, "1") != 0)
        return error("SEQC_VULKAN_SUBGROUPS must be 0 (do not use the "
                     "device's subgroup operations) or 1, got '%s'",
                     sg);
      options.subgroups = std::strcmp(sg, "1") == 0;
    }
    auto runner = vk::Runner::create(*artifact, options, message);
    if (!runner || !runner->prepareModel(sizes, message))
      return error("%s: %s", m.dir.c_str(), message.c_str());
    out = std::make_unique<GpuModelExecutable<vk::Runner>>(
        std::move(artifact), std::move(runner), m, weightBytes, prefillTokens);
    return nullptr;
  }
};

} // namespace

const Driver &vulkanDriver() {
  static const VulkanDriver driver;
  return driver;
}

} // namespace seqc::rt
