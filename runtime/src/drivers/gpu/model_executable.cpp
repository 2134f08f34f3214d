//===- drivers/gpu/model_executable.cpp - a GPU model's buffers -----------===//

#include "drivers/gpu/model_executable.h"

#include "seqc/artifact.h"

#include <cstdlib>

namespace seqc::rt {

seqc_status gpuModelBuffers(const ModelInfo &m,
                            const gpu::KernelArtifact &artifact,
                            std::map<std::string, uint64_t> &sizes,
                            uint64_t &weightBytes) {
  for (const char *entry : {"seqc_init_state", "seqc_step"})
    if (!artifact.schedules.count(entry))
      return error("%s: kernels.bin has no schedule for %s (a kernel "
                   "artifact, or compiled by another seqc)",
                   m.dir.c_str(), entry);
  auto weights =
      m.manifest.find(artifact::keyName(artifact::Key::WeightsBytes));
  weightBytes = weights == m.manifest.end()
                    ? 0
                    : std::strtoull(weights->second.c_str(), nullptr, 10);
  sizes = {{"weights", weightBytes},
           {"tokens", sizeof(int32_t)},
           {"state", m.stateBytes},
           {"logits", (uint64_t)m.vocab * sizeof(float)}};
  return nullptr;
}

} // namespace seqc::rt
