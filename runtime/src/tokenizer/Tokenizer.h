//===- Tokenizer.h - text <-> token ids ------------------------*- C++ -*-===//
//
// Tokenizers of the models seqc runs: raw bytes (token = byte value) and the
// RWKV World vocabulary (greedy longest match over a byte trie). They need no
// MLIR or LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_TOKENIZER_TOKENIZER_H
#define SEQC_RUNTIME_TOKENIZER_TOKENIZER_H

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace seqc {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int32_t> encode(const std::string &text) const = 0;
  /// The bytes of one token (possibly part of a UTF-8 character).
  virtual std::string decode(int32_t token) const = 0;
  virtual int32_t size() const = 0;
  /// The text as encode() sees it after the tokenizer's normalizer: what
  /// the decoded ids of `text` spell.
  virtual std::string normalize(const std::string &text) const { return text; }
  /// Why `text` cannot be encoded (a byte no token holds, with its offset),
  /// or "" when it can; encode() requires text this accepts.
  virtual std::string unencodable(const std::string &text) const { return ""; }

  /// "bytes", "world" or "neox", reading `vocabPath` (empty: the file in
  /// ../shared/data). Errors go to `error`.
  static std::unique_ptr<Tokenizer> create(const std::string &kind,
                                           const std::string &vocabPath,
                                           std::string &error);
};

class ByteTokenizer : public Tokenizer {
public:
  std::vector<int32_t> encode(const std::string &text) const override;
  std::string decode(int32_t token) const override;
  int32_t size() const override { return 256; }
};

/// RWKV World: lines "ID REPR LENGTH" where REPR is a Python str or bytes
/// literal; text is split greedily into the longest vocabulary entries.
class WorldTokenizer : public Tokenizer {
public:
  /// Reads the vocabulary; on failure returns null and sets `error`
  /// ("path:line: cause").
  static std::unique_ptr<WorldTokenizer> load(const std::string &path,
                                              std::string &error);
  /// The same on the text of a vocabulary file (`name` names it in
  /// messages): the entry point of the fuzz harnesses.
  static std::unique_ptr<WorldTokenizer> fromText(const std::string &text,
                                                  const std::string &name,
                                                  std::string &error);
  std::vector<int32_t> encode(const std::string &text) const override;
  std::string decode(int32_t token) const override;
  int32_t size() const override { return (int32_t)tokens.size(); }
  std::string unencodable(const std::string &text) const override;

private:
  std::vector<std::string> tokens; // By id (id 0 is the empty end token).
  std::vector<bool> defined;       // By id: a line of the file defines it.
  // Trie over bytes: node -> (byte -> child); token id at each node (-1: none).
  std::unordered_map<uint64_t, int32_t> children;
  std::vector<int32_t> nodeToken;
  void insert(const std::string &bytes, int32_t id);
};

/// GPT-NeoX 20B: byte-level BPE from a Hugging Face tokenizer.json
/// (20B_tokenizer.json), with its added tokens and the GPT-2 pretokenizer.
/// Text between added tokens is NFC-normalized when the file's normalizer
/// is NFC (the only one supported).
class NeoXTokenizer : public Tokenizer {
public:
  static std::unique_ptr<NeoXTokenizer> load(const std::string &path,
                                             std::string &error);
  /// The same on the text of a tokenizer.json (`name` names it in
  /// messages): the entry point of the fuzz harnesses.
  static std::unique_ptr<NeoXTokenizer> fromText(const std::string &text,
                                                 const std::string &name,
                                                 std::string &error);
  std::vector<int32_t> encode(const std::string &text) const override;
  std::string decode(int32_t token) const override;
  int32_t size() const override { return (int32_t)pieces.size(); }
  std::string normalize(const std::string &text) const override;
  std::string unencodable(const std::string &text) const override;

private:
  std::unordered_map<std::string, int32_t> vocab, ranks;
  std::vector<std::string> pieces; // By id.
  std::vector<bool> pieceDefined;  // By id: the file gives its piece.
  std::vector<std::pair<std::string, int32_t>> added; // Longest first.
  std::unordered_set<int32_t> addedIds;
  std::string byteToUnicode[256];
  std::unordered_map<std::string, char> unicodeToByte;
  bool byteHasToken[256] = {false};
  /// Encoded pieces; locked, so that threads may share a tokenizer.
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;
  mutable std::mutex cacheMutex;
  bool normalizeNFC = false;
  void bpe(const std::string &word, std::vector<int32_t> &out) const;
  void encodePlain(const std::string &text, std::vector<int32_t> &out) const;
  /// Calls `plain` with the text between added tokens (normalized) and
  /// `token` with each added token, in order.
  void
  split(const std::string &text,
        const std::function<void(const std::string &)> &plain,
        const std::function<void(const std::string &, int32_t)> &token) const;
};

/// Appends the UTF-8 encoding of a code point.
void appendUtf8(std::string &out, uint32_t cp);

/// The length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
size_t utf8Length(unsigned char lead);

/// Reads `n` hex digits of `s` at `pos` into `v`, advancing `pos`; false
/// (and `pos` unchanged) on a short or malformed number.
bool parseHex(const std::string &s, size_t &pos, size_t n, uint32_t &v);

/// Splits `pending` into the longest prefix of whole UTF-8 characters
/// (returned) and an incomplete tail (left in `pending`). Bytes that can
/// never start or continue a character come out as U+FFFD.
std::string takeWholeUtf8(std::string &pending);

} // namespace seqc

#endif // SEQC_RUNTIME_TOKENIZER_TOKENIZER_H
