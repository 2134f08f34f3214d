//===- runtime.cpp - load and run seqc artifacts --------------------------===//

#include "seqc/runtime.h"
#include "seqc/artifact.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct seqc_status_t {
  std::string message;
};

namespace {

seqc_status error(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return new seqc_status_t{buf};
}

/// MLIR's memref descriptor of rank N (the C interface of the entries).
template <int N> struct MemRef {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

template <int N>
MemRef<N> memref(const void *data, std::initializer_list<int64_t> shape) {
  MemRef<N> m;
  m.allocated = m.aligned = const_cast<void *>(data);
  m.offset = 0;
  int i = 0;
  for (int64_t d : shape)
    m.sizes[i++] = d;
  int64_t stride = 1;
  for (int d = N - 1; d >= 0; --d) {
    m.strides[d] = stride;
    stride *= m.sizes[d];
  }
  return m;
}

// Every entry updates the state in place: a MemRef<3> of floats for
// recurrent models ([layers, rows, width]), a MemRef<1> of bytes (the
// layers' KV caches) for attention models.
using InitFn = void (*)(void *state);
using ForwardFn = void (*)(MemRef<1> *weights, MemRef<1> *tokens, void *state,
                           MemRef<2> *logits);

/// Tokens per call of the prefill entries.
constexpr size_t kPrefillChunk = 128;

using seqc::artifact::Key;
using seqc::artifact::keyName;
using seqc::artifact::kStateMagic;

} // namespace

struct seqc_model {
  std::string dir;
  void *library = nullptr;
  void *mapping = nullptr;
  size_t mappingSize = 0;
  const uint8_t *weights = nullptr;
  size_t weightBytes = 0;
  std::map<std::string, std::string> manifest;
  int32_t vocab = 0;
  int64_t stateShape[3] = {0, 0, 0};
  size_t stateFloats = 0;
  /// Attention models: the state's bytes (0 for recurrent models) and the
  /// KV cache capacity in tokens.
  size_t stateBytes = 0;
  int64_t context = 0;
  uint64_t weightsId = 0;
  InitFn init = nullptr;
  ForwardFn step = nullptr, prefill = nullptr, prefillAll = nullptr;
};

struct seqc_session {
  seqc_model *model;
  std::vector<float> state, logits;
  /// Tokens fed since the last reset.
  int64_t position = 0;
};

/// Calls `f` with the state's memref descriptor (bytes or [L, R, C]).
template <typename F> static void withStateRef(seqc_session *s, F f) {
  const seqc_model *m = s->model;
  if (m->stateBytes) {
    MemRef<1> st = memref<1>(s->state.data(), {(int64_t)m->stateBytes});
    f(static_cast<void *>(&st));
  } else {
    MemRef<3> st =
        memref<3>(s->state.data(),
                  {m->stateShape[0], m->stateShape[1], m->stateShape[2]});
    f(static_cast<void *>(&st));
  }
}

extern "C" {

const char *seqc_status_message(seqc_status status) {
  return status ? status->message.c_str() : "";
}

void seqc_status_free(seqc_status status) { delete status; }

static seqc_status parseManifest(seqc_model *m, const char *text) {
  m->manifest = seqc::artifact::parseManifest(text);
  auto need = [&](Key key) -> const std::string * {
    auto it = m->manifest.find(keyName(key));
    return it == m->manifest.end() ? nullptr : &it->second;
  };
  const std::string *format = need(Key::Format), *vocab = need(Key::Vocab),
                    *shape = need(Key::StateShape),
                    *stateBytes = need(Key::StateBytes),
                    *context = need(Key::Context),
                    *bytes = need(Key::WeightsBytes),
                    *id = need(Key::WeightsId);
  if (!format || !vocab || !(shape || (stateBytes && context)) || !bytes || !id)
    return error("%s/model.so: the embedded manifest lacks required keys",
                 m->dir.c_str());
  if (*format != std::to_string(seqc::artifact::kFormatVersion))
    return error("%s: artifact format %s is not supported by this runtime "
                 "(it reads format %d; recompile the model with this seqc)",
                 m->dir.c_str(), format->c_str(),
                 seqc::artifact::kFormatVersion);
  m->vocab = (int32_t)std::stol(*vocab);
  if (stateBytes) {
    m->stateBytes = std::stoull(*stateBytes);
    m->context = std::stoll(*context);
    m->stateFloats = (m->stateBytes + 3) / 4;
  } else {
    std::istringstream s(*shape);
    s >> m->stateShape[0] >> m->stateShape[1] >> m->stateShape[2];
    m->stateFloats =
        (size_t)(m->stateShape[0] * m->stateShape[1] * m->stateShape[2]);
  }
  m->weightBytes = std::stoull(*bytes);
  m->weightsId = std::stoull(*id, nullptr, 16);
  if (m->vocab <= 0 || m->stateFloats == 0)
    return error("%s: the manifest's vocab or state shape is invalid",
                 m->dir.c_str());
  return nullptr;
}

static seqc_status mapWeights(seqc_model *m) {
  std::string path = m->dir + "/weights.bin";
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return error("%s: cannot open: %s", path.c_str(), strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return error("%s: cannot stat: %s", path.c_str(), strerror(errno));
  }
  size_t size = (size_t)st.st_size;
  if (size < seqc::artifact::kWeightsHeaderBytes + m->weightBytes) {
    close(fd);
    return error("%s: %zu bytes, but the model needs %zu (truncated?)",
                 path.c_str(), size,
                 seqc::artifact::kWeightsHeaderBytes + m->weightBytes);
  }
  void *p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return error("%s: cannot map: %s", path.c_str(), strerror(errno));
  m->mapping = p;
  m->mappingSize = size;
  uint64_t id = 0, bytes = 0;
  if (!seqc::artifact::parseWeightsHeader(p, size, id, bytes))
    return error("%s: not a seqc weights file", path.c_str());
  if (id != m->weightsId || bytes != m->weightBytes)
    return error("%s: belongs to another compilation (weights id %016llx, "
                 "model.so expects %016llx); recompile or copy the matching "
                 "pair",
                 path.c_str(), (unsigned long long)id,
                 (unsigned long long)m->weightsId);
  m->weights =
      static_cast<const uint8_t *>(p) + seqc::artifact::kWeightsHeaderBytes;
  return nullptr;
}

/// The manifest's `cpu_features` (the instruction-set extensions the code was
/// compiled to use) that this CPU lacks, comma-separated; empty when it has
/// them all (names this runtime does not know are not checked).
static std::string missingCpuFeatures(const seqc_model *m) {
  auto it = m->manifest.find(keyName(Key::CpuFeatures));
  if (it == m->manifest.end())
    return "";
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  struct Feature {
    const char *name;
    bool has;
  };
  const Feature features[] = {
#define SEQC_CPU_FEATURE(name) {#name, __builtin_cpu_supports(#name) != 0},
#include "seqc/cpu_features.def"
  };

  std::string missing;
  std::istringstream in(it->second);
  std::string name;
  while (std::getline(in, name, ',')) {
    for (const Feature &f : features)
      if (name == f.name && !f.has)
        missing += (missing.empty() ? "" : ",") + name;
  }
  return missing;
#else
  return "";
#endif
}

seqc_status seqc_model_load(const char *dir, seqc_model **out) {
  if (!dir || !out)
    return error("seqc_model_load: null argument");
  *out = nullptr;
  auto *m = new seqc_model;
  m->dir = dir;
  std::string lib = m->dir + "/model.so";
  m->library = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->library) {
    seqc_status s = error("%s: cannot load: %s", lib.c_str(), dlerror());
    delete m;
    return s;
  }
  auto sym = [&](const char *name) { return dlsym(m->library, name); };
  const char *manifest =
      static_cast<const char *>(sym(seqc::artifact::kManifestSymbol));
  m->init = reinterpret_cast<InitFn>(sym("_mlir_ciface_seqc_init_state"));
  m->step = reinterpret_cast<ForwardFn>(sym("_mlir_ciface_seqc_step"));
  m->prefill = reinterpret_cast<ForwardFn>(sym("_mlir_ciface_seqc_prefill"));
  m->prefillAll =
      reinterpret_cast<ForwardFn>(sym("_mlir_ciface_seqc_prefill_all"));
  seqc_status s = nullptr;
  if (!manifest || !m->init || !m->step || !m->prefill || !m->prefillAll)
    s = error("%s: not a seqc model library (entry points or manifest "
              "missing)",
              lib.c_str());
  if (!s)
    s = parseManifest(m, manifest);
  if (!s) {
    // Code for extensions this CPU lacks would stop at an illegal
    // instruction: refuse it here.
    std::string missing = missingCpuFeatures(m);
    if (!missing.empty())
      s = error("%s: compiled for a CPU with %s, which this one lacks (cpu "
                "%s in the manifest); compile it again with --cpu=native or "
                "--cpu=generic",
                lib.c_str(), missing.c_str(),
                m->manifest[keyName(Key::Cpu)].c_str());
  }
  if (!s)
    s = mapWeights(m);
  if (s) {
    seqc_model_free(m);
    return s;
  }
  *out = m;
  return nullptr;
}

void seqc_model_free(seqc_model *m) {
  if (!m)
    return;
  if (m->mapping)
    munmap(m->mapping, m->mappingSize);
  if (m->library)
    dlclose(m->library);
  delete m;
}

const char *seqc_model_get(const seqc_model *m, const char *key) {
  auto it = m->manifest.find(key);
  return it == m->manifest.end() ? nullptr : it->second.c_str();
}

int32_t seqc_model_vocab(const seqc_model *m) { return m->vocab; }

size_t seqc_model_weight_bytes(const seqc_model *m) { return m->weightBytes; }

seqc_status seqc_session_create(seqc_model *m, seqc_session **out) {
  if (!m || !out)
    return error("seqc_session_create: null argument");
  auto *s = new seqc_session{m, std::vector<float>(m->stateFloats),
                             std::vector<float>(m->vocab, 0.0f)};
  seqc_session_reset(s);
  *out = s;
  return nullptr;
}

void seqc_session_free(seqc_session *s) { delete s; }

seqc_status seqc_session_reset(seqc_session *s) {
  withStateRef(s, [&](void *st) { s->model->init(st); });
  s->position = 0;
  std::fill(s->logits.begin(), s->logits.end(), 0.0f);
  return nullptr;
}

static seqc_status checkTokens(const seqc_session *s, const int32_t *tokens,
                               size_t n) {
  if (n == 0 || !tokens)
    return error("no tokens to feed");
  if (s->model->context && s->position + (int64_t)n > s->model->context)
    return error("the KV cache holds %lld tokens and is compiled for %lld: "
                 "%zu more do not fit (reset the session, or compile with a "
                 "larger --context)",
                 (long long)s->position, (long long)s->model->context, n);
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= s->model->vocab)
      return error("token %d (at position %zu) is out of range: the "
                   "vocabulary has %d tokens",
                   tokens[i], i, s->model->vocab);
  return nullptr;
}

static void run(seqc_session *s, ForwardFn fn, const int32_t *tokens, size_t n,
                float *logits, int64_t logitRows) {
  seqc_model *m = s->model;
  MemRef<1> w = memref<1>(m->weights, {(int64_t)m->weightBytes});
  MemRef<1> t = memref<1>(tokens, {(int64_t)n});
  s->position += (int64_t)n;
  MemRef<2> l = memref<2>(logits, {logitRows, m->vocab});
  withStateRef(s, [&](void *st) { fn(&w, &t, st, &l); });
}

seqc_status seqc_session_prefill(seqc_session *s, const int32_t *tokens,
                                 size_t n) {
  if (seqc_status st = checkTokens(s, tokens, n))
    return st;
  // Long prompts go through in chunks: the state carries across them, so
  // the result is the same, and the activations (which grow with the chunk
  // length) stay bounded.
  for (size_t at = 0; at < n; at += kPrefillChunk) {
    size_t len = std::min(kPrefillChunk, n - at);
    run(s, len == 1 ? s->model->step : s->model->prefill, tokens + at, len,
        s->logits.data(), 1);
  }
  return nullptr;
}

seqc_status seqc_session_prefill_all(seqc_session *s, const int32_t *tokens,
                                     size_t n, float *logits) {
  if (seqc_status st = checkTokens(s, tokens, n))
    return st;
  if (!logits)
    return error("seqc_session_prefill_all: null logits buffer");
  for (size_t at = 0; at < n; at += kPrefillChunk) {
    size_t len = std::min(kPrefillChunk, n - at);
    run(s, s->model->prefillAll, tokens + at, len,
        logits + at * s->model->vocab, (int64_t)len);
  }
  std::memcpy(s->logits.data(), logits + (n - 1) * s->model->vocab,
              sizeof(float) * s->model->vocab);
  return nullptr;
}

seqc_status seqc_session_step(seqc_session *s, int32_t token) {
  return seqc_session_prefill(s, &token, 1);
}

const float *seqc_session_logits(const seqc_session *s) {
  return s->logits.data();
}

// Saved state: magic, weights id, float counts, position, state, logits.
constexpr size_t kSavedHeader = 8 + 4 * 8;
const void *seqc_session_state_data(const seqc_session *s, size_t *bytes) {
  if (bytes)
    *bytes = 4 * s->state.size();
  return s->state.data();
}

size_t seqc_session_state_size(const seqc_session *s) {
  return kSavedHeader + 4 * (s->state.size() + s->logits.size());
}

seqc_status seqc_session_save(const seqc_session *s, void *buffer,
                              size_t size) {
  if (!buffer || size < seqc_session_state_size(s))
    return error("seqc_session_save: buffer of %zu bytes, %zu needed", size,
                 seqc_session_state_size(s));
  uint8_t *p = static_cast<uint8_t *>(buffer);
  uint64_t header[4] = {s->model->weightsId, s->state.size(), s->logits.size(),
                        (uint64_t)s->position};
  std::memcpy(p, kStateMagic, 8);
  std::memcpy(p + 8, header, sizeof header);
  std::memcpy(p + kSavedHeader, s->state.data(), 4 * s->state.size());
  std::memcpy(p + kSavedHeader + 4 * s->state.size(), s->logits.data(),
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
  if (header[0] != s->model->weightsId || header[1] != s->state.size() ||
      header[2] != s->logits.size())
    return error("seqc_session_restore: the state was saved by another "
                 "model (weights id %016llx, this model %016llx)",
                 (unsigned long long)header[0],
                 (unsigned long long)s->model->weightsId);
  if (size != seqc_session_state_size(s))
    return error("seqc_session_restore: %zu bytes, expected %zu", size,
                 seqc_session_state_size(s));
  std::memcpy(s->state.data(), p + kSavedHeader, 4 * s->state.size());
  std::memcpy(s->logits.data(), p + kSavedHeader + 4 * s->state.size(),
              4 * s->logits.size());
  s->position = (int64_t)header[3];
  return nullptr;
}

seqc_status seqc_session_fork(const seqc_session *s, seqc_session **out) {
  if (!out)
    return error("seqc_session_fork: null argument");
  *out = new seqc_session(*s);
  return nullptr;
}

} // extern "C"
