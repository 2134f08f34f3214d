//===- core/session.cpp - sessions: state, logits, save / restore ---------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/artifact.h"

#include <algorithm>
#include <cstring>

using namespace seqc::rt;
using seqc::artifact::kStateMagic;

namespace {

/// Tokens per call of the prefill entries.
constexpr size_t kPrefillChunk = 128;

// Saved state: magic, weights id, float counts, position, state, logits.
constexpr size_t kSavedHeader = 8 + 4 * 8;

seqc_status checkTokens(const seqc_session *s, const int32_t *tokens,
                        size_t n) {
  const seqc_model *m = s->model;
  if (n == 0 || !tokens)
    return error("no tokens to feed");
  if (m->context && s->position + (int64_t)n > m->context)
    return error("the KV cache holds %lld tokens and is compiled for %lld: "
                 "%zu more do not fit (reset the session, or compile with a "
                 "larger --context)",
                 (long long)s->position, (long long)m->context, n);
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m->info.vocab)
      return error("token %d (at position %zu) is out of range: the "
                   "vocabulary has %d tokens",
                   tokens[i], i, m->info.vocab);
  return nullptr;
}

/// Tokens of a prompt of `n` per call of a prefill entry.
size_t promptChunk(const seqc_session *s, size_t n) {
  return s->model->wholePrompts ? n : kPrefillChunk;
}

} // namespace

/// The session's state as core reads it: the driver's newest copy first.
seqc_status syncState(const seqc_session *s) {
  return s->model->executable->syncState(
      const_cast<uint8_t *>(s->state.data()));
}

namespace {

seqc_status run(seqc_session *s, Entry entry, const int32_t *tokens, size_t n,
                float *logits, int64_t logitRows) {
  seqc_model *m = s->model;
  s->position += (int64_t)n;
  return m->executable->run(entry, m->weights.data, m->weights.bytes, tokens, n,
                            s->state.data(), logits, logitRows);
}

} // namespace

extern "C" {

seqc_status seqc_session_create(seqc_model *m, seqc_session **out) {
  if (!m || !out)
    return error("seqc_session_create: null argument");
  *out = nullptr;
  auto *s = new seqc_session{
      m, std::vector<uint8_t>((m->info.stateBytes + 3) / 4 * 4),
      std::vector<float>(m->info.vocab, 0.0f)};
  if (seqc_status st = seqc_session_reset(s)) {
    delete s;
    return st;
  }
  *out = s;
  return nullptr;
}

void seqc_session_free(seqc_session *s) {
  if (s)
    s->model->executable->stateChanged(s->state.data());
  delete s;
}

seqc_status seqc_session_reset(seqc_session *s) {
  if (seqc_status st = s->model->executable->init(s->state.data()))
    return st;
  s->position = 0;
  std::fill(s->logits.begin(), s->logits.end(), 0.0f);
  return nullptr;
}

seqc_status seqc_session_prefill(seqc_session *s, const int32_t *tokens,
                                 size_t n) {
  if (seqc_status st = checkTokens(s, tokens, n))
    return st;
  // Long prompts go through in chunks: the state carries across them, so
  // the result is the same, and the activations (which grow with the chunk
  // length) stay bounded. Not for a model that compresses each prompt's
  // KV rows at its end: that needs the whole prompt.
  size_t chunk = promptChunk(s, n);
  for (size_t at = 0; at < n; at += chunk) {
    size_t len = std::min(chunk, n - at);
    if (seqc_status st = run(s, len == 1 ? Entry::Step : Entry::Prefill,
                             tokens + at, len, s->logits.data(), 1))
      return st;
  }
  return nullptr;
}

seqc_status seqc_session_prefill_all(seqc_session *s, const int32_t *tokens,
                                     size_t n, float *logits) {
  if (seqc_status st = checkTokens(s, tokens, n))
    return st;
  if (!logits)
    return error("seqc_session_prefill_all: null logits buffer");
  int32_t vocab = s->model->info.vocab;
  size_t chunk = promptChunk(s, n);
  for (size_t at = 0; at < n; at += chunk) {
    size_t len = std::min(chunk, n - at);
    if (seqc_status st = run(s, Entry::PrefillAll, tokens + at, len,
                             logits + at * vocab, (int64_t)len))
      return st;
  }
  std::memcpy(s->logits.data(), logits + (n - 1) * vocab,
              sizeof(float) * vocab);
  return nullptr;
}

seqc_status seqc_session_step(seqc_session *s, int32_t token) {
  return seqc_session_prefill(s, &token, 1);
}

const float *seqc_session_logits(const seqc_session *s) {
  return s->logits.data();
}

const void *seqc_session_state_data(const seqc_session *s, size_t *bytes) {
  if (bytes)
    *bytes = 0;
  if (syncState(s))
    return nullptr;
  if (bytes)
    *bytes = s->state.size();
  return s->state.data();
}

size_t seqc_session_state_size(const seqc_session *s) {
  return kSavedHeader + s->state.size() + 4 * s->logits.size();
}

seqc_status seqc_session_save(const seqc_session *s, void *buffer,
                              size_t size) {
  if (!buffer || size < seqc_session_state_size(s))
    return error("seqc_session_save: buffer of %zu bytes, %zu needed", size,
                 seqc_session_state_size(s));
  if (seqc_status st = syncState(s))
    return st;
  uint8_t *p = static_cast<uint8_t *>(buffer);
  // The state's size counts floats, as format 2 has always saved it.
  uint64_t header[4] = {s->model->weightsId, s->state.size() / 4,
                        s->logits.size(), (uint64_t)s->position};
  std::memcpy(p, kStateMagic, 8);
  std::memcpy(p + 8, header, sizeof header);
  std::memcpy(p + kSavedHeader, s->state.data(), s->state.size());
  std::memcpy(p + kSavedHeader + s->state.size(), s->logits.data(),
              4 * s->logits.size());
  return nullptr;
}

seqc_status seqc_session_restore(seqc_session *s, const void *buffer,
                                 size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(buffer);
  if (!p || size < kSavedHeader || std::memcmp(p, kStateMagic, 8) != 0)
    return error("seqc_session_restore: not a saved seqc state");
  uint64_t header[4];
  std::memcpy(header, p + 8, sizeof header);
  if (header[0] != s->model->weightsId || header[1] != s->state.size() / 4 ||
      header[2] != s->logits.size())
    return error("seqc_session_restore: the state was saved by another "
                 "model (weights id %016llx, this model %016llx)",
                 (unsigned long long)header[0],
                 (unsigned long long)s->model->weightsId);
  if (size != seqc_session_state_size(s))
    return error("seqc_session_restore: %zu bytes, expected %zu", size,
                 seqc_session_state_size(s));
  std::memcpy(s->state.data(), p + kSavedHeader, s->state.size());
  s->model->executable->stateChanged(s->state.data());
  std::memcpy(s->logits.data(), p + kSavedHeader + s->state.size(),
              4 * s->logits.size());
  s->position = (int64_t)header[3];
  return nullptr;
}

seqc_status seqc_session_fork(const seqc_session *s, seqc_session **out) {
  if (!out)
    return error("seqc_session_fork: null argument");
  if (seqc_status st = syncState(s))
    return st;
  *out = new seqc_session(*s);
  // A new buffer, perhaps where a freed one was.
  s->model->executable->stateChanged((*out)->state.data());
  return nullptr;
}

} // extern "C"
