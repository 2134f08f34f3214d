//===- core/weights.cpp - map weights.bin ---------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/Support/Checksum.h"
#include "seqc/artifact.h"

#include <cerrno>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

using namespace seqc::rt;

seqc_status seqc::rt::mapWeights(const std::string &dir, const seqc_model &m,
                                 int verify, WeightsMapping &out) {
  constexpr size_t header = artifact::kWeightsHeaderBytes;
  std::string path = dir + "/weights.bin";
  int fd;
  size_t size;
  if (seqc_status s = openRegularFile(path, fd, size))
    return s;
  uint64_t weightBytes = m.weightBytes;
  if (size < header || size - header < weightBytes) {
    close(fd);
    return error("%s: %zu bytes, but the model needs %llu (truncated?)",
                 path.c_str(), size,
                 (unsigned long long)(header + weightBytes));
  }
  void *p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return error("%s: cannot map: %s", path.c_str(), strerror(errno));
  out.mapping = p;
  out.mappingSize = size;
  artifact::WeightsHeader h;
  if (!artifact::parseWeightsHeader(p, size, h))
    return error("%s: not a seqc weights file", path.c_str());
  if (h.id != m.weightsId || h.bytes != weightBytes)
    return error("%s: belongs to another compilation (weights id %016llx, "
                 "model.so expects %016llx); recompile or copy the matching "
                 "pair",
                 path.c_str(), (unsigned long long)h.id,
                 (unsigned long long)m.weightsId);
  if (m.hasWeightsChecksum && h.checked &&
      h.payloadChecksum != m.weightsChecksum)
    return error("%s: its header's checksum differs from the manifest's; "
                 "recompile or copy the matching pair",
                 path.c_str());
  out.data = static_cast<const uint8_t *>(p) + header;
  out.bytes = weightBytes;
  bool check =
      verify == SEQC_VERIFY_ALWAYS ||
      (verify == SEQC_VERIFY_AUTO && weightBytes <= SEQC_VERIFY_AUTO_MAX_BYTES);
  if (!check)
    return nullptr;
  if (!m.hasWeightsChecksum) {
    if (verify == SEQC_VERIFY_ALWAYS)
      return error("%s: cannot verify: the manifest records no "
                   "weights_checksum (compiled by an older seqc; recompile)",
                   path.c_str());
    return nullptr;
  }
  uint64_t actual = xxh64(out.data, out.bytes);
  if (actual != m.weightsChecksum)
    return error("%s: the weights are corrupted: their checksum is %s, the "
                 "manifest records %s; copy or compile the artifact again",
                 path.c_str(), formatChecksum(actual).c_str(),
                 formatChecksum(m.weightsChecksum).c_str());
  return nullptr;
}

void seqc::rt::unmapWeights(WeightsMapping &w) {
  if (w.mapping)
    munmap(w.mapping, w.mappingSize);
  w = WeightsMapping();
}
