//===- Checksum.cpp - XXH64 -----------------------------------------------===//
//
// xxHash's XXH64, written from its specification (doc/xxhash_spec.md of
// the xxHash repository).
//
//===----------------------------------------------------------------------===//

#include "seqc/Support/Checksum.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full,
                   P3 = 0x165667B19E3779F9ull, P4 = 0x85EBCA77C2B2AE63ull,
                   P5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Little-endian loads (the hash is defined on little-endian words).
inline uint64_t read64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}
inline uint32_t read32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

inline uint64_t round(uint64_t acc, uint64_t input) {
  acc += input * P2;
  return rotl(acc, 31) * P1;
}

inline uint64_t mergeRound(uint64_t acc, uint64_t lane) {
  acc ^= round(0, lane);
  return acc * P1 + P4;
}

/// Consumes whole 32-byte stripes of `p` into the lanes; returns the bytes
/// consumed.
size_t stripes(uint64_t lanes[4], const unsigned char *p, size_t size) {
  size_t n = size / 32 * 32;
  uint64_t v1 = lanes[0], v2 = lanes[1], v3 = lanes[2], v4 = lanes[3];
  for (size_t i = 0; i < n; i += 32) {
    v1 = round(v1, read64(p + i));
    v2 = round(v2, read64(p + i + 8));
    v3 = round(v3, read64(p + i + 16));
    v4 = round(v4, read64(p + i + 24));
  }
  lanes[0] = v1, lanes[1] = v2, lanes[2] = v3, lanes[3] = v4;
  return n;
}

uint64_t finish(const uint64_t lanes[4], uint64_t seed, uint64_t total,
                const unsigned char *p, size_t rest) {
  uint64_t h;
  if (total >= 32) {
    h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) +
        rotl(lanes[3], 18);
    for (int i = 0; i < 4; ++i)
      h = mergeRound(h, lanes[i]);
  } else {
    h = seed + P5;
  }
  h += total;
  size_t i = 0;
  for (; i + 8 <= rest; i += 8)
    h = rotl(h ^ round(0, read64(p + i)), 27) * P1 + P4;
  if (i + 4 <= rest) {
    h = rotl(h ^ (uint64_t)read32(p + i) * P1, 23) * P2 + P3;
    i += 4;
  }
  for (; i < rest; ++i)
    h = rotl(h ^ p[i] * P5, 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

} // namespace

seqc::Xxh64Stream::Xxh64Stream(uint64_t seed)
    : lanes{seed + P1 + P2, seed + P2, seed, seed - P1}, seed(seed) {}

void seqc::Xxh64Stream::update(const void *data, size_t size) {
  // Nothing to add (an empty tensor may come with no pointer at all).
  if (size == 0)
    return;
  const unsigned char *p = static_cast<const unsigned char *>(data);
  total += size;
  if (pendingBytes) {
    size_t take = std::min(size, 32 - pendingBytes);
    std::memcpy(pending + pendingBytes, p, take);
    pendingBytes += take;
    p += take;
    size -= take;
    if (pendingBytes < 32)
      return;
    stripes(lanes, pending, 32);
    pendingBytes = 0;
  }
  size_t used = stripes(lanes, p, size);
  std::memcpy(pending, p + used, size - used);
  pendingBytes = size - used;
}

uint64_t seqc::Xxh64Stream::digest() const {
  return finish(lanes, seed, total, pending, pendingBytes);
}

uint64_t seqc::xxh64(const void *data, size_t size, uint64_t seed) {
  Xxh64Stream s(seed);
  s.update(data, size);
  return s.digest();
}

std::string seqc::formatChecksum(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "xxh64:%016llx", (unsigned long long)value);
  return text;
}

bool seqc::parseChecksum(const std::string &text, uint64_t &value) {
  if (text.size() != 22 || text.compare(0, 6, "xxh64:") != 0)
    return false;
  uint64_t v = 0;
  for (size_t i = 6; i < text.size(); ++i) {
    char c = text[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0)
      return false;
    v = v << 4 | (uint64_t)d;
  }
  value = v;
  return true;
}
