//===- core/model.h - models and sessions, as core holds them --*- C++ -*-===//

#ifndef SEQC_RUNTIME_CORE_MODEL_H
#define SEQC_RUNTIME_CORE_MODEL_H

#include "drivers/driver.h"
#include "seqc/artifact.h"

#include <memory>
#include <vector>

namespace seqc::rt {

/// weights.bin, mapped read-only, or (SEQC_PAGES_HUGE_COPY) its blob
/// copied into anonymous memory asked for 2 MiB pages.
struct WeightsMapping {
  void *mapping = nullptr;
  size_t mappingSize = 0;
  /// The blob after the header.
  const uint8_t *data = nullptr;
  size_t bytes = 0;
  /// A SEQC_PAGES_* mode.
  int pages = 0;
};

} // namespace seqc::rt

struct seqc_model {
  seqc::rt::ModelInfo info;
  /// Attention models: the KV cache capacity in tokens (0: no limit).
  int64_t context = 0;
  /// The model compresses each prompt's KV rows at the end of its prefill
  /// (manifest kv_select): a prompt goes in one call, not in chunks.
  bool wholePrompts = false;
  uint64_t weightsId = 0, weightBytes = 0;
  /// The manifest's weights_checksum (artifacts compiled before it have
  /// none).
  bool hasWeightsChecksum = false;
  uint64_t weightsChecksum = 0;
  seqc::rt::WeightsMapping weights;
  const seqc::rt::Driver *driver = nullptr;
  std::unique_ptr<seqc::rt::Executable> executable;
};

namespace seqc::rt {
/// Maps `dir`/weights.bin and checks that its header carries the model's
/// weights id and size; with `verify` (a SEQC_VERIFY_* mode), checks the
/// blob against the manifest's checksum.
/// `pages` (a SEQC_PAGES_* mode) says how the blob is held.
seqc_status mapWeights(const std::string &dir, const seqc_model &m, int verify,
                       int pages, WeightsMapping &out);
void unmapWeights(WeightsMapping &w);
/// Bytes of the blob in 2 MiB pages now (/proc/self/smaps), or 0.
size_t hugeBytes(const WeightsMapping &w);

/// Opens `path` read-only without blocking and requires a regular file
/// (core/files.cpp); `fd` is the caller's to close.
seqc_status openRegularFile(const std::string &path, int &fd, size_t &size);
/// Reads `dir`/weights.bin's header.
seqc_status readWeightsHeader(const std::string &dir,
                              artifact::WeightsHeader &header);
/// Checks model.so before dlopen: a regular file, the size and checksum the
/// header records (when it records them), ELF segments inside the file.
seqc_status checkLibrary(const std::string &path,
                         const artifact::WeightsHeader &header);

/// Reads the manifest text into `m` (info, context, weights id and size);
/// refuses other formats and manifests that lack required keys.
seqc_status parseManifest(seqc_model &m, const char *text);
} // namespace seqc::rt

/// Makes the host bytes of the session's state current (the driver may
/// keep the newest state on its device); core calls it before reading them.
seqc_status syncState(const seqc_session *s);

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
