//===- Tokenizers.h - what the tokenizer harnesses share --------*- C++ -*-===//
//
// A tokenizer is held to its contract on fuzzed text: when unencodable()
// accepts the text, encode() gives ids in range whose decoded bytes spell
// normalize(text); otherwise it names why. A broken contract aborts.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_FUZZ_TOKENIZERS_H
#define SEQC_FUZZ_TOKENIZERS_H

#include "tokenizer/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace seqc::fuzz {

inline void requireTok(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "seqc fuzz: broken contract: %s\n", what);
    std::abort();
  }
}

/// Encodes `text`, decodes the ids and checks the round trip.
inline void roundTrip(const Tokenizer &tok, const std::string &text) {
  std::string why = tok.unencodable(text);
  if (!why.empty())
    return;
  std::vector<int32_t> ids = tok.encode(text);
  requireTok(text.empty() || !ids.empty(),
             "encodable text encodes to no tokens");
  std::string decoded;
  for (int32_t id : ids) {
    requireTok(id >= 0 && id < tok.size(), "a token id is out of range");
    decoded += tok.decode(id);
  }
  std::string expected = tok.normalize(text);
  if (decoded != expected) {
    std::fprintf(stderr, "seqc fuzz: text   ");
    for (unsigned char c : expected)
      std::fprintf(stderr, "%02x", c);
    std::fprintf(stderr, "\nseqc fuzz: tokens");
    for (int32_t id : ids) {
      std::fprintf(stderr, " %d:", id);
      for (unsigned char c : tok.decode(id))
        std::fprintf(stderr, "%02x", c);
    }
    std::fprintf(stderr, "\n");
  }
  requireTok(decoded == expected,
             "the decoded tokens do not spell the (normalized) text");
}

/// Splits an input into a vocabulary file and a text at its first NUL byte
/// (no text when there is none).
inline void splitInput(const uint8_t *data, size_t size, std::string &file,
                       std::string &text) {
  std::string all(reinterpret_cast<const char *>(data), size);
  size_t nul = all.find('\0');
  file = all.substr(0, nul);
  text = nul == std::string::npos ? "" : all.substr(nul + 1);
}

} // namespace seqc::fuzz

#endif // SEQC_FUZZ_TOKENIZERS_H
