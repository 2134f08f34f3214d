//===- Tokenizer.cpp - text <-> token ids -------------------------------===//

#include "Tokenizer.h"
#include "seqc/Support/ParseNumber.h"
#include "seqc/Support/ReadFile.h"

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace seqc;

std::unique_ptr<Tokenizer> Tokenizer::create(const std::string &kind,
                                             const std::string &vocabPath,
                                             std::string &error) {
  if (kind == "bytes") {
    if (!vocabPath.empty()) {
      // Ignoring it would hide a mistake (the user meant another tokenizer).
      error = "the bytes tokenizer reads no vocabulary file (" + vocabPath +
              " given)";
      return nullptr;
    }
    return std::make_unique<ByteTokenizer>();
  }
  if (kind == "world")
    return WorldTokenizer::load(vocabPath.empty()
                                    ? "../shared/data/rwkv_vocab_v20230424.txt"
                                    : vocabPath,
                                error);
  if (kind == "neox")
    return NeoXTokenizer::load(
        vocabPath.empty() ? "../shared/data/20B_tokenizer.json" : vocabPath,
        error);
  error = "tokenizer '" + kind +
          "' is not supported by this runtime (bytes, world and neox are)";
  return nullptr;
}

std::vector<int32_t> ByteTokenizer::encode(const std::string &text) const {
  std::vector<int32_t> ids;
  for (unsigned char c : text)
    ids.push_back(c);
  return ids;
}

std::string ByteTokenizer::decode(int32_t token) const {
  return std::string(1, (char)token);
}

size_t seqc::utf8Length(unsigned char c) {
  return c < 0x80         ? 1
         : (c >> 5) == 6  ? 2
         : (c >> 4) == 14 ? 3
         : (c >> 3) == 30 ? 4
                          : 0;
}

bool seqc::parseHex(const std::string &s, size_t &pos, size_t n, uint32_t &v) {
  if (pos + n > s.size())
    return false;
  v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return false;
  }
  pos += n;
  return true;
}

void seqc::appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += (char)cp;
  } else if (cp < 0x800) {
    out += (char)(0xc0 | (cp >> 6));
    out += (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += (char)(0xe0 | (cp >> 12));
    out += (char)(0x80 | ((cp >> 6) & 0x3f));
    out += (char)(0x80 | (cp & 0x3f));
  } else {
    out += (char)(0xf0 | (cp >> 18));
    out += (char)(0x80 | ((cp >> 12) & 0x3f));
    out += (char)(0x80 | ((cp >> 6) & 0x3f));
    out += (char)(0x80 | (cp & 0x3f));
  }
}

/// Parses a Python str or bytes literal at `s[pos]`; returns false on a
/// malformed literal.
static bool parsePyLiteral(const std::string &s, size_t &pos,
                           std::string &out) {
  bool bytes = false;
  if (pos < s.size() && s[pos] == 'b') {
    bytes = true;
    ++pos;
  }
  if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"'))
    return false;
  char quote = s[pos++];
  auto hex = [&](size_t n, uint32_t &v) { return parseHex(s, pos, n, v); };
  while (pos < s.size() && s[pos] != quote) {
    char c = s[pos++];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos >= s.size())
      return false;
    char e = s[pos++];
    uint32_t v;
    switch (e) {
    case 'n':
      out += '\n';
      break;
    case 't':
      out += '\t';
      break;
    case 'r':
      out += '\r';
      break;
    case '\\':
      out += '\\';
      break;
    case '\'':
      out += '\'';
      break;
    case '"':
      out += '"';
      break;
    case 'x':
      if (!hex(2, v))
        return false;
      if (bytes)
        out += (char)v;
      else
        appendUtf8(out, v);
      break;
    case 'u':
    case 'U':
      if (bytes || !hex(e == 'u' ? 4 : 8, v))
        return false;
      appendUtf8(out, v);
      break;
    default:
      return false;
    }
  }
  if (pos >= s.size())
    return false;
  ++pos; // Closing quote.
  return true;
}

void WorldTokenizer::insert(const std::string &bytes, int32_t id) {
  int32_t node = 0;
  for (unsigned char c : bytes) {
    uint64_t key = ((uint64_t)node << 8) | c;
    auto it = children.find(key);
    if (it == children.end()) {
      int32_t child = (int32_t)nodeToken.size();
      nodeToken.push_back(-1);
      it = children.emplace(key, child).first;
    }
    node = it->second;
  }
  nodeToken[node] = id;
}

std::unique_ptr<WorldTokenizer> WorldTokenizer::load(const std::string &path,
                                                     std::string &error) {
  std::string text;
  if (!readRegularFile(path, text, error)) {
    // "PATH: cannot open the ...: CAUSE" (the reader's message names the
    // path first).
    error = path + ": cannot open the RWKV World vocabulary: " +
            error.substr(path.size() + 2);
    return nullptr;
  }
  return fromText(text, path, error);
}

/// Ids beyond any RWKV World vocabulary (65536 tokens): a larger one is an
/// edited number, which would size the id table.
constexpr int64_t kMaxWorldId = 1000000;

std::unique_ptr<WorldTokenizer>
WorldTokenizer::fromText(const std::string &text, const std::string &path,
                         std::string &error) {
  std::istringstream in(text);
  auto tok = std::unique_ptr<WorldTokenizer>(new WorldTokenizer);
  tok->nodeToken.push_back(-1); // Root.
  tok->tokens.push_back("");    // Id 0: end of text.
  std::string line;
  for (size_t lineNo = 1; std::getline(in, line); ++lineNo) {
    if (line.empty())
      continue;
    auto bad = [&](const std::string &why) {
      error = path + ":" + std::to_string(lineNo) + ": " + why;
      return nullptr;
    };
    size_t pos = line.find(' ');
    if (pos == std::string::npos)
      return bad("expected 'ID LITERAL LENGTH'");
    // Both numbers are whole decimal fields (no sign tricks, no trailing
    // text), read with the flags' strict parser.
    int64_t id, length;
    std::string why;
    if (!parseInteger(line.substr(0, pos), 1, kMaxWorldId, id, why))
      return bad("token id '" + line.substr(0, pos) + "': " + why);
    ++pos;
    std::string bytes;
    if (!parsePyLiteral(line, pos, bytes))
      return bad("malformed token literal");
    if (pos >= line.size() || line[pos] != ' ' ||
        !parseInteger(line.substr(pos + 1), 0, INT64_MAX, length, why))
      return bad("expected the token's length after its literal");
    if (length != (int64_t)bytes.size())
      return bad("token length " + std::to_string(length) +
                 " does not match its literal (" +
                 std::to_string(bytes.size()) + " bytes)");
    // A second definition of an id would leave the first one's bytes in
    // the trie, encoding them as a token that decodes to other bytes.
    if ((size_t)id < tok->tokens.size() && tok->defined[id])
      return bad("token id " + std::to_string(id) + " is defined twice");
    if ((size_t)id >= tok->tokens.size()) {
      tok->tokens.resize(id + 1);
      tok->defined.resize(id + 1);
    }
    tok->defined[id] = true;
    tok->tokens[id] = bytes;
    tok->insert(bytes, (int32_t)id);
  }
  if (tok->tokens.size() < 2) {
    error = path + ": the vocabulary is empty";
    return nullptr;
  }
  return tok;
}

std::vector<int32_t> WorldTokenizer::encode(const std::string &text) const {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t node = 0, best = -1;
    size_t bestLen = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      auto it = children.find(((uint64_t)node << 8) | (unsigned char)text[i]);
      if (it == children.end())
        break;
      node = it->second;
      if (nodeToken[node] >= 0) {
        best = nodeToken[node];
        bestLen = i - pos + 1;
      }
    }
    if (best < 0) // unencodable() refused such text.
      return {};
    ids.push_back(best);
    pos += bestLen;
  }
  return ids;
}

std::string WorldTokenizer::unencodable(const std::string &text) const {
  // The official vocabulary has a token for every byte; a file without one
  // could not encode it (there is no fallback that is not another token).
  bool has[256] = {false};
  for (int b = 0; b < 256; ++b) {
    auto it = children.find((uint64_t)b);
    has[b] = it != children.end() && nodeToken[it->second] >= 0;
  }
  for (size_t i = 0; i < text.size(); ++i)
    if (!has[(unsigned char)text[i]]) {
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "byte 0x%02X at offset %zu has no token in the RWKV World "
                    "vocabulary",
                    (unsigned char)text[i], i);
      return buf;
    }
  return "";
}

std::string WorldTokenizer::decode(int32_t token) const {
  return token >= 0 && (size_t)token < tokens.size() ? tokens[token] : "";
}

std::string seqc::takeWholeUtf8(std::string &pending) {
  std::string out;
  size_t i = 0;
  while (i < pending.size()) {
    unsigned char c = pending[i];
    size_t len = utf8Length(c);
    if (len == 0) { // A stray continuation or invalid lead byte.
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (i + len > pending.size()) {
      // Incomplete: keep it unless a byte already breaks the sequence.
      bool broken = false;
      for (size_t j = i + 1; j < pending.size(); ++j)
        broken |= ((unsigned char)pending[j] >> 6) != 2;
      if (!broken)
        break;
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    bool ok = true;
    for (size_t j = 1; j < len; ++j)
      ok &= ((unsigned char)pending[i + j] >> 6) == 2;
    if (!ok) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(pending, i, len);
    i += len;
  }
  pending.erase(0, i);
  return out;
}
