//===- tokenizer_api.cpp - the tokenizers behind the C API ----------------===//

#include "Tokenizer.h"
#include "core/status.h"
#include "seqc/artifact.h"

#include <cstring>

using seqc::rt::error;

struct seqc_tokenizer {
  std::unique_ptr<seqc::Tokenizer> impl;
};

namespace {

/// Copies `v` to a caller's buffer of `capacity` elements, and its size to
/// `*n` (a short buffer gets a prefix; the caller asks again).
template <typename T>
void copyOut(const T *data, size_t size, T *out, size_t capacity, size_t *n) {
  if (out)
    std::memcpy(out, data, sizeof(T) * std::min(size, capacity));
  *n = size;
}

} // namespace

extern "C" {

seqc_status seqc_tokenizer_create(const char *name, const char *vocabPath,
                                  seqc_tokenizer **out) {
  if (!name || !out)
    return error("seqc_tokenizer_create: null argument");
  *out = nullptr;
  std::string err;
  auto impl = seqc::Tokenizer::create(name, vocabPath ? vocabPath : "", err);
  if (!impl)
    return error("%s", err.c_str());
  *out = new seqc_tokenizer{std::move(impl)};
  return nullptr;
}

seqc_status seqc_tokenizer_create_for_model(const seqc_model *model,
                                            const char *vocabPath,
                                            seqc_tokenizer **out) {
  if (!model || !out)
    return error("seqc_tokenizer_create_for_model: null argument");
  *out = nullptr;
  const char *kind = seqc_model_get(
      model, seqc::artifact::keyName(seqc::artifact::Key::Tokenizer));
  if (!kind || !std::strcmp(kind, "none"))
    return error("this model has no tokenizer; give token ids with --tokens");
  seqc_tokenizer *tok = nullptr;
  if (seqc_status s = seqc_tokenizer_create(kind, vocabPath, &tok))
    return s;
  if (tok->impl->size() > seqc_model_vocab(model)) {
    seqc_status s = error("the tokenizer has %d tokens but the model only %d",
                          tok->impl->size(), seqc_model_vocab(model));
    seqc_tokenizer_free(tok);
    return s;
  }
  *out = tok;
  return nullptr;
}

void seqc_tokenizer_free(seqc_tokenizer *tokenizer) { delete tokenizer; }

int32_t seqc_tokenizer_size(const seqc_tokenizer *tokenizer) {
  return tokenizer->impl->size();
}

seqc_status seqc_tokenizer_encode(const seqc_tokenizer *tokenizer,
                                  const char *text, size_t len, int32_t *ids,
                                  size_t capacity, size_t *n) {
  if (!tokenizer || (!text && len) || !n)
    return error("seqc_tokenizer_encode: null argument");
  std::string s(text, len);
  std::string why = tokenizer->impl->unencodable(s);
  if (!why.empty())
    return error("cannot tokenize the text: %s", why.c_str());
  std::vector<int32_t> v = tokenizer->impl->encode(s);
  copyOut(v.data(), v.size(), ids, capacity, n);
  return nullptr;
}

seqc_status seqc_tokenizer_decode(const seqc_tokenizer *tokenizer,
                                  int32_t token, char *bytes, size_t capacity,
                                  size_t *n) {
  if (!tokenizer || !n)
    return error("seqc_tokenizer_decode: null argument");
  if (token < 0 || token >= tokenizer->impl->size())
    return error("token %d is out of range: the tokenizer has %d tokens", token,
                 tokenizer->impl->size());
  std::string s = tokenizer->impl->decode(token);
  copyOut(s.data(), s.size(), bytes, capacity, n);
  return nullptr;
}

seqc_status seqc_tokenizer_normalize(const seqc_tokenizer *tokenizer,
                                     const char *text, size_t len, char *out,
                                     size_t capacity, size_t *n) {
  if (!tokenizer || (!text && len) || !n)
    return error("seqc_tokenizer_normalize: null argument");
  std::string s = tokenizer->impl->normalize(std::string(text, len));
  copyOut(s.data(), s.size(), out, capacity, n);
  return nullptr;
}

size_t seqc_utf8_take_whole(char *pending, size_t *pendingLen, char *out) {
  std::string p(pending, *pendingLen);
  std::string whole = seqc::takeWholeUtf8(p);
  std::memcpy(out, whole.data(), whole.size());
  std::memmove(pending, p.data(), p.size());
  *pendingLen = p.size();
  return whole.size();
}

} // extern "C"
