//===- drivers/gpu/model_executable.h - a GPU model's entries ---*- C++ -*-===//
//
// What the vulkan and cuda drivers share about running a model artifact
// (kernels.bin with one schedule per entry, seqc/artifact.h): the buffers
// the schedules take, and the Executable that drives them. A Runner (the
// Vulkan or the CUDA one) has every buffer, pipeline and launch made once;
// the Executable needs only three of its calls:
//
//   bool copyToModel(buffer, data, bytes, error);    host -> device buffer
//   bool copyFromModel(buffer, data, bytes, error);  device buffer -> host
//   bool runEntry(entry, error);                     one entry, waited for
//
// A token is: its id copied in, the step run, the logits copied back. A
// prompt runs in chunks of the prefill schedule's token count (the
// artifact's prefill_tokens: the compiled seqc_prefill takes exactly that
// many), the rest token by token through the step; every token's logits
// (prefill_all) come from the step. The weights are copied in on the
// first run (and again only if the session's mapping changes).
//
// The state stays on the device between calls: the device buffer holds one
// session's state (`resident`, core's host buffer of it), newer than the
// host bytes after a run. It is copied back only when core reads the host
// bytes (syncState: a save, the state view, a fork) or when another
// session's call takes the device buffer; core's writes (a restore, a
// fork's copy, freeing the session) drop it (stateChanged). Sessions of one
// model share the device buffers, so calls are serialized (one queue:
// concurrent sessions get the sequential results).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_GPU_MODEL_EXECUTABLE_H
#define SEQC_RUNTIME_GPU_MODEL_EXECUTABLE_H

#include "core/status.h"
#include "drivers/driver.h"
#include "drivers/gpu/kernel_artifact.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace seqc::rt {

/// Checks that `artifact` schedules the entries a model needs and gives
/// the size of each buffer they take (weights, tokens, state, logits; the
/// runner adds the scratch arena), the weights' bytes and the tokens of
/// its seqc_prefill schedule (0: none).
seqc_status gpuModelBuffers(const ModelInfo &m,
                            const gpu::KernelArtifact &artifact,
                            std::map<std::string, uint64_t> &sizes,
                            uint64_t &weightBytes, int64_t &prefillTokens);

template <typename Runner> class GpuModelExecutable : public Executable {
public:
  GpuModelExecutable(std::unique_ptr<gpu::KernelArtifact> artifact,
                     std::unique_ptr<Runner> runner, const ModelInfo &m,
                     uint64_t weightBytes, int64_t prefillTokens)
      : artifact(std::move(artifact)), runner(std::move(runner)), path(m.dir),
        stateBytes(m.stateBytes), vocab(m.vocab), weightBytes(weightBytes),
        prefillTokens((size_t)prefillTokens) {}

  seqc_status init(uint8_t *state) override {
    std::lock_guard<std::mutex> lock(mutex);
    std::string message;
    if (!evict(message) || !runner->runEntry("seqc_init_state", message) ||
        !runner->copyFromModel("state", state, stateBytes, message))
      return error("%s: %s", path.c_str(), message.c_str());
    resident = state;
    deviceNewer = false;
    return nullptr;
  }

  seqc_status syncState(uint8_t *state) override {
    std::lock_guard<std::mutex> lock(mutex);
    std::string message;
    if (resident == state && deviceNewer) {
      if (!runner->copyFromModel("state", state, stateBytes, message))
        return error("%s: %s", path.c_str(), message.c_str());
      deviceNewer = false;
    }
    return nullptr;
  }

  void stateChanged(const uint8_t *state) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (resident == state) {
      resident = nullptr;
      deviceNewer = false;
    }
  }

  seqc_status run(Entry entry, const uint8_t *weights, size_t bytes,
                  const int32_t *tokens, size_t n, uint8_t *state,
                  float *logits, int64_t logitRows) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (bytes != weightBytes)
      return error("%s: %zu bytes of weights given, the model has %llu",
                   path.c_str(), bytes, (unsigned long long)weightBytes);
    std::string message;
    auto fail = [&] { return error("%s: %s", path.c_str(), message.c_str()); };
    if (weights != uploaded) {
      if (!runner->copyToModel("weights", weights, bytes, message))
        return fail();
      uploaded = weights;
    }
    if (resident != state) {
      if (!evict(message) ||
          !runner->copyToModel("state", state, stateBytes, message))
        return fail();
      resident = state;
    }
    // From here the device's state is the newest, whatever happens.
    deviceNewer = true;
    size_t i = 0;
    if (entry == Entry::Prefill && prefillTokens)
      for (; n - i >= prefillTokens; i += prefillTokens) {
        if (!runner->copyToModel("tokens", &tokens[i],
                                 prefillTokens * sizeof(int32_t), message) ||
            !runner->runEntry("seqc_prefill", message))
          return fail();
        if (i + prefillTokens == n &&
            !runner->copyFromModel("logits", logits, vocab * sizeof(float),
                                   message))
          return fail();
      }
    for (; i < n; ++i) {
      bool row = entry == Entry::PrefillAll && (int64_t)i < logitRows;
      bool last = i + 1 == n && entry != Entry::PrefillAll;
      if (!runner->copyToModel("tokens", &tokens[i], sizeof(int32_t),
                               message) ||
          !runner->runEntry("seqc_step", message))
        return fail();
      if ((row || last) &&
          !runner->copyFromModel("logits", row ? logits + i * vocab : logits,
                                 vocab * sizeof(float), message))
        return fail();
    }
    return nullptr;
  }

private:
  /// Gives the device's state buffer up: the resident session's newer
  /// state goes back to its host bytes first.
  bool evict(std::string &message) {
    if (resident && deviceNewer &&
        !runner->copyFromModel("state", const_cast<uint8_t *>(resident),
                               stateBytes, message))
      return false;
    resident = nullptr;
    deviceNewer = false;
    return true;
  }

  std::unique_ptr<gpu::KernelArtifact> artifact;
  std::unique_ptr<Runner> runner;
  std::string path;
  size_t stateBytes;
  int64_t vocab;
  uint64_t weightBytes;
  /// Tokens of one seqc_prefill run (0: no prefill schedule).
  size_t prefillTokens;
  const uint8_t *uploaded = nullptr;
  /// The session state the device's buffer holds, and whether it is newer
  /// than that session's host bytes.
  const uint8_t *resident = nullptr;
  bool deviceNewer = false;
  /// Sessions of one model share its device buffers: one call at a time.
  std::mutex mutex;
};

} // namespace seqc::rt

#endif // SEQC_RUNTIME_GPU_MODEL_EXECUTABLE_H
