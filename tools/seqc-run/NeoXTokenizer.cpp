//===- NeoXTokenizer.cpp - GPT-NeoX 20B byte-level BPE --------------------===//
//
// Reads 20B_tokenizer.json (a Hugging Face tokenizer: BPE model, ByteLevel
// pretokenizer and decoder, added tokens) and encodes like it: added tokens
// are split off first (leftmost, longest), the rest is split by the GPT-2
// pretokenizer pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented as a scanner over code points with generated Unicode tables),
// each piece's bytes are mapped to the byte-level alphabet and merged by BPE
// rank. The NFC normalizer is not applied: text is taken as already NFC.
//
//===----------------------------------------------------------------------===//

#include "Tokenizer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

using namespace seqc;

namespace {

struct CodepointRange {
  uint32_t lo, hi;
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
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open the GPT-NeoX tokenizer";
    return nullptr;
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
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
  for (const auto &[piece, id] : vocab->fields) {
    if (id.kind != Json::Number || id.number < 0 || id.number > 1e7) {
      error = path + ": vocabulary entry '" + piece + "' has no valid id";
      return nullptr;
    }
    int32_t i = (int32_t)id.number;
    tok->vocab[piece] = i;
    if ((size_t)i >= tok->pieces.size())
      tok->pieces.resize(i + 1);
    tok->pieces[i] = piece;
  }
  for (size_t r = 0; r < merges->items.size(); ++r) {
    const std::string &m = merges->items[r].str;
    size_t space = m.find(' ');
    if (merges->items[r].kind != Json::String || space == std::string::npos) {
      error = path + ": merge " + std::to_string(r) + " is not 'a b'";
      return nullptr;
    }
    tok->ranks[m] = (int32_t)r;
  }
  if (const Json *added = root.get("added_tokens")) {
    for (const Json &a : added->items) {
      const Json *content = a.get("content"), *id = a.get("id");
      if (!content || !id)
        continue;
      tok->added.push_back({content->str, (int32_t)id->number});
      if ((size_t)id->number >= tok->pieces.size())
        tok->pieces.resize((size_t)id->number + 1);
      tok->pieces[(size_t)id->number] = content->str;
      tok->addedIds.insert((int32_t)id->number);
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
    tok->unicodeToByte[u] = (char)b;
  }
  return tok;
}

/// BPE of one pretokenized piece (already in the byte-level alphabet).
void NeoXTokenizer::bpe(const std::string &word,
                        std::vector<int32_t> &out) const {
  auto cached = cache.find(word);
  if (cached != cache.end()) {
    out.insert(out.end(), cached->second.begin(), cached->second.end());
    return;
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
  cache.emplace(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

/// The GPT-2 pretokenizer over a text without added tokens.
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

std::vector<int32_t> NeoXTokenizer::encode(const std::string &text) const {
  std::vector<int32_t> ids;
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
    encodePlain(text.substr(start, i - start), ids);
    ids.push_back(match->second);
    i += match->first.size();
    start = i;
  }
  encodePlain(text.substr(start), ids);
  return ids;
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
