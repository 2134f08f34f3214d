//===- core/weights.cpp - map weights.bin ---------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/Support/Checksum.h"
#include "seqc/artifact.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>

#include <sys/mman.h>
#include <unistd.h>

using namespace seqc::rt;

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

/// The blob copied into anonymous memory asked for 2 MiB pages: aligned to
/// them and its size rounded up to them, so that every page of it can be
/// one; read-only once filled.
seqc_status copyToHugePages(const std::string &path, const uint8_t *blob,
                            size_t bytes, WeightsMapping &out) {
  size_t len = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void *raw = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return error("%s: cannot allocate %zu bytes for the weights' copy in "
                 "2 MiB pages: %s",
                 path.c_str(), len, strerror(errno));
  uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  uintptr_t start = (begin + kHugePage - 1) & ~(kHugePage - 1);
  if (start > begin)
    munmap(raw, start - begin);
  uintptr_t end = begin + len + kHugePage;
  if (end > start + len)
    munmap(reinterpret_cast<void *>(start + len), end - (start + len));
  void *copy = reinterpret_cast<void *>(start);
#ifdef MADV_HUGEPAGE
  madvise(copy, len, MADV_HUGEPAGE); // advice: refused or ignored, 4 KiB
#endif
  std::memcpy(copy, blob, bytes);
  mprotect(copy, len, PROT_READ);
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
      // The file's pages are not needed any more: unmapped, and the page
      // cache told so (clean pages others do not map may go).
      munmap(p, size);
#ifdef POSIX_FADV_DONTNEED
      posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
#endif
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
  if (!w.data)
    return 0;
  FILE *f = std::fopen("/proc/self/smaps", "r");
  if (!f)
    return 0;
  uintptr_t lo = reinterpret_cast<uintptr_t>(w.data), hi = lo + w.bytes;
  size_t total = 0;
  bool inside = false;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long start, end, kb;
    // A mapping's first line is "start-end perms ...", then "Key: N kB"
    // lines (no key is hex digits followed by '-').
    if (std::sscanf(line, "%llx-%llx ", &start, &end) == 2) {
      inside = start < hi && end > lo;
      continue;
    }
    if (inside && (std::sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 ||
                   std::sscanf(line, "FilePmdMapped: %llu kB", &kb) == 1))
      total += size_t(kb) * 1024;
  }
  std::fclose(f);
  return std::min(total, w.bytes);
}

void seqc::rt::unmapWeights(WeightsMapping &w) {
  if (w.mapping)
    munmap(w.mapping, w.mappingSize);
  w = WeightsMapping();
}
