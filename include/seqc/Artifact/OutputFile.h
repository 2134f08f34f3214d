//===- OutputFile.h - how seqc writes every output file ---------*- C++ -*-===//
//
// One helper for every file seqc writes (import's module, compile's
// --emit files, the artifact's files), so that each gets the same care:
//
//  - it never writes over a file the command reads, nor over an existing
//    file that is not an earlier output of the same kind unless forced;
//  - it refuses symbolic links, FIFOs and other special files (a character
//    device such as /dev/null is written directly);
//  - it writes a temporary created exclusively (O_EXCL, a unique name next
//    to the destination) and renames it, so a failed or interrupted write
//    leaves the destination as it was; the temporary is removed on every
//    failure path (and on a fatal signal), and a failure is seqc's own
//    message naming the file and the cause.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_ARTIFACT_OUTPUTFILE_H
#define SEQC_ARTIFACT_OUTPUTFILE_H

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace seqc {

/// What an output file holds: an earlier file of the same kind may be
/// written over without --force.
enum class OutputKind { MLIR, LLVMIR, Object, Any };

struct OutputPolicy {
  OutputKind kind = OutputKind::Any;
  /// The files the command reads (never written over, even forced).
  std::vector<std::string> inputs;
  /// Write over an existing regular file of another kind.
  bool force = false;
};

/// Whether `path` may be written under `policy` (call before long work;
/// writeOutputFile checks again).
llvm::Error checkOutputFile(llvm::StringRef path, const OutputPolicy &policy);

/// Checks `path`, then writes `contents` to it atomically.
llvm::Error writeOutputFile(llvm::StringRef path, llvm::StringRef contents,
                            const OutputPolicy &policy);

/// Writes `contents` to `path` through an exclusive temporary and a rename
/// (no policy check: for files inside a directory already checked, such as
/// an artifact's).
llvm::Error writeFileAtomic(llvm::StringRef path, llvm::StringRef contents);

/// Creates an empty exclusive temporary next to `path` (its name holds
/// kTempMarker) and registers it for removal on a fatal signal.
llvm::Error createTempFile(llvm::StringRef path,
                           llvm::SmallVectorImpl<char> &tmp);
/// Renames a temporary of createTempFile over `path` (removing the
/// temporary if that fails).
llvm::Error commitTempFile(llvm::StringRef tmp, llvm::StringRef path);
/// Removes a temporary of createTempFile.
void discardTempFile(llvm::StringRef tmp);

/// In the names of seqc's temporaries (ArtifactWriter::check tolerates
/// files left by a killed compile).
constexpr const char *kTempMarker = ".seqc-tmp-";

} // namespace seqc

#endif // SEQC_ARTIFACT_OUTPUTFILE_H
