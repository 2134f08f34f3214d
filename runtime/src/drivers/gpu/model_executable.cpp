//===- drivers/gpu/model_executable.cpp - a GPU model's buffers -----------===//

#include "drivers/gpu/model_executable.h"

#include "seqc/artifact.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace seqc::rt {

seqc_status gpuModelBuffers(const ModelInfo &m,
                            const gpu::KernelArtifact &artifact,
                            std::map<std::string, uint64_t> &sizes,
                            uint64_t &weightBytes, int64_t &prefillTokens) {
  auto number = [&](artifact::Key key) -> uint64_t {
    auto found = m.manifest.find(artifact::keyName(key));
    return found == m.manifest.end()
               ? 0
               : std::strtoull(found->second.c_str(), nullptr, 10);
  };
  prefillTokens = (int64_t)number(artifact::Key::PrefillTokens);
  if (prefillTokens < 0 || prefillTokens > 4096)
    return error("%s: manifest.json: prefill_tokens is not a token count "
                 "of 0 to 4096",
                 m.dir.c_str());
  std::vector<const char *> entries = {"seqc_init_state", "seqc_step"};
  if (prefillTokens)
    entries.push_back("seqc_prefill");
  for (const char *entry : entries)
    if (!artifact.schedules.count(entry))
      return error("%s: kernels.bin has no schedule for %s (a kernel "
                   "artifact, or compiled by another seqc)",
                   m.dir.c_str(), entry);
  weightBytes = number(artifact::Key::WeightsBytes);
  sizes = {{"weights", weightBytes},
           {"tokens", sizeof(int32_t) * std::max<uint64_t>(prefillTokens, 1)},
           {"state", m.stateBytes},
           {"logits", (uint64_t)m.vocab * sizeof(float)}};
  return nullptr;
}

} // namespace seqc::rt
