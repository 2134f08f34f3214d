//===- Calibrate.cpp - seqc-run calibrate: KV statistics ------------------===//

#include "Common.h"

#include "seqc/Support/Rope.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace seqcrun;

/// Calibration statistics for seq-fuse-hadamard's reordering,
/// seq-balance-kv and seq-low-rank-kv: runs windows of the model's context
/// from an empty cache and reads the keys and values the f32 caches hold
/// (through seqc_session_kv_view); per layer, KV head and
/// channel, the largest |key| and the root mean square, and per layer the
/// second moment of [keys before RoPE; values] over the tokens.
int seqcrun::cmdCalibrate(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::string out = args.str("-o", "");
  std::string tokenList = args.str("--tokens", "");
  double start = args.real("--start-fraction", 0, 0, 1);
  double end = args.real("--end-fraction", 1, 0, 1);
  long maxTokens = (long)args.integer("--max-tokens", 16384, 2, 1 << 24);
  bool covariance = args.has("--covariance");
  args.finish();
  if (out.empty())
    die("calibrate: give the output file with -o FILE.json");
  checkOutputPath(out);
  auto entry = [&](const char *key) -> std::string {
    const char *v = seqc_model_get(l.model, key);
    if (!v)
      die(std::string("calibrate: the manifest has no ") + key +
          " (an attention model compiled by this seqc is needed)");
    return v;
  };
  std::string cache = entry("kv_cache");
  // The caches are read through the runtime's view of them (their layout is
  // the compiler's, rebuilt from the manifest's kv_desc); it covers the f32
  // caches of the keys as the model computes them.
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  seqc_kv_view view;
  seqc_status refused = seqc_session_kv_view(s, 0, &view);
  bool plain = !refused && !std::strcmp(view.element_type, "f32");
  seqc_status_free(refused);
  if (!plain || entry("kv_rotation") != "none")
    die("calibrate: needs an artifact whose KV cache holds the keys as the "
        "model computes them (f32, no compression, no rotation; compile "
        "without --kv-*, --kv-f16 and --rotate-kv); this one has " +
        cache + " and rotation " + entry("kv_rotation"));
  if (seqc_model_get(l.model, "kv_rank"))
    die("calibrate: this artifact caches low-rank latents (--kv-rank); "
        "calibrate one compiled without --kv-* options");
  int64_t layers = view.layers, H = view.heads, D = view.head_dim,
          cap = view.capacity;
  entry("context");
  size_t window = (size_t)l.manifestInteger("context", 0, 1, INT32_MAX);
  if (window > (size_t)cap)
    die("calibrate: the context (" + std::to_string(window) +
        ") exceeds the cache's capacity (" + std::to_string(cap) + ")");
  std::vector<int32_t> ids;
  std::string source;
  if (!tokenList.empty()) {
    if (args.positional.size() > 1)
      die("calibrate: give a text file or --tokens, not both");
    ids = parseTokens(tokenList, "--tokens");
    source = "--tokens";
  } else {
    if (args.positional.size() < 2)
      die("calibrate: give a text file or --tokens");
    source = args.positional[1];
    std::string text = readTextFile(source);
    size_t from = (size_t)(text.size() * start),
           to = (size_t)(text.size() * end);
    if (from >= to)
      die("calibrate: --start-fraction must be below --end-fraction");
    ids = l.tokenizer().encode(text.substr(from, to - from));
  }
  if ((long)ids.size() > maxTokens)
    ids.resize(maxTokens);
  if (ids.empty())
    die("calibrate: no tokens");
  int32_t vocab = seqc_model_vocab(l.model);
  for (int32_t id : ids)
    if (id < 0 || id >= vocab)
      die("calibrate: token " + std::to_string(id) + " is out of range");
  std::vector<double> absmax(layers * H * D, 0.0), sumsq(layers * H * D, 0.0);
  // The joint second moment of x = [keys before RoPE; values] (N = 2 H D)
  // per layer, for seq-low-rank-kv: the cached keys are after RoPE, which
  // is undone here (the manifest records it).
  int64_t N = covariance ? 2 * H * D : 0;
  std::vector<double> cov(layers * N * N, 0.0);
  float theta = 0;
  seqc::RopeStyle ropeStyle = seqc::RopeStyle::Half;
  int64_t rot = 0;
  std::string style = covariance ? entry("rope_style") : "none";
  if (style != "none") {
    // As the compiler holds it: an f32 attribute.
    theta = (float)std::strtod(entry("rope_theta").c_str(), nullptr);
    ropeStyle =
        style == "half" ? seqc::RopeStyle::Half : seqc::RopeStyle::Interleaved;
    entry("rope_rotary_dim");
    rot = l.manifestInteger("rope_rotary_dim", 0, 0, INT32_MAX);
    if (!(theta > 0) || rot <= 0 || rot > D || rot % 2 != 0 ||
        (style != "half" && style != "interleaved"))
      die("calibrate: the manifest's RoPE (rope_theta, rope_style, "
          "rope_rotary_dim) is invalid");
  }
  // Undoes RoPE with the angles seq.rope's lowering uses (seqc/Support/Rope.h).
  std::vector<float> cosines(rot / 2), sines(rot / 2);
  auto unrope = [&](float *k, size_t pos) {
    seqc::ropeCosSin(theta, rot, (int64_t)pos, cosines.data(), sines.data());
    for (int64_t i = 0; i < rot / 2; ++i) {
      double c = cosines[i], sn = sines[i];
      auto [p, q] = seqc::ropePairChannels(ropeStyle, rot, i);
      double x = k[p], y = k[q];
      k[p] = (float)(x * c + y * sn);
      k[q] = (float)(y * c - x * sn);
    }
  };
  std::vector<float> x(N);
  for (size_t pos = 0; pos < ids.size(); pos += window) {
    size_t n = std::min(window, ids.size() - pos);
    check(seqc_session_reset(s));
    check(seqc_session_prefill(s, ids.data() + pos, n));
    for (int64_t ly = 0; ly < layers; ++ly) {
      seqc_kv_view v;
      check(seqc_session_kv_view(s, ly, &v));
      const float *keys = static_cast<const float *>(v.keys),
                  *values = static_cast<const float *>(v.values);
      auto at = [&](int64_t h, size_t j, int64_t d) {
        return h * v.strides[0] + (int64_t)j * v.strides[1] + d * v.strides[2];
      };
      for (int64_t h = 0; h < H; ++h)
        for (size_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < D; ++d) {
            double k = keys[at(h, j, d)];
            size_t i = (ly * H + h) * D + d;
            absmax[i] = std::max(absmax[i], std::fabs(k));
            sumsq[i] += k * k;
          }
      if (!covariance)
        continue;
      double *c = cov.data() + ly * N * N;
      for (size_t j = 0; j < n; ++j) {
        for (int64_t h = 0; h < H; ++h) {
          for (int64_t d = 0; d < D; ++d) {
            x[h * D + d] = keys[at(h, j, d)];
            x[H * D + h * D + d] = values[at(h, j, d)];
          }
          if (rot)
            unrope(x.data() + h * D, j);
        }
        for (int64_t a = 0; a < N; ++a) {
          double xa = x[a];
          for (int64_t bb = a; bb < N; ++bb)
            c[a * N + bb] += xa * x[bb];
        }
      }
    }
  }
  seqc_session_free(s);
  // JSON string contents: quotes, backslashes and control bytes escaped.
  auto quoted = [](const std::string &v) {
    std::string r;
    for (unsigned char c : v) {
      if (c == '"' || c == '\\') {
        r += '\\';
        r += (char)c;
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        r += buf;
      } else {
        r += (char)c;
      }
    }
    return r;
  };
  // Formatted in memory, then written in one piece (writeOutputFile).
  char *buffer = nullptr;
  size_t bufferSize = 0;
  std::FILE *f = open_memstream(&buffer, &bufferSize);
  if (!f)
    die("calibrate: out of memory");
  auto list = [&](const std::vector<double> &v, bool rms) {
    std::string text;
    char buf[32];
    for (size_t i = 0; i < v.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%s%.7g", i ? ", " : "",
                    rms ? std::sqrt(v[i] / ids.size()) : v[i]);
      text += buf;
    }
    return text;
  };
  // Mean of x xᵀ, both triangles.
  for (int64_t ly = 0; ly < layers; ++ly)
    for (int64_t a = 0; a < N; ++a)
      for (int64_t bb = a; bb < N; ++bb) {
        double &u = cov[(ly * N + a) * N + bb];
        u /= (double)ids.size();
        cov[(ly * N + bb) * N + a] = u;
      }
  std::string covText;
  if (covariance) {
    char buf[32];
    for (size_t i = 0; i < cov.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%s%.9g", i ? ", " : "", cov[i]);
      covText += buf;
    }
  }
  std::fprintf(f,
               "{\"seqc_kv_calibration\": 1, \"model\": \"%s\", "
               "\"source\": \"%s\", \"tokens\": %zu, \"window\": %zu,\n"
               " \"layers\": %" PRId64 ", \"kv_heads\": %" PRId64
               ", \"head_dim\": %" PRId64 ",\n"
               " \"key_absmax\": [%s],\n \"key_rms\": [%s]%s%s%s}\n",
               quoted(entry("description")).c_str(), quoted(source).c_str(),
               ids.size(), window, layers, H, D, list(absmax, false).c_str(),
               list(sumsq, true).c_str(),
               covariance ? ",\n \"kv_covariance\": [" : "", covText.c_str(),
               covariance ? "]" : "");
  if (std::fclose(f) != 0)
    die("calibrate: out of memory");
  std::string json(buffer, bufferSize);
  std::free(buffer);
  writeOutputFile(out, json);
  std::fprintf(stderr,
               "seqc-run: calibrate: %zu tokens, %" PRId64 " layers x %" PRId64
               " KV heads x "
               "%" PRId64 " channels -> %s\n",
               ids.size(), layers, H, D, out.c_str());
  return 0;
}
