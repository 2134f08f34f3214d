//===- core/model.h - models and sessions, as core holds them --*- C++ -*-===//

#ifndef SEQC_RUNTIME_CORE_MODEL_H
#define SEQC_RUNTIME_CORE_MODEL_H

#include "drivers/driver.h"

#include <memory>
#include <vector>

namespace seqc::rt {

/// weights.bin, mapped read-only (never copied).
struct WeightsMapping {
  void *mapping = nullptr;
  size_t mappingSize = 0;
  /// The blob after the header.
  const uint8_t *data = nullptr;
  size_t bytes = 0;
};

/// Maps `dir`/weights.bin and checks that its header carries `id` and
/// `bytes`.
seqc_status mapWeights(const std::string &dir, uint64_t id, uint64_t bytes,
                       WeightsMapping &out);
void unmapWeights(WeightsMapping &w);

} // namespace seqc::rt

struct seqc_model {
  seqc::rt::ModelInfo info;
  /// Attention models: the KV cache capacity in tokens (0: no limit).
  int64_t context = 0;
  uint64_t weightsId = 0, weightBytes = 0;
  seqc::rt::WeightsMapping weights;
  const seqc::rt::Driver *driver = nullptr;
  std::unique_ptr<seqc::rt::Executable> executable;
};

namespace seqc::rt {
/// Reads the manifest text into `m` (info, context, weights id and size);
/// refuses other formats and manifests that lack required keys.
seqc_status parseManifest(seqc_model &m, const char *text);
} // namespace seqc::rt

struct seqc_session {
  seqc_model *model;
  /// The state: one byte buffer of the model's stateBytes (rounded up to
  /// whole floats, as saved states count it).
  std::vector<uint8_t> state;
  std::vector<float> logits;
  /// Tokens fed since the last reset.
  int64_t position = 0;
};

#endif // SEQC_RUNTIME_CORE_MODEL_H
