//===- Checksum.h - the weights payload checksum ----------------*- C++ -*-===//
//
// `seqc compile` records a checksum of the weights blob (and of the
// executable) in the artifact; the runtime recomputes it to detect a
// corrupted or truncated copy before it runs code over the bytes. XXH64
// (xxHash's 64-bit hash, seed 0): four independent 64-bit lanes, so one
// core hashes at memory speed (docs/design.md has the measured rate), and
// the function is public, so other tools can check an artifact too. No MLIR
// or LLVM: the compiler and the runtime both link it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_CHECKSUM_H
#define SEQC_SUPPORT_CHECKSUM_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace seqc {

/// XXH64 of `size` bytes at `data` with `seed`.
uint64_t xxh64(const void *data, size_t size, uint64_t seed = 0);

/// XXH64 of a byte stream fed in pieces (the same value as one call).
class Xxh64Stream {
public:
  explicit Xxh64Stream(uint64_t seed = 0);
  void update(const void *data, size_t size);
  uint64_t digest() const;

private:
  uint64_t lanes[4];
  uint64_t seed, total = 0;
  unsigned char pending[32];
  size_t pendingBytes = 0;
};

/// "xxh64:" and 16 lowercase hex digits: how artifacts spell a checksum.
std::string formatChecksum(uint64_t value);
/// Reads formatChecksum's form; false when `text` is not one.
bool parseChecksum(const std::string &text, uint64_t &value);

} // namespace seqc

#endif // SEQC_SUPPORT_CHECKSUM_H
