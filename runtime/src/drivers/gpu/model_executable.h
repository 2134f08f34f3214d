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
// A token is: its id copied in, the step run, the logits copied back.
// Prompts run token by token through the step (the compiled prefill entries
// loop over tokens on the host, which a static schedule does not). The
// weights are copied in on the first run (and again only if the session's
// mapping changes). The state lives in core's host buffer and is copied in
// and out around a call, so save, restore and fork work as for the CPU;
// keeping it on the device between calls is left for discrete GPUs, where
// the copies cost. Sessions of one model share the device buffers, so calls
// are serialized (one queue: concurrent sessions get the sequential
// results).
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

/// Checks that `artifact` schedules both entries a model needs and gives
/// the size of each buffer they take (weights, tokens, state, logits; the
/// runner adds the scratch arena) and the weights' bytes.
seqc_status gpuModelBuffers(const ModelInfo &m,
                            const gpu::KernelArtifact &artifact,
                            std::map<std::string, uint64_t> &sizes,
                            uint64_t &weightBytes);

template <typename Runner> class GpuModelExecutable : public Executable {
public:
  GpuModelExecutable(std::unique_ptr<gpu::KernelArtifact> artifact,
                     std::unique_ptr<Runner> runner, const ModelInfo &m,
                     uint64_t weightBytes)
      : artifact(std::move(artifact)), runner(std::move(runner)), path(m.dir),
        stateBytes(m.stateBytes), vocab(m.vocab), weightBytes(weightBytes) {}

  seqc_status init(uint8_t *state) override {
    std::lock_guard<std::mutex> lock(mutex);
    std::string message;
    if (!runner->runEntry("seqc_init_state", message) ||
        !runner->copyFromModel("state", state, stateBytes, message))
      return error("%s: %s", path.c_str(), message.c_str());
    return nullptr;
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
    if (!runner->copyToModel("state", state, stateBytes, message))
      return fail();
    for (size_t i = 0; i < n; ++i) {
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
    if (!runner->copyFromModel("state", state, stateBytes, message))
      return fail();
    return nullptr;
  }

private:
  std::unique_ptr<gpu::KernelArtifact> artifact;
  std::unique_ptr<Runner> runner;
  std::string path;
  size_t stateBytes;
  int64_t vocab;
  uint64_t weightBytes;
  const uint8_t *uploaded = nullptr;
  /// Sessions of one model share its device buffers: one call at a time.
  std::mutex mutex;
};

} // namespace seqc::rt

#endif // SEQC_RUNTIME_GPU_MODEL_EXECUTABLE_H
