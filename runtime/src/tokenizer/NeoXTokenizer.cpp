//===- NeoXTokenizer.cpp - GPT-NeoX 20B byte-level BPE --------------------===//
//
// Reads 20B_tokenizer.json (a Hugging Face tokenizer: BPE model, ByteLevel
// pretokenizer and decoder, added tokens) and encodes like it: added tokens
// are split off first (leftmost, longest), the rest is split by the GPT-2
// pretokenizer pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented as a scanner over code points with generated Unicode tables),
// each piece's bytes are mapped to the byte-level alphabet and merged by BPE
// rank. Text between added tokens is NFC-normalized first, as the
// tokenizer's normalizer says.
//
//===----------------------------------------------------------------------===//

#include "Tokenizer.h"
#include "seqc/Support/JsonDepth.h"
#include "seqc/Support/ReadFile.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

using namespace seqc;

namespace {

struct CodepointRange {
  uint32_t lo, hi;
};
struct CombiningClassRange {
  uint32_t lo, hi;
  uint8_t ccc;
};
/// kDecompositions: {code point, first, second (0: none)}, by code point;
/// kCompositions: {first, second, composite}, by (first, second).
struct CodepointTriple {
  uint32_t a, b, c;
};
#include "UnicodeTables.inc"

template <size_t N>
bool inTable(const CodepointRange (&table)[N], uint32_t cp) {
  const CodepointRange *end = table + N;
  const CodepointRange *it =
      std::upper_bound(table, end, cp, [](uint32_t v, const CodepointRange &r) {
        return v < r.lo;
      });
  return it != table && cp <= (it - 1)->hi;
}
bool isLetter(uint32_t cp) { return inTable(kLetters, cp); }
bool isNumber(uint32_t cp) { return inTable(kNumbers, cp); }
bool isSpace(uint32_t cp) { return inTable(kWhiteSpace, cp); }

//===----------------------------------------------------------------------===//
// NFC (Unicode Standard Annex #15): canonical decomposition, canonical
// ordering of combining marks, canonical composition
//===----------------------------------------------------------------------===//

// Hangul syllables decompose and compose by arithmetic.
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161,
                   kTBase = 0x11A7, kLCount = 19, kVCount = 21, kTCount = 28,
                   kSCount = kLCount * kVCount * kTCount;

uint8_t combiningClass(uint32_t cp) {
  const CombiningClassRange *end = std::end(kCombiningClasses);
  const CombiningClassRange *it = std::upper_bound(
      std::begin(kCombiningClasses), end, cp,
      [](uint32_t v, const CombiningClassRange &r) { return v < r.lo; });
  return it != std::begin(kCombiningClasses) && cp <= (it - 1)->hi
             ? (it - 1)->ccc
             : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t> &out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / (kVCount * kTCount));
    out.push_back(kVBase + s % (kVCount * kTCount) / kTCount);
    if (s % kTCount)
      out.push_back(kTBase + s % kTCount);
    return;
  }
  const CodepointTriple *end = std::end(kDecompositions);
  const CodepointTriple *it = std::lower_bound(
      std::begin(kDecompositions), end, cp,
      [](const CodepointTriple &t, uint32_t v) { return t.a < v; });
  if (it == end || it->a != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->b, out);
  if (it->c)
    decompose(it->c, out);
}

/// The primary composite of (first, second), or 0.
uint32_t compose(uint32_t first, uint32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
      second < kVBase + kVCount)
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  if (first >= kSBase && first < kSBase + kSCount &&
      (first - kSBase) % kTCount == 0 && second > kTBase &&
      second < kTBase + kTCount)
    return first + (second - kTBase);
  const CodepointTriple *end = std::end(kCompositions);
  const CodepointTriple *it = std::lower_bound(
      std::begin(kCompositions), end, std::make_pair(first, second),
      [](const CodepointTriple &t, std::pair<uint32_t, uint32_t> v) {
        return std::make_pair(t.a, t.b) < v;
      });
  return it != end && it->a == first && it->b == second ? it->c : 0;
}

void decodeUtf8(const std::string &s, std::vector<uint32_t> &cps,
                std::vector<size_t> &offsets);

/// NFC of `text`; bytes that are not UTF-8 are kept and end a run.
std::string nfc(const std::string &text) {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return (unsigned char)c < 0x80; }))
    return text; // ASCII is its own NFC
  std::vector<uint32_t> cps;
  std::vector<size_t> offsets;
  decodeUtf8(text, cps, offsets);
  std::string out;
  std::vector<uint32_t> run;
  auto flush = [&] {
    // Canonical order: a stable sort of each run of non-starters by class
    // (O(n log n) however the marks come).
    std::vector<std::pair<uint8_t, uint32_t>> marks;
    for (size_t i = 0; i < run.size();) {
      if (combiningClass(run[i]) == 0) {
        ++i;
        continue;
      }
      size_t end = i;
      marks.clear();
      for (uint8_t c; end < run.size() && (c = combiningClass(run[end])); ++end)
        marks.push_back({c, run[end]});
      std::stable_sort(
          marks.begin(), marks.end(),
          [](const auto &x, const auto &y) { return x.first < y.first; });
      for (size_t k = 0; k < marks.size(); ++k)
        run[i + k] = marks[k].second;
      i = end;
    }
    // Composition: each character joins the last starter unless a
    // character between them blocks it (class 0, or not lower than its own).
    std::vector<uint32_t> res;
    ptrdiff_t starter = -1;
    for (uint32_t cp : run) {
      uint8_t c = combiningClass(cp);
      if (starter >= 0) {
        bool adjacent = (ptrdiff_t)res.size() - 1 == starter;
        uint8_t last = combiningClass(res.back());
        if (adjacent || (last != 0 && last < c)) {
          if (uint32_t composite = compose(res[starter], cp)) {
            res[starter] = composite;
            continue;
          }
        }
      }
      if (c == 0)
        starter = res.size();
      res.push_back(cp);
    }
    for (uint32_t cp : res)
      appendUtf8(out, cp);
    run.clear();
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    // Not UTF-8 (also overlong forms, surrogates, beyond U+10FFFF): kept as
    // it is.
    uint32_t cp = cps[i];
    size_t len = offsets[i + 1] - offsets[i];
    bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                    (len == 4 && cp < 0x10000);
    if (cp == 0xFFFFFFFF || overlong || (cp >= 0xD800 && cp < 0xE000) ||
        cp > 0x10FFFF) {
      flush();
      out.append(text, offsets[i], offsets[i + 1] - offsets[i]);
      continue;
    }
    decompose(cps[i], run);
  }
  flush();
  return out;
}

/// Decodes UTF-8 into code points with their byte offsets (invalid bytes
/// become one "code point" each, classified as other).
void decodeUtf8(const std::string &s, std::vector<uint32_t> &cps,
                std::vector<size_t> &offsets) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t len = utf8Length(c);
    uint32_t cp = 0xFFFFFFFF;
    if (len && i + len <= s.size()) {
      cp = len == 1 ? c : c & (0x7F >> len);
      for (size_t j = 1; j < len; ++j) {
        unsigned char d = s[i + j];
        if ((d >> 6) != 2) {
          cp = 0xFFFFFFFF;
          break;
        }
        cp = (cp << 6) | (d & 0x3F);
      }
    }
    if (cp == 0xFFFFFFFF)
      len = 1;
    offsets.push_back(i);
    cps.push_back(cp);
    i += len;
  }
  offsets.push_back(s.size());
}

//===----------------------------------------------------------------------===//
// A small JSON reader (objects, arrays, strings, numbers, literals)
//===----------------------------------------------------------------------===//

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  double number = 0;
  std::string str;
  std::vector<Json> items;                          // Array
  std::vector<std::pair<std::string, Json>> fields; // Object, in order

  const Json *get(const std::string &key) const {
    for (const auto &f : fields)
      if (f.first == key)
        return &f.second;
    return nullptr;
  }
};

class JsonParser {
public:
  explicit JsonParser(const std::string &text) : s(text) {}
  bool parse(Json &out, std::string &err) {
    // value() recurses once per level: refuse deep nesting before it runs.
    if (!seqc::checkJsonDepth(s.data(), s.size(), err))
      return false;
    if (!value(out) || (ws(), pos != s.size())) {
      err = "invalid JSON at byte " + std::to_string(pos);
      return false;
    }
    return true;
  }

private:
  const std::string &s;
  size_t pos = 0;

  void ws() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' ||
                              s[pos] == '\r' || s[pos] == '\t'))
      ++pos;
  }
  bool lit(const char *word) {
    size_t n = std::strlen(word);
    if (s.compare(pos, n, word) != 0)
      return false;
    pos += n;
    return true;
  }
  bool hex4(uint32_t &v) { return parseHex(s, pos, 4, v); }
  bool string(std::string &out) {
    if (s[pos] != '"')
      return false;
    ++pos;
    while (pos < s.size() && s[pos] != '"') {
      char c = s[pos++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= s.size())
        return false;
      char e = s[pos++];
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!hex4(cp))
          return false;
        if (cp >= 0xD800 && cp < 0xDC00) { // Surrogate pair.
          uint32_t lo;
          if (!lit("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
            return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return false;
      }
    }
    if (pos >= s.size())
      return false;
    ++pos;
    return true;
  }
  bool value(Json &out) {
    ws();
    if (pos >= s.size())
      return false;
    char c = s[pos];
    if (c == '{') {
      out.kind = Json::Object;
      ++pos;
      ws();
      if (pos < s.size() && s[pos] == '}')
        return ++pos, true;
      while (true) {
        ws();
        std::string key;
        if (pos >= s.size() || !string(key))
          return false;
        ws();
        if (pos >= s.size() || s[pos++] != ':')
          return false;
        out.fields.emplace_back(std::move(key), Json());
        if (!value(out.fields.back().second))
          return false;
        ws();
        if (pos < s.size() && s[pos] == ',') {
          ++pos;
          continue;
        }
        return pos < s.size() && s[pos++] == '}';
      }
    }
    if (c == '[') {
      out.kind = Json::Array;
      ++pos;
      ws();
      if (pos < s.size() && s[pos] == ']')
        return ++pos, true;
      while (true) {
        out.items.emplace_back();
        if (!value(out.items.back()))
          return false;
        ws();
        if (pos < s.size() && s[pos] == ',') {
          ++pos;
          continue;
        }
        return pos < s.size() && s[pos++] == ']';
      }
    }
    if (c == '"') {
      out.kind = Json::String;
      return string(out.str);
    }
    if (lit("null"))
      return true;
    if (lit("true") || lit("false")) {
      out.kind = Json::Bool;
      out.number = s[pos - 1] == 'e' && s[pos - 2] == 'u';
      return true;
    }
    char *end = nullptr;
    out.number = std::strtod(s.c_str() + pos, &end);
    if (end == s.c_str() + pos)
      return false;
    out.kind = Json::Number;
    pos = end - s.c_str();
    return true;
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// NeoXTokenizer
//===----------------------------------------------------------------------===//

std::unique_ptr<NeoXTokenizer> NeoXTokenizer::load(const std::string &path,
                                                   std::string &error) {
  std::string text;
  if (!readRegularFile(path, text, error)) {
    // "PATH: cannot open the ...: CAUSE" (the reader's message names the
    // path first).
    error = path + ": cannot open the GPT-NeoX tokenizer: " +
            error.substr(path.size() + 2);
    return nullptr;
  }
  return fromText(text, path, error);
}

std::unique_ptr<NeoXTokenizer> NeoXTokenizer::fromText(const std::string &text,
                                                       const std::string &path,
                                                       std::string &error) {
  Json root;
  if (!JsonParser(text).parse(root, error)) {
    error = path + ": " + error;
    return nullptr;
  }
  const Json *model = root.get("model");
  const Json *vocab = model ? model->get("vocab") : nullptr;
  const Json *merges = model ? model->get("merges") : nullptr;
  const Json *type = model ? model->get("type") : nullptr;
  if (!type || type->str != "BPE" || !vocab || vocab->kind != Json::Object ||
      !merges || merges->kind != Json::Array) {
    error = path + ": not a byte-level BPE tokenizer (needs model.type BPE, "
                   "model.vocab and model.merges)";
    return nullptr;
  }
  auto tok = std::unique_ptr<NeoXTokenizer>(new NeoXTokenizer);
  if (const Json *norm = root.get("normalizer");
      norm && norm->kind != Json::Null) {
    const Json *ntype = norm->get("type");
    if (!ntype || ntype->str != "NFC") {
      error = path + ": normalizer " +
              (ntype ? "'" + ntype->str + "'" : std::string("without a type")) +
              " is not supported (NFC or none)";
      return nullptr;
    }
    tok->normalizeNFC = true;
  }
  for (const auto &[piece, id] : vocab->fields) {
    if (id.kind != Json::Number || id.number < 0 || id.number > 1e7) {
      error = path + ": vocabulary entry '" + piece + "' has no valid id";
      return nullptr;
    }
    int32_t i = (int32_t)id.number;
    tok->vocab[piece] = i;
    if ((size_t)i >= tok->pieces.size()) {
      tok->pieces.resize(i + 1);
      tok->pieceDefined.resize(i + 1);
    }
    // Two pieces with one id: BPE would make one of them and decoding
    // would spell the other.
    if (tok->pieceDefined[i]) {
      error = path + ": vocabulary entries '" + tok->pieces[i] + "' and '" +
              piece + "' have the same id " + std::to_string(i);
      return nullptr;
    }
    tok->pieceDefined[i] = true;
    tok->pieces[i] = piece;
  }
  for (size_t r = 0; r < merges->items.size(); ++r) {
    const std::string &m = merges->items[r].str;
    size_t space = m.find(' ');
    if (merges->items[r].kind != Json::String || space == std::string::npos) {
      error = path + ": merge " + std::to_string(r) + " is not 'a b'";
      return nullptr;
    }
    // A merge whose result has no id would encode as some other token.
    std::string merged = m.substr(0, space) + m.substr(space + 1);
    if (!tok->vocab.count(merged)) {
      error = path + ": merge " + std::to_string(r) + " ('" + m +
              "') makes a piece that is not in the vocabulary";
      return nullptr;
    }
    tok->ranks[m] = (int32_t)r;
  }
  if (const Json *added = root.get("added_tokens")) {
    for (size_t k = 0; k < added->items.size(); ++k) {
      const Json &a = added->items[k];
      const Json *content = a.get("content"), *id = a.get("id");
      if (!content || !id)
        continue;
      // The same bounds as the vocabulary's ids: a negative, huge,
      // fractional or non-numeric id would index out of range or replace
      // another piece.
      if (content->kind != Json::String || id->kind != Json::Number ||
          id->number < 0 || id->number > 1e7 ||
          id->number != (double)(int32_t)id->number) {
        error = path + ": added_tokens[" + std::to_string(k) +
                "] has no valid id (a whole number in [0, 10^7]) or content";
        return nullptr;
      }
      size_t i = (size_t)id->number;
      // An added token may repeat a vocabulary entry (the official files
      // list <|endoftext|> in both) but not give its id other text.
      if (i < tok->pieces.size() && tok->pieceDefined[i] &&
          tok->pieces[i] != content->str) {
        error = path + ": added_tokens[" + std::to_string(k) + "] '" +
                content->str + "' has the id " + std::to_string(i) + " of '" +
                tok->pieces[i] + "'";
        return nullptr;
      }
      tok->added.push_back({content->str, (int32_t)i});
      if (i >= tok->pieces.size()) {
        tok->pieces.resize(i + 1);
        tok->pieceDefined.resize(i + 1);
      }
      tok->pieceDefined[i] = true;
      tok->pieces[i] = content->str;
      tok->addedIds.insert((int32_t)i);
    }
    std::stable_sort(tok->added.begin(), tok->added.end(),
                     [](const auto &a, const auto &b) {
                       return a.first.size() > b.first.size();
                     });
  }
  // GPT-2's byte <-> unicode map: printable bytes map to themselves, the
  // others to 256, 257, ...
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? b : 256 + n++;
    std::string u;
    appendUtf8(u, cp);
    tok->byteToUnicode[b] = u;
    tok->byteHasToken[b] = tok->vocab.count(u) != 0;
    tok->unicodeToByte[u] = (char)b;
  }
  return tok;
}

/// BPE of one pretokenized piece (already in the byte-level alphabet).
void NeoXTokenizer::bpe(const std::string &word,
                        std::vector<int32_t> &out) const {
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto cached = cache.find(word);
    if (cached != cache.end()) {
      out.insert(out.end(), cached->second.begin(), cached->second.end());
      return;
    }
  }
  // Symbols: the word's UTF-8 characters.
  std::vector<std::string> parts;
  for (size_t i = 0; i < word.size();) {
    unsigned char c = word[i];
    size_t len = std::max<size_t>(utf8Length(c), 1);
    parts.push_back(word.substr(i, len));
    i += len;
  }
  while (parts.size() > 1) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks.find(parts[i] + " " + parts[i + 1]);
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT32_MAX)
      break;
    std::string first = parts[at], second = parts[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < parts.size();) {
      if (i + 1 < parts.size() && parts[i] == first && parts[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(parts[i++]);
      }
    }
    parts.swap(merged);
  }
  std::vector<int32_t> ids;
  for (const std::string &p : parts) {
    auto it = vocab.find(p);
    ids.push_back(it == vocab.end() ? 0 : it->second);
  }
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    cache.emplace(word, ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

/// The GPT-2 pretokenizer over a (normalized) text without added tokens.
void NeoXTokenizer::encodePlain(const std::string &text,
                                std::vector<int32_t> &out) const {
  std::vector<uint32_t> cp;
  std::vector<size_t> off;
  decodeUtf8(text, cp, off);
  size_t n = cp.size();
  auto cls = [&](size_t i) {
    // 0: letter, 1: number, 2: space, 3: other.
    return isLetter(cp[i]) ? 0 : isNumber(cp[i]) ? 1 : isSpace(cp[i]) ? 2 : 3;
  };
  auto emit = [&](size_t from, size_t to) {
    std::string mapped;
    for (size_t b = off[from]; b < off[to]; ++b)
      mapped += byteToUnicode[(unsigned char)text[b]];
    bpe(mapped, out);
  };
  size_t i = 0;
  while (i < n) {
    // 's 't 're 've 'm 'll 'd
    if (cp[i] == '\'' && i + 1 < n) {
      static const char *suffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
      size_t len = 0;
      for (const char *sfx : suffixes) {
        size_t k = std::strlen(sfx), j = 0;
        while (j < k && i + 1 + j < n && cp[i + 1 + j] == (uint32_t)sfx[j])
          ++j;
        if (j == k) {
          len = k;
          break;
        }
      }
      if (len) {
        emit(i, i + 1 + len);
        i += 1 + len;
        continue;
      }
    }
    //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
    size_t start = i, j = i;
    if (cp[j] == ' ' && j + 1 < n && cls(j + 1) != 2)
      ++j;
    int c = cls(j);
    if (c != 2) {
      while (j < n && cls(j) == c)
        ++j;
      emit(start, j);
      i = j;
      continue;
    }
    // \s+(?!\S) | \s+
    j = i;
    while (j < n && cls(j) == 2)
      ++j;
    if (j < n && j - i > 1)
      --j; // Leave the last space for the next word.
    emit(i, j);
    i = j;
  }
}

void NeoXTokenizer::split(
    const std::string &text,
    const std::function<void(const std::string &)> &plain,
    const std::function<void(const std::string &, int32_t)> &token) const {
  auto emit = [&](size_t from, size_t to) {
    std::string piece = text.substr(from, to - from);
    plain(normalizeNFC ? nfc(piece) : piece);
  };
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const std::pair<std::string, int32_t> *match = nullptr;
    for (const auto &a : added)
      if (!a.first.empty() && text.compare(i, a.first.size(), a.first) == 0) {
        match = &a;
        break;
      }
    if (!match) {
      ++i;
      continue;
    }
    emit(start, i);
    token(match->first, match->second);
    i += match->first.size();
    start = i;
  }
  emit(start, text.size());
}

std::vector<int32_t> NeoXTokenizer::encode(const std::string &text) const {
  std::vector<int32_t> ids;
  split(
      text, [&](const std::string &piece) { encodePlain(piece, ids); },
      [&](const std::string &, int32_t id) { ids.push_back(id); });
  return ids;
}

std::string NeoXTokenizer::unencodable(const std::string &text) const {
  // Bytes that never occur in UTF-8 (0xC0, 0xC1, 0xF5..0xFF) have no token
  // in the GPT-NeoX vocabulary; there is no byte fallback to give them, and
  // a special token in their place would be a silent wrong answer.
  for (size_t i = 0; i < text.size(); ++i)
    if (!byteHasToken[(unsigned char)text[i]]) {
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "byte 0x%02X at offset %zu has no token in the GPT-NeoX "
                    "vocabulary (the text is not UTF-8 there)",
                    (unsigned char)text[i], i);
      return buf;
    }
  if (!normalizeNFC)
    return "";
  // NFC can make characters the text does not hold (A + U+030A is U+00C5),
  // and it is the normalized text that is encoded: its bytes need tokens
  // too (else BPE would meet a piece with no id).
  std::string why;
  size_t offset = 0;
  split(
      text,
      [&](const std::string &piece) {
        for (size_t i = 0; i < piece.size() && why.empty(); ++i)
          if (!byteHasToken[(unsigned char)piece[i]]) {
            char buf[200];
            std::snprintf(buf, sizeof buf,
                          "byte 0x%02X at offset %zu of the text's NFC form "
                          "has no token in the GPT-NeoX vocabulary",
                          (unsigned char)piece[i], offset + i);
            why = buf;
          }
        offset += piece.size();
      },
      [&](const std::string &content, int32_t) { offset += content.size(); });
  return why;
}

std::string NeoXTokenizer::normalize(const std::string &text) const {
  std::string out;
  split(
      text, [&](const std::string &piece) { out += piece; },
      [&](const std::string &content, int32_t) { out += content; });
  return out;
}

std::string NeoXTokenizer::decode(int32_t token) const {
  if (token < 0 || (size_t)token >= pieces.size())
    return "";
  if (addedIds.count(token))
    return pieces[token];
  // Map the byte-level alphabet back to bytes.
  const std::string &p = pieces[token];
  std::string out;
  for (size_t i = 0; i < p.size();) {
    unsigned char c = p[i];
    size_t len = std::max<size_t>(utf8Length(c), 1);
    auto it = unicodeToByte.find(p.substr(i, len));
    if (it != unicodeToByte.end())
      out += it->second;
    i += len;
  }
  return out;
}
