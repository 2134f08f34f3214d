//===- ArtifactWriter.cpp - the deployable artifact directory -------------===//

#include "seqc/Artifact/Artifact.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

Error seqc::writeFileAtomic(StringRef path, StringRef contents) {
  SmallString<256> tmp(path);
  tmp += ".tmp";
  std::error_code ec;
  {
    raw_fd_ostream os(tmp, ec, sys::fs::OF_None);
    if (ec)
      return createStringError(path + ": cannot write: " + ec.message());
    os << contents;
    os.close();
    if (os.has_error())
      return createStringError(path +
                               ": write failed: " + os.error().message());
  }
  if ((ec = sys::fs::rename(tmp, path)))
    return createStringError(path + ": cannot write: " + ec.message());
  return Error::success();
}

Error seqc::ArtifactWriter::check(ArrayRef<StringRef> executables) const {
  if (!sys::fs::exists(dir))
    return Error::success();
  if (!sys::fs::is_directory(dir))
    return createStringError(dir + ": exists and is not a directory");
  std::error_code ec;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    StringRef name = sys::path::filename(it->path());
    if (name != "weights.bin" && name != "manifest.json" &&
        !is_contained(executables, name))
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

Error seqc::ArtifactWriter::writeWeights(const WeightBlob &weights,
                                         uint64_t id) const {
  // The header (seqc/artifact.h), then the blob, page-aligned when mapped.
  std::string file = artifact::formatWeightsHeader(id, weights.bytes.size());
  file.append(reinterpret_cast<const char *>(weights.bytes.data()),
              weights.bytes.size());
  return writeFile("weights.bin", file);
}

Error seqc::ArtifactWriter::writeManifest(const Manifest &manifest) const {
  return writeFile("manifest.json", manifest.json());
}
