//===- seqc-run.cpp - run seqc artifacts ----------------------------------===//
//
//   seqc-run generate ARTIFACT [-p TEXT] [-n N] [--temp T] [--top-p P]
//                              [--top-k K] [--seed S] [--vocab PATH]
//                              [--ban 0,...] [--stats]
//   seqc-run logits   ARTIFACT (--tokens 1,2,3 | -p TEXT) [--all] [--step]
//                              [--step-from N] [-o FILE] [--state FILE]
//   seqc-run ppl      ARTIFACT FILE [--start-fraction F | --start-byte B]
//                              [--max-tokens N]
//   seqc-run bench    ARTIFACT [--prefill 64,512] [--decode N] [--rounds R]
//                     [-o FILE]
//   seqc-run tokenize (ARTIFACT | --tokenizer bytes|world|neox) [--vocab PATH]
//                     (-p TEXT | --file FILE)
//   seqc-run calibrate ARTIFACT (FILE | --tokens 1,2,3) -o STATS.json
//                     [--start-fraction F] [--end-fraction F] [--max-tokens N]
//                     [--covariance]
//
// A command line over the seqc runtime's C API (seqc/runtime.h): models,
// sessions, tokenizers and the sampler. No MLIR, no LLVM.
//
//===----------------------------------------------------------------------===//

#include "SpikeStats.h"
#include "seqc/Support/Rope.h"
#include "seqc/runtime.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "seqc-run: error: %s\n", msg.c_str());
  std::exit(1);
}

void check(seqc_status status) {
  if (!status)
    return;
  std::string msg = seqc_status_message(status);
  seqc_status_free(status);
  die(msg);
}

const char *kUsage =
    "usage: seqc-run COMMAND ARTIFACT [options]\n"
    "  generate ARTIFACT [-p TEXT] [-n N] [--temp T] [--top-p P] [--top-k K]\n"
    "                    [--seed S] [--vocab PATH] [--ban 0,...] [--stats]\n"
    "                    (--ban: token ids never sampled; --stats: spiking\n"
    "                    models' spikes per token and firing rates)\n"
    "  logits   ARTIFACT (--tokens 1,2,3 | -p TEXT) [--all] [--step]\n"
    "                    [--step-from N] [-o FILE.f32] [--state FILE.f32]\n"
    "                    (--step-from: the first N tokens by one prefill;\n"
    "                    --state: the state after each call)\n"
    "  ppl      ARTIFACT FILE [--start-fraction F | --start-byte B]\n"
    "                    [--max-tokens N] [--window N]\n"
    "  bench    ARTIFACT [--prefill 64,512] [--decode N] [--rounds R]\n"
    "                    [-o FILE.json] [--contexts 512,2048,8192]\n"
    "                    (R rounds of N decode steps, each followed by a\n"
    "                    probe of the read bandwidth; --contexts: attention\n"
    "                    models)\n"
    "  tokenize (ARTIFACT | --tokenizer bytes|world|neox) [--vocab PATH]\n"
    "           (-p TEXT | --file FILE)\n"
    "  calibrate ARTIFACT (FILE | --tokens 1,2,3) -o STATS.json\n"
    "           [--start-fraction F] [--end-fraction F] [--max-tokens N]\n"
    "           [--covariance]  (key statistics, and with --covariance the\n"
    "           K/V second moment --kv-rank needs, for --kv-calibration)\n";

/// Options: "--name value" pairs and positionals.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::map<std::string, bool> used;

  Args(int argc, char **argv, const std::vector<std::string> &flags) {
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a.size() > 1 && a[0] == '-') {
        if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
          options[a] = "1";
          continue;
        }
        size_t eq = a.find('=');
        if (eq != std::string::npos) {
          options[a.substr(0, eq)] = a.substr(eq + 1);
          continue;
        }
        if (i + 1 >= argc)
          die("option " + a + " needs a value");
        options[a] = argv[++i];
      } else {
        positional.push_back(a);
      }
    }
  }
  bool has(const std::string &k) {
    used[k] = true;
    return options.count(k);
  }
  std::string str(const std::string &k, const std::string &def) {
    used[k] = true;
    auto it = options.find(k);
    return it == options.end() ? def : it->second;
  }
  double num(const std::string &k, double def, double lo, double hi) {
    std::string v = str(k, "");
    if (v.empty())
      return def;
    char *end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (*end || !(d >= lo && d <= hi))
      die(k + "=" + v + ": expected a number in [" + std::to_string(lo) + ", " +
          std::to_string(hi) + "]");
    return d;
  }
  /// Rejects options no command read.
  void finish() {
    for (const auto &kv : options)
      if (!used[kv.first])
        die("unknown option " + kv.first + "\n" + kUsage);
  }
};

/// A tokenizer of the C API.
class Tokenizer {
public:
  explicit Tokenizer(seqc_tokenizer *tok) : tok(tok) {}
  ~Tokenizer() { seqc_tokenizer_free(tok); }
  Tokenizer(const Tokenizer &) = delete;
  Tokenizer &operator=(const Tokenizer &) = delete;

  int32_t size() const { return seqc_tokenizer_size(tok); }
  std::vector<int32_t> encode(const std::string &text) const {
    std::vector<int32_t> ids(text.size() + 16);
    size_t n = 0;
    check(seqc_tokenizer_encode(tok, text.data(), text.size(), ids.data(),
                                ids.size(), &n));
    if (n > ids.size()) {
      ids.resize(n);
      check(seqc_tokenizer_encode(tok, text.data(), text.size(), ids.data(),
                                  ids.size(), &n));
    }
    ids.resize(n);
    return ids;
  }
  /// The bytes of one token.
  std::string decode(int32_t token) const {
    std::string bytes(64, '\0');
    size_t n = 0;
    check(seqc_tokenizer_decode(tok, token, &bytes[0], bytes.size(), &n));
    if (n > bytes.size()) {
      bytes.resize(n);
      check(seqc_tokenizer_decode(tok, token, &bytes[0], bytes.size(), &n));
    }
    bytes.resize(n);
    return bytes;
  }
  std::string normalize(const std::string &text) const {
    std::string out(text.size() + 16, '\0');
    size_t n = 0;
    check(seqc_tokenizer_normalize(tok, text.data(), text.size(), &out[0],
                                   out.size(), &n));
    if (n > out.size()) {
      out.resize(n);
      check(seqc_tokenizer_normalize(tok, text.data(), text.size(), &out[0],
                                     out.size(), &n));
    }
    out.resize(n);
    return out;
  }

private:
  seqc_tokenizer *tok;
};

/// The longest prefix of whole UTF-8 characters of `pending` (taken out of
/// it; see seqc_utf8_take_whole).
std::string takeWholeUtf8(std::string &pending) {
  std::string out(3 * pending.size(), '\0');
  size_t left = pending.size();
  out.resize(seqc_utf8_take_whole(&pending[0], &left, &out[0]));
  pending.resize(left);
  return out;
}

/// A loaded model and, on first use, its tokenizer.
struct Loaded {
  seqc_model *model = nullptr;
  std::string vocabPath;
  std::unique_ptr<Tokenizer> tok;
  ~Loaded() {
    tok.reset();
    seqc_model_free(model);
  }

  Tokenizer &tokenizer() {
    if (tok)
      return *tok;
    seqc_tokenizer *t = nullptr;
    check(seqc_tokenizer_create_for_model(model, vocabPath.c_str(), &t));
    tok = std::make_unique<Tokenizer>(t);
    return *tok;
  }
};

void load(Loaded &l, const std::string &dir, Args &args) {
  check(seqc_model_load(dir.c_str(), &l.model));
  l.vocabPath = args.str("--vocab", "");
}

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<int32_t> parseTokens(const std::string &list,
                                 const std::string &flag);

int cmdGenerate(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::string prompt = args.str("-p", "\n");
  long n = (long)args.num("-n", 200, 0, 1e9);
  double temp = args.num("--temp", 1.0, 0, 100);
  double topP = args.num("--top-p", 0.9, 0, 1);
  int topK = (int)args.num("--top-k", 0, 0, 1e9);
  uint64_t seed = (uint64_t)args.num("--seed", 0, 0, 1.8e19);
  std::vector<int32_t> banned = parseTokens(args.str("--ban", ""), "--ban");
  bool stats = args.has("--stats");
  args.finish();
  if (prompt.empty())
    die("-p: the prompt is empty");
  seqc_run::SpikeCounters counters(l.model);
  if (stats && counters.empty())
    die("--stats: the model has no spike counters (not a spiking model)");
  std::vector<int32_t> ids = l.tokenizer().encode(prompt);
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  seqc_run::SpikeCounters::Reading before;
  if (stats)
    before = counters.read(s);
  check(seqc_session_prefill(s, ids.data(), ids.size()));
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  seqc_rng *rng;
  check(seqc_rng_create(seed, &rng));
  std::string pending;
  int32_t vocab = std::min(seqc_model_vocab(l.model), l.tokenizer().size());
  // Attention models stop when their KV cache is full.
  const char *context = seqc_model_get(l.model, "context");
  size_t limit = context ? std::stoull(context) : SIZE_MAX, fed = ids.size();
  std::vector<float> masked;
  for (long i = 0; i < n; ++i) {
    int32_t tok;
    const float *logits = seqc_session_logits(s);
    if (!banned.empty()) {
      // As SpikeGPT's sampler masks <|endoftext|>: never drawn.
      masked.assign(logits, logits + seqc_model_vocab(l.model));
      for (int32_t b : banned)
        if (b >= 0 && b < (int32_t)masked.size())
          masked[b] = -INFINITY;
      logits = masked.data();
    }
    check(seqc_sample(logits, vocab, temp, topP, topK, rng, &tok));
    pending += l.tokenizer().decode(tok);
    std::string out = takeWholeUtf8(pending);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (i + 1 == n)
      break;
    if (fed >= limit) {
      std::fprintf(stderr,
                   "\nseqc-run: the model's context (%zu tokens) is full; "
                   "stopping after %ld tokens\n",
                   limit, i + 1);
      break;
    }
    check(seqc_session_step(s, tok));
    ++fed;
  }
  std::string rest = takeWholeUtf8(pending);
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputs("\n", stdout);
  if (stats) {
    std::fflush(stdout);
    std::fputs(counters.text(before, counters.read(s), (double)fed).c_str(),
               stderr);
  }
  seqc_rng_free(rng);
  seqc_session_free(s);
  return 0;
}

std::vector<int32_t> parseTokens(const std::string &list,
                                 const std::string &flag) {
  std::vector<int32_t> ids;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char *end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end)
      die(flag + ": '" + item + "' is not a token id");
    if (v < INT32_MIN || v > INT32_MAX)
      die(flag + ": " + item + " is out of range");
    ids.push_back((int32_t)v);
  }
  return ids;
}

int cmdLogits(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::vector<int32_t> ids;
  if (args.has("--tokens"))
    ids = parseTokens(args.str("--tokens", ""), "--tokens");
  else if (args.has("-p"))
    ids = l.tokenizer().encode(args.str("-p", ""));
  else
    die("logits: give --tokens or -p");
  bool all = args.has("--all");
  bool step = args.has("--step");
  std::string out = args.str("-o", "");
  std::string stateOut = args.str("--state", "");
  size_t stepFrom = (size_t)args.num("--step-from", 0, 0, 1e9);
  args.finish();
  if (stepFrom && !step)
    die("--step-from needs --step");
  int32_t vocab = seqc_model_vocab(l.model);
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  std::vector<float> logits((all ? ids.size() : 1) * vocab);
  // Raw copies of the state buffer: after each step, or after the last token.
  std::string states;
  auto keepState = [&] {
    size_t bytes = 0;
    const void *data = seqc_session_state_data(s, &bytes);
    states.append(static_cast<const char *>(data), bytes);
  };
  if (step) {
    // The first --step-from tokens by one prefill, then one token at a time
    // through the step entry.
    size_t first = std::min(stepFrom, ids.size());
    if (first) {
      if (all)
        check(seqc_session_prefill_all(s, ids.data(), first, logits.data()));
      else
        check(seqc_session_prefill(s, ids.data(), first));
      if (!all && first == ids.size())
        std::memcpy(logits.data(), seqc_session_logits(s), 4 * vocab);
      if (!stateOut.empty())
        keepState();
    }
    for (size_t i = first; i < ids.size(); ++i) {
      check(seqc_session_step(s, ids[i]));
      if (!stateOut.empty())
        keepState();
      if (all || i + 1 == ids.size())
        std::memcpy(&logits[(all ? i : 0) * vocab], seqc_session_logits(s),
                    4 * vocab);
    }
  } else if (all) {
    check(seqc_session_prefill_all(s, ids.data(), ids.size(), logits.data()));
  } else {
    check(seqc_session_prefill(s, ids.data(), ids.size()));
    std::memcpy(logits.data(), seqc_session_logits(s), 4 * vocab);
  }
  if (!step && !stateOut.empty())
    keepState();
  seqc_session_free(s);
  if (!stateOut.empty()) {
    std::ofstream f(stateOut, std::ios::binary);
    f.write(states.data(), states.size());
    if (!f)
      die(stateOut + ": cannot write");
  }
  if (!out.empty()) {
    // Raw little-endian f32, rows of `vocab`.
    std::ofstream f(out, std::ios::binary);
    f.write(reinterpret_cast<const char *>(logits.data()), 4 * logits.size());
    if (!f)
      die(out + ": cannot write");
    return 0;
  }
  size_t rows = logits.size() / vocab;
  for (size_t r = 0; r < rows; ++r) {
    for (int32_t v = 0; v < vocab; ++v)
      std::printf("%s%.9g", v ? " " : "", logits[r * vocab + v]);
    std::printf("\n");
  }
  return 0;
}

int cmdPpl(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  if (args.positional.size() < 2)
    die("ppl: give a text file");
  std::string path = args.positional[1];
  double start = args.num("--start-fraction", 0, 0, 1);
  double startByte = args.num("--start-byte", -1, 0, 1e15);
  long maxTokens = (long)args.num("--max-tokens", 0, 0, 1e12);
  size_t window = (size_t)args.num("--window", 0, 0, 1e12);
  args.finish();
  // Attention models see at most their context: score in windows of it
  // unless told otherwise.
  const char *context = seqc_model_get(l.model, "context");
  if (context && window == 0) {
    window = std::stoull(context);
    std::fprintf(stderr,
                 "seqc-run: ppl: scoring in windows of %zu tokens (the "
                 "model's context; --window to change)\n",
                 window);
  }
  if (context && window > std::stoull(context))
    die("ppl: --window " + std::to_string(window) +
        " exceeds the model's context (" + context + " tokens)");
  std::ifstream f(path, std::ios::binary);
  if (!f)
    die(path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  size_t from =
      startByte >= 0 ? (size_t)startByte : (size_t)(text.size() * start);
  if (from >= text.size())
    die(path + ": start byte " + std::to_string(from) + " is past the end (" +
        std::to_string(text.size()) + " bytes)");
  std::vector<int32_t> ids = l.tokenizer().encode(text.substr(from));
  if (maxTokens > 0 && (size_t)maxTokens < ids.size())
    ids.resize(maxTokens);
  if (ids.size() < 2)
    die(path + ": fewer than two tokens to score");
  int32_t vocab = seqc_model_vocab(l.model);
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  // The first token is context only; every later one is scored given all
  // the earlier ones (the state carries across chunks). With a window, the
  // text is cut into windows that each start from a reset session, and the
  // first token of each window is context only.
  const size_t chunk = 256;
  std::vector<float> logits(chunk * vocab);
  double nll = 0;
  size_t scored = 0;
  double t0 = seconds(), lastReport = t0;
  size_t windowEnd = ids.size();
  for (size_t pos = 0; pos < ids.size();) {
    if (window && pos % window == 0) {
      check(seqc_session_reset(s));
      windowEnd = std::min(ids.size(), pos + window);
      if (windowEnd - pos < 2)
        break;
    }
    size_t n = std::min(chunk, windowEnd - pos);
    check(seqc_session_prefill_all(s, ids.data() + pos, n, logits.data()));
    size_t at = pos;
    pos += n;
    for (size_t i = 0; i < n; ++i) {
      size_t target = at + i + 1;
      if (target >= windowEnd)
        break;
      const float *row = &logits[i * vocab];
      double mx = *std::max_element(row, row + vocab), sum = 0;
      for (int32_t v = 0; v < vocab; ++v)
        sum += std::exp((double)row[v] - mx);
      nll += std::log(sum) + mx - row[ids[target]];
      ++scored;
    }
    if (seconds() - lastReport > 2) {
      lastReport = seconds();
      std::fprintf(stderr, "seqc-run: ppl: %zu / %zu tokens, ppl %.4f\n", pos,
                   ids.size(), std::exp(nll / scored));
    }
  }
  seqc_session_free(s);
  double elapsed = seconds() - t0;
  std::printf("{\"file\": \"%s\", \"start_byte\": %zu, \"tokens\": %zu, "
              "\"window\": %zu, \"scored\": %zu, \"nll\": %.6f, "
              "\"ppl\": %.6f, \"tokens_per_s\": %.1f}\n",
              path.c_str(), from, ids.size(), window, scored, nll / scored,
              std::exp(nll / scored), ids.size() / elapsed);
  return 0;
}

/// Calibration statistics for seq-fuse-hadamard's reordering,
/// seq-balance-kv and seq-low-rank-kv: runs windows of the model's context
/// from an empty cache and reads the keys and values the f32 caches hold
/// (through seqc_session_kv_view); per layer, KV head and
/// channel, the largest |key| and the root mean square, and per layer the
/// second moment of [keys before RoPE; values] over the tokens.
int cmdCalibrate(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::string out = args.str("-o", "");
  std::string tokenList = args.str("--tokens", "");
  double start = args.num("--start-fraction", 0, 0, 1);
  double end = args.num("--end-fraction", 1, 0, 1);
  long maxTokens = (long)args.num("--max-tokens", 16384, 2, 1e12);
  bool covariance = args.has("--covariance");
  args.finish();
  if (out.empty())
    die("calibrate: give the output file with -o FILE.json");
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
  size_t window = std::stoull(entry("context"));
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
    std::ifstream f(source, std::ios::binary);
    if (!f)
      die(source + ": cannot open");
    std::string text((std::istreambuf_iterator<char>(f)),
                     std::istreambuf_iterator<char>());
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
    rot = std::stoll(entry("rope_rotary_dim"));
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
  std::FILE *f = std::fopen(out.c_str(), "w");
  if (!f)
    die(out + ": cannot write");
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
    die(out + ": cannot write");
  std::fprintf(stderr,
               "seqc-run: calibrate: %zu tokens, %" PRId64 " layers x %" PRId64
               " KV heads x "
               "%" PRId64 " channels -> %s\n",
               ids.size(), layers, H, D, out.c_str());
  return 0;
}

/// Read bandwidth probe: `threads` threads each read their share of a
/// buffer much larger than the caches, as a decode step reads its weights.
/// The loop folds 64-bit words into 16 independent XOR accumulators, so no
/// arithmetic latency limits it: a float sum (one dependent add chain per
/// lane) read up to 25% slower in a standalone comparison, which made the
/// roofline ratios look better than they were.
class BandwidthProbe {
public:
  BandwidthProbe() : buf(((size_t)512 << 20) / 8) {
    for (size_t i = 0; i < buf.size(); ++i)
      buf[i] = i * 0x9E3779B97F4A7C15ull;
  }
  /// Best of `passes` passes (bytes / second).
  double measure(int threads, int passes) {
    double best = 0;
    std::vector<uint64_t> sums(threads * 8);
    for (int pass = 0; pass < passes; ++pass) {
      double t = seconds();
      std::vector<std::thread> pool;
      size_t share = buf.size() / threads / 16 * 16;
      for (int th = 0; th < threads; ++th)
        pool.emplace_back([&, th] {
          const uint64_t *p = buf.data() + th * share;
          uint64_t acc[16] = {0};
          for (size_t i = 0; i < share; i += 16)
            for (int j = 0; j < 16; ++j)
              acc[j] ^= p[i + j];
          uint64_t x = 0;
          for (uint64_t a : acc)
            x ^= a;
          sums[th * 8] = x;
        });
      for (std::thread &th : pool)
        th.join();
      double dt = seconds() - t;
      best = std::max(best, share * threads * 8.0 / dt);
    }
    return best;
  }

private:
  std::vector<uint64_t> buf;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int cmdBench(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::string prefillList = args.str("--prefill", "64,512");
  long decode = (long)args.num("--decode", 64, 1, 1e6);
  long rounds = (long)args.num("--rounds", 5, 1, 1000);
  std::string contexts = args.str("--contexts", "");
  std::string out = args.str("-o", "");
  args.finish();
  int32_t vocab = seqc_model_vocab(l.model);
  std::mt19937_64 rng(0);
  auto randomTokens = [&](size_t n) {
    std::vector<int32_t> ids(n);
    for (int32_t &t : ids)
      t = (int32_t)(rng() % vocab);
    return ids;
  };
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  std::ostringstream json;
  json << "{\n  \"model\": \"" << seqc_model_get(l.model, "description")
       << "\",\n  \"weights_format\": \""
       << seqc_model_get(l.model, "weights_format")
       << "\",\n  \"weight_bytes\": " << seqc_model_weight_bytes(l.model)
       << ",\n  \"prefill\": [";
  bool first = true;
  for (const std::string &item : [&] {
         std::vector<std::string> v;
         std::stringstream ss(prefillList);
         std::string x;
         while (std::getline(ss, x, ','))
           v.push_back(x);
         return v;
       }()) {
    long n = std::atol(item.c_str());
    if (n <= 0)
      die("--prefill: '" + item + "' is not a token count");
    std::vector<int32_t> ids = randomTokens(n);
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      check(seqc_session_reset(s));
      double t = seconds();
      check(seqc_session_prefill(s, ids.data(), ids.size()));
      best = std::min(best, seconds() - t);
    }
    json << (first ? "" : ",") << "\n    {\"tokens\": " << n
         << ", \"seconds\": " << best << ", \"tokens_per_s\": " << n / best
         << "}";
    first = false;
  }
  json << "\n  ],\n";
  // Attention models: decode speed with the KV cache holding N tokens, for
  // each N of --contexts (ascending; the cache is filled by prefill).
  const char *kvPerToken = seqc_model_get(l.model, "kv_bytes_per_token");
  if (kvPerToken) {
    json << "  \"kv_cache\": \"" << seqc_model_get(l.model, "kv_cache")
         << "\",\n  \"kv_bytes_per_token\": " << kvPerToken
         << ",\n  \"kv_bytes_per_full_token\": "
         << seqc_model_get(l.model, "kv_bytes_per_full_token")
         << ",\n  \"decode_at_context\": [";
    std::vector<long> points;
    std::stringstream ss(contexts);
    for (std::string x; std::getline(ss, x, ',');)
      if (long n = std::atol(x.c_str()); n > 0)
        points.push_back(n);
      else
        die("--contexts: '" + x + "' is not a token count");
    std::sort(points.begin(), points.end());
    check(seqc_session_reset(s));
    long position = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      if (points[i] < position)
        die("--contexts: points must be at least --decode apart");
      std::vector<int32_t> fill = randomTokens(points[i] - position);
      if (!fill.empty())
        check(seqc_session_prefill(s, fill.data(), fill.size()));
      std::vector<int32_t> steps = randomTokens(decode);
      double t0 = seconds();
      for (int32_t id : steps)
        check(seqc_session_step(s, id));
      double ms = (seconds() - t0) / decode * 1e3;
      position = points[i] + decode;
      std::fprintf(stderr, "seqc-run: bench: context %ld: %.2f ms/token\n",
                   points[i], ms);
      json << (i ? "," : "") << "\n    {\"context\": " << points[i]
           << ", \"ms_per_token\": " << ms << "}";
    }
    json << "\n  ],\n";
  }
  // Decode: `rounds` rounds of `decode` steps, each followed by a probe of
  // the read bandwidth, so that each round's roofline ratio compares the
  // two under the same load from the rest of the machine (on a shared
  // machine both drift by tens of percent between runs). The figures
  // reported are the medians over the rounds.
  check(seqc_session_reset(s));
  check(seqc_session_step(s, randomTokens(1)[0])); // Warm-up.
  // Peak RSS of the model's work (a step reads every weight; taken before
  // the probe's buffer exists): mapped weights actually touched, state,
  // activations, the process. VmHWM, not getrusage: ru_maxrss carries the
  // parent's peak across exec.
  double peakRss = 0;
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmHWM:", 0) == 0)
        peakRss = std::atof(line.c_str() + 6) * 1024.0;
  }
  // The roofline uses the bandwidth of as many threads as the compiled
  // code's parallel loops use (the CPUs this process may run on); the
  // single-thread one is reported beside it.
  int hw = seqc_thread_count();
  // Bytes a decoded token reads: the weights but the embedding table, of
  // which a token reads one row (from the manifest; all weights otherwise).
  const char *readBytes = seqc_model_get(l.model, "token_read_bytes");
  double perToken = readBytes ? std::atof(readBytes)
                              : (double)seqc_model_weight_bytes(l.model);
  BandwidthProbe probe;
  std::vector<double> roundMs, roundBw, roundRatio;
  seqc_run::SpikeCounters counters(l.model);
  seqc_run::SpikeCounters::Reading spikesBefore = counters.read(s);
  for (long r = 0; r < rounds; ++r) {
    std::vector<int32_t> ids = randomTokens(decode);
    double t = seconds();
    for (int32_t id : ids)
      check(seqc_session_step(s, id));
    double perStep = (seconds() - t) / decode;
    double bw = probe.measure(hw, 3);
    roundMs.push_back(perStep * 1e3);
    roundBw.push_back(bw / 1e9);
    roundRatio.push_back(perToken / bw / perStep);
  }
  double bw1 = probe.measure(1, 3);
  auto list = [](const std::vector<double> &v) {
    std::ostringstream o;
    for (size_t i = 0; i < v.size(); ++i)
      o << (i ? ", " : "") << v[i];
    return "[" + o.str() + "]";
  };
  double bw = median(roundBw) * 1e9;
  json << "  \"decode_tokens\": " << decode << ",\n  \"rounds\": " << rounds
       << ",\n  \"decode_ms_per_token\": " << median(roundMs)
       << ",\n  \"token_read_bytes\": " << (uint64_t)perToken
       << ",\n  \"peak_rss_bytes\": " << (uint64_t)peakRss
       << ",\n  \"read_bandwidth_threads\": " << hw
       << ",\n  \"read_bandwidth_gb_s\": " << bw / 1e9
       << ",\n  \"read_bandwidth_1_thread_gb_s\": " << bw1 / 1e9
       << ",\n  \"roofline_ms_per_token\": " << perToken / bw * 1e3
       << ",\n  \"roofline_ratio\": " << median(roundRatio)
       << ",\n  \"round_decode_ms_per_token\": " << list(roundMs)
       << ",\n  \"round_read_bandwidth_gb_s\": " << list(roundBw)
       << ",\n  \"round_roofline_ratio\": " << list(roundRatio);
  // Spiking models: over the rounds' decode steps.
  if (!counters.empty())
    json << ",\n"
         << counters.json(spikesBefore, counters.read(s),
                          (double)rounds * decode, "  ");
  json << "\n}\n";
  seqc_session_free(s);
  std::string text = json.str();
  if (!out.empty()) {
    std::ofstream f(out);
    f << text;
    if (!f)
      die(out + ": cannot write");
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}

/// Prints the token ids of a text (comma-separated), then checks that they
/// decode back to the text.
int cmdTokenize(Args &args) {
  std::string kind = args.str("--tokenizer", "");
  std::string vocab = args.str("--vocab", "");
  std::string text = args.str("-p", "");
  std::string file = args.str("--file", "");
  args.finish();
  Loaded l;
  l.vocabPath = vocab;
  std::unique_ptr<Tokenizer> own;
  Tokenizer *tok;
  if (kind.empty()) {
    if (args.positional.empty())
      die("tokenize: give an artifact or --tokenizer");
    check(seqc_model_load(args.positional[0].c_str(), &l.model));
    tok = &l.tokenizer();
  } else {
    seqc_tokenizer *t = nullptr;
    check(seqc_tokenizer_create(kind.c_str(), vocab.c_str(), &t));
    own = std::make_unique<Tokenizer>(t);
    tok = own.get();
  }
  if (!file.empty()) {
    std::ifstream f(file, std::ios::binary);
    if (!f)
      die(file + ": cannot open");
    text.assign(std::istreambuf_iterator<char>(f),
                std::istreambuf_iterator<char>());
  }
  std::vector<int32_t> ids = tok->encode(text);
  std::string back;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::printf("%s%d", i ? "," : "", ids[i]);
    back += tok->decode(ids[i]);
  }
  std::printf("\n");
  if (back != tok->normalize(text))
    die("tokenize: the ids do not decode back to the (normalized) text");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  std::string cmd = argv[1];
  Args args(argc, argv, {"--all", "--step", "--covariance", "--stats"});
  if (cmd == "tokenize")
    return cmdTokenize(args);
  if (args.positional.empty())
    die(cmd + ": give an artifact directory\n" + kUsage);
  if (cmd == "generate")
    return cmdGenerate(args);
  if (cmd == "logits")
    return cmdLogits(args);
  if (cmd == "ppl")
    return cmdPpl(args);
  if (cmd == "bench")
    return cmdBench(args);
  if (cmd == "calibrate")
    return cmdCalibrate(args);
  die("unknown command '" + cmd + "'\n" + kUsage);
}
