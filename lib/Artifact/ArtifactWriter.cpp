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

Error seqc::ArtifactWriter::writeWeights(
    const WeightBlob &weights, uint64_t id,
    std::optional<StringRef> executable) const {
  // The header (seqc/artifact.h), then the blob, page-aligned when mapped.
  // The header records the checksums of the blob and of the executable the
  // runtime opens first (it checks that file before dlopen maps it).
  artifact::WeightsHeader header;
  header.id = id;
  header.bytes = weights.bytes.size();
  header.payloadChecksum = xxh64(weights.bytes.data(), weights.bytes.size());
  if (executable) {
    auto exe = MemoryBuffer::getFile(path(*executable), /*IsText=*/false,
                                     /*RequiresNullTerminator=*/false);
    if (!exe)
      return createStringError(path(*executable) +
                               ": cannot read: " + exe.getError().message());
    header.checked = true;
    header.executableBytes = (*exe)->getBufferSize();
    header.executableChecksum =
        xxh64((*exe)->getBufferStart(), (*exe)->getBufferSize());
  }
  std::string file = artifact::formatWeightsHeader(header);
  file.append(reinterpret_cast<const char *>(weights.bytes.data()),
              weights.bytes.size());
  return writeFile("weights.bin", file);
}

Error seqc::ArtifactWriter::writeManifest(const Manifest &manifest) const {
  return writeFile("manifest.json", manifest.json());
}
