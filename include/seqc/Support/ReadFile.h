//===- ReadFile.h - read a whole file that a user named ---------*- C++ -*-===//
//
// A path on a command line may name a directory, a FIFO with no writer or a
// device that never ends. This reader opens without blocking, requires a
// regular file, bounds its size and reports every failure as a message
// naming the file, never as an exception or a hang. No MLIR or LLVM (the
// runtime's tokenizers and seqc-run use it).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_READFILE_H
#define SEQC_SUPPORT_READFILE_H

#include <cstddef>
#include <string>

namespace seqc {

/// Reads all of `path` into `out` when it is a regular file of at most
/// `maxBytes`; otherwise returns false with `error` naming the file and the
/// cause.
bool readRegularFile(const std::string &path, std::string &out,
                     std::string &error, size_t maxBytes = size_t(1) << 32);

} // namespace seqc

#endif // SEQC_SUPPORT_READFILE_H
