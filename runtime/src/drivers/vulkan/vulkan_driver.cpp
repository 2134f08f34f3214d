//===- drivers/vulkan/vulkan_driver.cpp - models on a Vulkan device -------===//
//
// The driver of target "vulkan": a model artifact's kernels.bin holds the
// SPIR-V kernels and one schedule per entry (seqc/artifact.h). Loading makes
// every pipeline, the device buffers (weights, tokens, state, logits, one
// scratch arena) and, per entry, one command buffer with all its dispatches
// (vulkan_kernels.cpp), once. A token is then: its id written into the
// tokens buffer, the step's command buffer submitted, the logits read back.
// Prompts run token by token through the step (the compiled prefill
// entries loop over tokens on the host, which a static schedule does not).
//
// The weights are copied into their device buffer on the first run (and
// again only if the session's mapping changes). The state lives in core's
// host buffer: it is copied to the device before a run and back after, so
// save, restore and fork work as for the CPU; a device-resident state that
// is synchronized lazily is left for a discrete GPU, where the copies cost.
// Sessions of one model share the device buffers, so calls are serialized
// (one queue; concurrent sessions get the results of sequential ones).
//
// SEQC_VULKAN_VALIDATION=1 enables the Khronos validation layer; any
// message it reports fails the call that caused it (the execution tests run
// that way).
//
//===----------------------------------------------------------------------===//

#include "core/status.h"
#include "drivers/driver.h"
#include "drivers/vulkan/vulkan_kernels.h"
#include "seqc/artifact.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace seqc::rt {
namespace {

class VulkanExecutable : public Executable {
public:
  VulkanExecutable(std::unique_ptr<vk::KernelArtifact> artifact,
                   std::unique_ptr<vk::Runner> runner, const ModelInfo &m,
                   uint64_t weightBytes)
      : artifact(std::move(artifact)), runner(std::move(runner)), path(m.dir),
        stateBytes(m.stateBytes), vocab(m.vocab), weightBytes(weightBytes) {}

  seqc_status init(uint8_t *state) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (seqc_status s = runEntry("seqc_init_state"))
      return s;
    std::memcpy(state, runner->modelBuffer("state"), stateBytes);
    return nullptr;
  }

  seqc_status run(Entry entry, const uint8_t *weights, size_t bytes,
                  const int32_t *tokens, size_t n, uint8_t *state,
                  float *logits, int64_t logitRows) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (bytes != weightBytes)
      return error("%s: %zu bytes of weights given, the model has %llu",
                   path.c_str(), bytes, (unsigned long long)weightBytes);
    if (weights != uploaded) {
      std::memcpy(runner->modelBuffer("weights"), weights, bytes);
      uploaded = weights;
    }
    uint8_t *deviceState = runner->modelBuffer("state");
    auto *token = reinterpret_cast<int32_t *>(runner->modelBuffer("tokens"));
    const float *out =
        reinterpret_cast<const float *>(runner->modelBuffer("logits"));
    std::memcpy(deviceState, state, stateBytes);
    for (size_t i = 0; i < n; ++i) {
      *token = tokens[i];
      if (seqc_status s = runEntry("seqc_step"))
        return s;
      if (entry == Entry::PrefillAll && (int64_t)i < logitRows)
        std::memcpy(logits + i * vocab, out, vocab * sizeof(float));
    }
    if (entry != Entry::PrefillAll && n > 0)
      std::memcpy(logits, out, vocab * sizeof(float));
    std::memcpy(state, deviceState, stateBytes);
    return nullptr;
  }

private:
  seqc_status runEntry(const char *name) {
    std::string message;
    if (!runner->runEntry(name, message))
      return error("%s: %s", path.c_str(), message.c_str());
    const auto &messages = runner->validationMessages();
    if (messages.size() > reported) {
      std::string first = messages[reported];
      size_t more = messages.size() - reported - 1;
      reported = messages.size();
      return error("%s: the Vulkan validation layer reported: %s%s",
                   path.c_str(), first.c_str(),
                   more ? (" (and " + std::to_string(more) + " more)").c_str()
                        : "");
    }
    return nullptr;
  }

  std::unique_ptr<vk::KernelArtifact> artifact;
  std::unique_ptr<vk::Runner> runner;
  std::string path;
  size_t stateBytes;
  int64_t vocab;
  uint64_t weightBytes;
  const uint8_t *uploaded = nullptr;
  size_t reported = 0;
  /// Sessions of one model share its device buffers: one call at a time.
  std::mutex mutex;
};

class VulkanDriver : public Driver {
public:
  const char *name() const override { return "vulkan"; }

  seqc_status load(const ModelInfo &m,
                   std::unique_ptr<Executable> &out) const override {
    auto artifact = std::make_unique<vk::KernelArtifact>();
    std::string message;
    if (!vk::loadArtifact(m.dir, *artifact, message))
      return error("%s", message.c_str());
    for (const char *entry : {"seqc_init_state", "seqc_step"})
      if (!artifact->schedules.count(entry))
        return error("%s: kernels.bin has no schedule for %s (a kernel "
                     "artifact, or compiled by another seqc)",
                     m.dir.c_str(), entry);
    auto weights =
        m.manifest.find(artifact::keyName(artifact::Key::WeightsBytes));
    uint64_t weightBytes =
        weights == m.manifest.end()
            ? 0
            : std::strtoull(weights->second.c_str(), nullptr, 10);
    vk::Options options;
    const char *validate = std::getenv("SEQC_VULKAN_VALIDATION");
    options.validation = validate && std::strcmp(validate, "0") != 0;
    auto runner = vk::Runner::create(*artifact, options, message);
    if (!runner)
      return error("%s: %s", m.dir.c_str(), message.c_str());
    if (!runner->prepareModel({{"weights", weightBytes},
                               {"tokens", sizeof(int32_t)},
                               {"state", m.stateBytes},
                               {"logits", (uint64_t)m.vocab * sizeof(float)}},
                              message))
      return error("%s: %s", m.dir.c_str(), message.c_str());
    out = std::make_unique<VulkanExecutable>(std::move(artifact),
                                             std::move(runner), m, weightBytes);
    return nullptr;
  }
};

} // namespace

const Driver &vulkanDriver() {
  static const VulkanDriver driver;
  return driver;
}

} // namespace seqc::rt
