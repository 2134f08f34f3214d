//===- core/files.cpp - check an artifact's files before using them -------===//
//
// dlopen maps model.so and faults (SIGBUS) when a segment lies past the end
// of a truncated file; a FIFO or a directory in place of a file blocks or
// fails in odd ways. So before anything maps a file, core opens it without
// blocking, requires a regular file, and checks model.so against the size
// and XXH64 checksum that weights.bin's header records, and its ELF segments
// against its size.
//
//===----------------------------------------------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/Support/Checksum.h"
#include "seqc/artifact.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace seqc::rt;

seqc_status seqc::rt::openRegularFile(const std::string &path, int &fd,
                                      size_t &size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return error("%s: cannot open: %s", path.c_str(), strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    fd = -1;
    return error("%s: not a regular file", path.c_str());
  }
  size = (size_t)st.st_size;
  return nullptr;
}

namespace {

/// Reads all of `size` bytes at `offset`.
bool readAt(int fd, void *buf, size_t size, off_t offset) {
  auto *p = static_cast<char *>(buf);
  while (size) {
    ssize_t n = pread(fd, p, size, offset);
    if (n <= 0)
      return false;
    p += n, size -= (size_t)n, offset += n;
  }
  return true;
}

/// Whether every part of the ELF file dlopen maps or reads lies inside it.
std::string checkElf(int fd, size_t size) {
  Elf64_Ehdr eh;
  if (size < sizeof eh || !readAt(fd, &eh, sizeof eh, 0) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return "not an ELF file";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr))
    return "not a 64-bit ELF library";
  if (eh.e_phoff > size ||
      eh.e_phnum > (size - eh.e_phoff) / sizeof(Elf64_Phdr))
    return "its program headers lie past the end of the file (truncated?)";
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  if (!readAt(fd, ph.data(), ph.size() * sizeof(Elf64_Phdr), eh.e_phoff))
    return "cannot read its program headers";
  for (const Elf64_Phdr &p : ph)
    if (p.p_offset > size || p.p_filesz > size - p.p_offset)
      return "a segment lies past the end of the file (truncated?)";
  if (eh.e_shnum &&
      (eh.e_shoff > size || eh.e_shentsize != sizeof(Elf64_Shdr) ||
       eh.e_shnum > (size - eh.e_shoff) / sizeof(Elf64_Shdr)))
    return "its section headers lie past the end of the file (truncated?)";
  return "";
}

} // namespace

seqc_status seqc::rt::readWeightsHeader(const std::string &dir,
                                        artifact::WeightsHeader &header) {
  std::string path = dir + "/weights.bin";
  int fd;
  size_t size;
  if (seqc_status s = openRegularFile(path, fd, size))
    return s;
  char text[artifact::kWeightsHeaderBytes];
  bool ok = size >= sizeof text && readAt(fd, text, sizeof text, 0);
  close(fd);
  if (!ok || !artifact::parseWeightsHeader(text, sizeof text, header))
    return error("%s: not a seqc weights file", path.c_str());
  return nullptr;
}

seqc_status seqc::rt::checkLibrary(const std::string &path,
                                   const artifact::WeightsHeader &header) {
  int fd;
  size_t size;
  if (seqc_status s = openRegularFile(path, fd, size))
    return s;
  std::string why;
  if (header.checked && size != header.executableBytes) {
    why = std::to_string(size) + " bytes, but weights.bin records " +
          std::to_string(header.executableBytes) + " (truncated or replaced?)";
  } else if (header.checked) {
    seqc::Xxh64Stream hash;
    std::vector<char> buf(1 << 20);
    for (size_t at = 0; at < size && why.empty();) {
      size_t n = std::min(buf.size(), size - at);
      if (!readAt(fd, buf.data(), n, (off_t)at))
        why = "cannot read it";
      hash.update(buf.data(), n);
      at += n;
    }
    if (why.empty() && hash.digest() != header.executableChecksum)
      why = "its checksum " + seqc::formatChecksum(hash.digest()) +
            " is not the " + seqc::formatChecksum(header.executableChecksum) +
            " weights.bin records (corrupted or replaced?)";
  }
  if (why.empty())
    why = checkElf(fd, size);
  close(fd);
  if (!why.empty())
    return error("%s: %s; refusing to load it", path.c_str(), why.c_str());
  return nullptr;
}
