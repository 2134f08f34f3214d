//===- HugePages.h - memory in transparent huge pages -----------*- C++ -*-===//
//
// Anonymous memory asked for transparent huge pages, and how much of a
// range the OS holds in huge pages (Linux: /proc/self/smaps): the runtime's
// copy of the weights (--weight-pages=huge-copy) and seqc-run bench's
// bandwidth probe use the same two pieces. No MLIR or LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_HUGEPAGES_H
#define SEQC_SUPPORT_HUGEPAGES_H

#include <cstddef>

namespace seqc {

/// The size of a transparent huge page (a PMD: 2 MiB on x86-64, 512 MiB on
/// arm64 with 64 KiB pages), or 2 MiB where the kernel does not say.
size_t hugePageBytes();

/// Anonymous read-write memory of at least `bytes`, aligned to the huge
/// page size and its length rounded up to it, advised MADV_HUGEPAGE before
/// anything touches it (so that every page of it can be a huge one).
struct HugeRegion {
  void *data = nullptr; // null when the map failed (errno says why)
  size_t bytes = 0;     // the rounded length: what unmapHugeRegion unmaps
};
HugeRegion mapHugeRegion(size_t bytes);
void unmapHugeRegion(HugeRegion &region);

/// Bytes the OS holds in huge pages now in the mappings that overlap
/// [p, p + n) (AnonHugePages, FilePmdMapped, ShmemPmdMapped of
/// /proc/self/smaps), at most n; 0 where smaps cannot be read.
size_t bytesInHugePages(const void *p, size_t n);

} // namespace seqc

#endif // SEQC_SUPPORT_HUGEPAGES_H
