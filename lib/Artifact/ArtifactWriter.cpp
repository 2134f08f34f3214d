//===- ArtifactWriter.cpp - the deployable artifact directory -------------===//

#include "seqc/Artifact/Artifact.h"
#include "seqc/Artifact/OutputFile.h"
#include "seqc/Support/Checksum.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

using namespace llvm;

Error seqc::ArtifactWriter::check(ArrayRef<StringRef> executables) const {
  if (!sys::fs::exists(dir))
    return Error::success();
  if (!sys::fs::is_directory(dir))
    return createStringError(dir + ": exists and is not a directory");
  std::error_code ec;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    StringRef name = sys::path::filename(it->path());
    // Temporaries of a killed compile are not foreign (each write makes a
    // new, unique one).
    if (name != "weights.bin" && name != "manifest.json" &&
        !is_contained(executables, name) && !name.contains(kTempMarker))
      return createStringError(dir + ": directory holds files that are not a "
                                     "seqc artifact; refusing to write into "
                                     "it");
  }
  return Error::success();
}

Error seqc::ArtifactWriter::create() const {
  if (std::error_code ec = sys::fs::create_directories(dir))
    return createStringError(dir +
                             ": cannot create directory: " + ec.message());
  return Error::success();
}

std::string seqc::ArtifactWriter::path(StringRef name) const {
  SmallString<256> p(dir);
  sys::path::append(p, name);
  return std::string(p);
}

Error seqc::ArtifactWriter::writeFile(StringRef name,
                                      StringRef contents) const {
  return writeFileAtomic(path(name), contents);
}

Expected<std::unique_ptr<seqc::WeightsFile>>
seqc::WeightsFile::create(const ArtifactWriter &artifact) {
  std::unique_ptr<WeightsFile> file(new WeightsFile(artifact));
  // The directories create() will make, deepest first (removed again if the
  // compile fails).
  for (StringRef d = artifact.getDir(); !d.empty() && !sys::fs::exists(d);
       d = sys::path::parent_path(d))
    file->madeDirs.push_back(d.str());
  if (Error e = artifact.create())
    return std::move(e);
  std::string path = artifact.path("weights.bin");
  if (Error e = createTempFile(path, file->tmp))
    return std::move(e);
  file->fd = ::open(file->tmp.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (file->fd < 0) {
    file->failure = strerror(errno);
    return file->takeError();
  }
  // Room for the header, written last.
  std::string room(artifact::kWeightsHeaderBytes, '\0');
  file->write(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(room.data()),
                                room.size()));
  return std::move(file);
}

seqc::WeightsFile::~WeightsFile() {
  if (fd >= 0)
    ::close(fd);
  if (committed)
    return;
  if (!tmp.empty())
    discardTempFile(tmp);
  // Only empty directories go (remove() refuses others).
  for (const std::string &d : madeDirs)
    (void)sys::fs::remove(d);
}

/// Writes all of `size` bytes at `data` to `fd`; false with errno set.
static bool writeAll(int fd, const uint8_t *data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, std::min<size_t>(size, 1u << 30));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return false;
    }
    data += n;
    size -= (size_t)n;
  }
  return true;
}

void seqc::WeightsFile::write(ArrayRef<uint8_t> bytes) {
  if (!failure.empty() || fd < 0)
    return;
  if (!writeAll(fd, bytes.data(), bytes.size()))
    failure = strerror(errno);
  written += bytes.size();
}

Error seqc::WeightsFile::takeError() {
  if (failure.empty())
    return Error::success();
  return createStringError(artifact.path("weights.bin") + ": write failed: " +
                           failure + " (nothing was written)");
}

Error seqc::WeightsFile::commit(const WeightBlob &weights, uint64_t id,
                                std::optional<StringRef> executable) {
  if (Error e = takeError())
    return e;
  if (written != artifact::kWeightsHeaderBytes + weights.size)
    return createStringError(formatv(
        "internal error: {0} bytes of weights written, the blob has {1}",
        written - artifact::kWeightsHeaderBytes, weights.size));
  // The header (seqc/artifact.h) before the blob, which is page-aligned
  // when mapped. It records the checksums of the blob and of the
  // executable the runtime opens first (it checks that file before dlopen
  // maps it).
  artifact::WeightsHeader header;
  header.id = id;
  header.bytes = weights.size;
  header.payloadChecksum = weights.checksum.digest();
  if (executable) {
    auto exe = MemoryBuffer::getFile(artifact.path(*executable),
                                     /*IsText=*/false,
                                     /*RequiresNullTerminator=*/false);
    if (!exe)
      return createStringError(artifact.path(*executable) +
                               ": cannot read: " + exe.getError().message());
    header.checked = true;
    header.executableBytes = (*exe)->getBufferSize();
    header.executableChecksum =
        xxh64((*exe)->getBufferStart(), (*exe)->getBufferSize());
  }
  std::string text = artifact::formatWeightsHeader(header);
  const uint8_t *p = reinterpret_cast<const uint8_t *>(text.data());
  if (::lseek(fd, 0, SEEK_SET) != 0 || !writeAll(fd, p, text.size()))
    failure = strerror(errno);
  if (::close(fd) != 0 && failure.empty())
    failure = strerror(errno);
  fd = -1;
  if (Error e = takeError())
    return e;
  if (Error e = commitTempFile(tmp, artifact.path("weights.bin")))
    return e;
  committed = true;
  return Error::success();
}

Error seqc::ArtifactWriter::writeManifest(const Manifest &manifest) const {
  return writeFile("manifest.json", manifest.json());
}
