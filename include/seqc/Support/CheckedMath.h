//===- CheckedMath.h - sizes and offsets that cannot wrap -------*- C++ -*-===//
//
// Checkpoint headers are written by whoever made the file: a shape of
// [2^32, 2^32] multiplies to 0 in 64 bits, an element count of 2^62 times 4
// bytes wraps to a small size, and an offset of 2^63 - 8 plus a length lands
// before the buffer. Every reader combines sizes and offsets from a file
// through these helpers, which say when the exact result does not fit
// instead of wrapping. No MLIR or LLVM: the runtime can use them too.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_CHECKEDMATH_H
#define SEQC_SUPPORT_CHECKEDMATH_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace seqc {

/// a * b, or nullopt when the product does not fit.
inline std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}
inline std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

/// a + b, or nullopt when the sum does not fit.
inline std::optional<uint64_t> checkedAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return std::nullopt;
  return r;
}
inline std::optional<int64_t> checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

/// The element count of a shape: the product of its sizes, or nullopt when
/// a size is negative or the product exceeds INT64_MAX.
inline std::optional<int64_t> checkedProduct(const int64_t *dims, size_t n) {
  int64_t p = 1;
  for (size_t i = 0; i < n; ++i) {
    if (dims[i] < 0 || __builtin_mul_overflow(p, dims[i], &p))
      return std::nullopt;
  }
  return p;
}
inline std::optional<int64_t> checkedProduct(const std::vector<int64_t> &dims) {
  return checkedProduct(dims.data(), dims.size());
}

/// Whether [offset, offset + length) lies inside a buffer of `size` bytes,
/// without computing a sum that could wrap.
inline bool rangeInside(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

} // namespace seqc

#endif // SEQC_SUPPORT_CHECKEDMATH_H
