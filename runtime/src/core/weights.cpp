//===- core/weights.cpp - map weights.bin ---------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/artifact.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace seqc::rt;

seqc_status seqc::rt::mapWeights(const std::string &dir, uint64_t weightsId,
                                 uint64_t weightBytes, WeightsMapping &out) {
  constexpr size_t header = artifact::kWeightsHeaderBytes;
  std::string path = dir + "/weights.bin";
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return error("%s: cannot open: %s", path.c_str(), strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return error("%s: cannot stat: %s", path.c_str(), strerror(errno));
  }
  size_t size = (size_t)st.st_size;
  if (size < header + weightBytes) {
    close(fd);
    return error("%s: %zu bytes, but the model needs %zu (truncated?)",
                 path.c_str(), size, (size_t)(header + weightBytes));
  }
  void *p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return error("%s: cannot map: %s", path.c_str(), strerror(errno));
  out.mapping = p;
  out.mappingSize = size;
  uint64_t id = 0, bytes = 0;
  if (!artifact::parseWeightsHeader(p, size, id, bytes))
    return error("%s: not a seqc weights file", path.c_str());
  if (id != weightsId || bytes != weightBytes)
    return error("%s: belongs to another compilation (weights id %016llx, "
                 "model.so expects %016llx); recompile or copy the matching "
                 "pair",
                 path.c_str(), (unsigned long long)id,
                 (unsigned long long)weightsId);
  out.data = static_cast<const uint8_t *>(p) + header;
  out.bytes = weightBytes;
  return nullptr;
}

void seqc::rt::unmapWeights(WeightsMapping &w) {
  if (w.mapping)
    munmap(w.mapping, w.mappingSize);
  w = WeightsMapping();
}
