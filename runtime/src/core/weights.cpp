//===- core/weights.cpp - map weights.bin ---------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/Support/Checksum.h"
#include "seqc/Support/HugePages.h"
#include "seqc/artifact.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

using namespace seqc;
using namespace seqc::rt;

namespace {

/// The blob copied into anonymous memory asked for huge pages: aligned to
/// them and its size rounded up to them, so that every page of it can be
/// one; read-only once filled.
seqc_status copyToHugePages(const std::string &path, const uint8_t *blob,
                            size_t bytes, WeightsMapping &out) {
  HugeRegion region = mapHugeRegion(bytes);
  if (!region.data)
    return error("%s: cannot map %zu bytes for the weights' copy in huge "
                 "pages: %s",
                 path.c_str(), bytes, strerror(errno));
  void *copy = region.data;
  size_t len = region.bytes;
  std::memcpy(copy, blob, bytes);
  // Read-only, as the file mapping is: compiled code never writes weights.
  if (mprotect(copy, len, PROT_READ) != 0) {
    int e = errno;
    unmapHugeRegion(region);
    return error("%s: cannot make the weights' copy read-only: %s",
                 path.c_str(), strerror(e));
  }
  out.mapping = copy;
  out.mappingSize = len;
  out.data = static_cast<const uint8_t *>(copy);
  return nullptr;
}

} // namespace

seqc_status seqc::rt::mapWeights(const std::string &dir, const seqc_model &m,
                                 int verify, int pages, WeightsMapping &out) {
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
  if (p == MAP_FAILED) {
    close(fd);
    return error("%s: cannot map: %s", path.c_str(), strerror(errno));
  }
  out.mapping = p;
  out.mappingSize = size;
  out.pages = pages;
  artifact::WeightsHeader h;
  if (!artifact::parseWeightsHeader(p, size, h)) {
    close(fd);
    return error("%s: not a seqc weights file", path.c_str());
  }
  if (h.id != m.weightsId || h.bytes != weightBytes) {
    close(fd);
    return error("%s: belongs to another compilation (weights id %016llx, "
                 "model.so expects %016llx); recompile or copy the matching "
                 "pair",
                 path.c_str(), (unsigned long long)h.id,
                 (unsigned long long)m.weightsId);
  }
  if (m.hasWeightsChecksum && h.checked &&
      h.payloadChecksum != m.weightsChecksum) {
    close(fd);
    return error("%s: its header's checksum differs from the manifest's; "
                 "recompile or copy the matching pair",
                 path.c_str());
  }
  out.data = static_cast<const uint8_t *>(p) + header;
  out.bytes = weightBytes;
  if (pages == SEQC_PAGES_HUGE_COPY) {
    WeightsMapping copy;
    seqc_status s = copyToHugePages(path, out.data, weightBytes, copy);
    if (!s) {
      // The file's mapping is not needed any more; its pages stay in the
      // page cache (for other processes, and reclaimable).
      munmap(p, size);
      out.mapping = copy.mapping;
      out.mappingSize = copy.mappingSize;
      out.data = copy.data;
    }
    close(fd);
    if (s)
      return s;
  } else {
    close(fd);
#ifdef MADV_HUGEPAGE
    // Advice: the kernel may collapse the file's pages into 2 MiB ones
    // (read-only files) or ignore it.
    madvise(p, size, MADV_HUGEPAGE);
#endif
  }
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

size_t seqc::rt::hugeBytes(const WeightsMapping &w) {
  return bytesInHugePages(w.data, w.bytes);
}

void seqc::rt::unmapWeights(WeightsMapping &w) {
  if (w.mapping)
    munmap(w.mapping, w.mappingSize);
  w = WeightsMapping();
}
