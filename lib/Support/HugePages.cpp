//===- HugePages.cpp - memory in transparent huge pages -------------------===//

#include "seqc/Support/HugePages.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include <sys/mman.h>

size_t seqc::hugePageBytes() {
  size_t bytes = size_t(2) << 20;
  if (FILE *f = std::fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
                           "r")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1 && v >= 4096 && (v & (v - 1)) == 0)
      bytes = size_t(v);
    std::fclose(f);
  }
  return bytes;
}

seqc::HugeRegion seqc::mapHugeRegion(size_t bytes) {
  const size_t page = hugePageBytes();
  size_t len = (bytes + page - 1) / page * page;
  void *raw = mmap(nullptr, len + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return HugeRegion();
  // Trim the unaligned head and the tail beyond the aligned length.
  uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  uintptr_t start = (begin + page - 1) & ~(page - 1);
  if (start > begin)
    munmap(raw, start - begin);
  uintptr_t end = begin + len + page;
  if (end > start + len)
    munmap(reinterpret_cast<void *>(start + len), end - (start + len));
  HugeRegion region;
  region.data = reinterpret_cast<void *>(start);
  region.bytes = len;
#ifdef MADV_HUGEPAGE
  madvise(region.data, len, MADV_HUGEPAGE); // advice: refused or ignored, 4 KiB
#endif
  return region;
}

void seqc::unmapHugeRegion(HugeRegion &region) {
  if (region.data)
    munmap(region.data, region.bytes);
  region = HugeRegion();
}

size_t seqc::bytesInHugePages(const void *p, size_t n) {
  if (!p || !n)
    return 0;
  std::ifstream in("/proc/self/smaps");
  if (!in)
    return 0;
  uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + n;
  size_t total = 0;
  bool inside = false;
  std::string line;
  // Whole lines, however long their paths: each mapping's first line is
  // "start-end perms ...", then "Key: N kB" lines (no key is hex digits
  // followed by '-'). The counts are per mapping, capped at n.
  while (std::getline(in, line)) {
    unsigned long long start, end, kb;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &start, &end) == 2) {
      inside = start < hi && end > lo;
      continue;
    }
    if (inside &&
        (std::sscanf(line.c_str(), "AnonHugePages: %llu kB", &kb) == 1 ||
         std::sscanf(line.c_str(), "FilePmdMapped: %llu kB", &kb) == 1 ||
         std::sscanf(line.c_str(), "ShmemPmdMapped: %llu kB", &kb) == 1))
      total += size_t(kb) * 1024;
  }
  return std::min(total, n);
}
