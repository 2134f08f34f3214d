//===- seqc-run.cpp - run seqc artifacts ----------------------------------===//
//
//   seqc-run generate ARTIFACT [-p TEXT] [-n N] [--temp T] [--top-p P]
//                              [--top-k K] [--seed S] [--vocab PATH]
//                              [--ban 0,...] [--stats]
//   seqc-run logits   ARTIFACT (--tokens 1,2,3 | -p TEXT) [--all] [--step]
//                              [--step-from N [--after-prompt]] [-o FILE]
//                              [--state FILE]
//   seqc-run ppl      ARTIFACT FILE [--start-fraction F | --start-byte B]
//                              [--max-tokens N]
//   seqc-run bench    ARTIFACT [--prefill 64,512] [--decode N] [--rounds R]
//                     [-o FILE]
//   seqc-run tokenize (ARTIFACT | --tokenizer bytes|world|neox) [--vocab PATH]
//                     (-p TEXT | --file FILE)
//   seqc-run calibrate ARTIFACT (FILE | --tokens 1,2,3) -o STATS.json
//                     [--start-fraction F] [--end-fraction F] [--max-tokens N]
//                     [--covariance]
//   seqc-run report   ARTIFACT (--tokens 1,2,3 | -p TEXT) [-n N] [-o FILE]
//                     [--plot FILE.svg]
//   (every command that loads an artifact: [--verify | --no-verify]
//    [--weight-pages=file|huge-copy])
//
// A command line over the seqc runtime's C API (seqc/runtime.h): models,
// sessions, tokenizers and the sampler. No MLIR, no LLVM. Shared pieces are
// in Common.h; bench and calibrate have their own files.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "SpikeStats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

using namespace seqcrun;

const char *seqcrun::kUsage =
    "usage: seqc-run COMMAND ARTIFACT [options]\n"
    "  generate ARTIFACT [-p TEXT] [-n N] [--temp T] [--top-p P] [--top-k K]\n"
    "                    [--seed S] [--vocab PATH] [--ban 0,...] [--stats]\n"
    "                    (--ban: token ids never sampled; --stats: spiking\n"
    "                    models' spikes per token and firing rates)\n"
    "  logits   ARTIFACT (--tokens 1,2,3 | -p TEXT) [--all] [--step]\n"
    "                    [--step-from N [--after-prompt]] [-o FILE.f32]\n"
    "                    [--state FILE.f32]\n"
    "                    (--step-from: the first N tokens by one prefill;\n"
    "                    --after-prompt: that prefill returns the last\n"
    "                    logits only, as generation's does, and the rows\n"
    "                    are those from token N-1 on; --state: the state\n"
    "                    after each call)\n"
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
    "           K/V second moment --kv-rank needs, for --kv-calibration)\n"
    "  report   ARTIFACT (--tokens 1,2,3 | -p TEXT) [-n N] [-o FILE.json]\n"
    "           [--plot FILE.svg]\n"
    "           (--target=neuro artifacts: operations, spikes and energy per\n"
    "           token and layer, one step per token; -n: N more tokens, each\n"
    "           the most likely)\n"
    "Loading an artifact checks its files; --verify also checks the\n"
    "weights' checksum whatever their size (by default: up to 256 MiB),\n"
    "--no-verify never. --weight-pages=huge-copy copies the weights into\n"
    "memory asked for huge pages (transparent huge pages) instead of\n"
    "mapping weights.bin (file, the default), for decode speed that does\n"
    "not depend on the page cache.\n";

namespace {

int cmdGenerate(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::string prompt = args.str("-p", "\n");
  long n = (long)args.integer("-n", 200, 0, 1000000000);
  double temp = args.real("--temp", 1.0, 0, 100);
  double topP = args.real("--top-p", 0.9, 0, 1);
  int topK = (int)args.integer("--top-k", 0, 0, INT32_MAX);
  uint64_t seed = (uint64_t)args.integer("--seed", 0, 0, INT64_MAX);
  std::vector<int32_t> banned;
  if (args.has("--ban"))
    banned = parseTokens(args.str("--ban", ""), "--ban");
  bool stats = args.has("--stats");
  args.finish();
  if (prompt.empty())
    die("-p: the prompt is empty");
  SpikeCounters counters(l.model);
  if (stats && counters.empty())
    die("--stats: the model has no spike counters (not a spiking model)");
  std::vector<int32_t> ids = l.tokenizer().encode(prompt);
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  SpikeCounters::Reading before;
  if (stats)
    before = counters.read(s);
  check(seqc_session_prefill(s, ids.data(), ids.size()));
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  seqc_rng *rng;
  check(seqc_rng_create(seed, &rng));
  std::string pending;
  int32_t vocab = std::min(seqc_model_vocab(l.model), l.tokenizer().size());
  // Attention models stop when their KV cache is full.
  size_t limit = (size_t)l.manifestInteger("context", INT64_MAX, 1, INT64_MAX),
         fed = ids.size();
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

int cmdLogits(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::vector<int32_t> ids = inputTokens(l, args, "logits");
  if (ids.empty())
    die("logits: the text has no tokens");
  bool all = args.has("--all");
  bool step = args.has("--step");
  std::string out = args.str("-o", "");
  std::string stateOut = args.str("--state", "");
  size_t stepFrom = (size_t)args.integer("--step-from", 0, 0, INT32_MAX);
  // The prompt fed as generation feeds it (seqc_session_prefill, last
  // logits only), then the rows from the prompt's last token on.
  bool afterPrompt = args.has("--after-prompt");
  args.finish();
  if (stepFrom && !step)
    die("--step-from needs --step");
  if (afterPrompt && (!stepFrom || all))
    die("--after-prompt needs --step --step-from N (and prints its own rows: "
        "not --all)");
  int32_t vocab = seqc_model_vocab(l.model);
  if (all && ids.size() > ((size_t)1 << 32) / (size_t)vocab)
    die("logits --all: " + std::to_string(ids.size()) + " tokens x " +
        std::to_string(vocab) + " logits is more than this command prints");
  if (!out.empty())
    checkOutputPath(out);
  if (!stateOut.empty())
    checkOutputPath(stateOut);
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  size_t firstRow = afterPrompt ? std::min(stepFrom, ids.size()) - 1 : 0;
  std::vector<float> logits((all           ? ids.size()
                             : afterPrompt ? ids.size() - firstRow
                                           : 1) *
                            vocab);
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
      if ((!all && first == ids.size()) || afterPrompt)
        std::memcpy(logits.data(), seqc_session_logits(s), 4 * vocab);
      if (!stateOut.empty())
        keepState();
    }
    for (size_t i = first; i < ids.size(); ++i) {
      check(seqc_session_step(s, ids[i]));
      if (!stateOut.empty())
        keepState();
      if (all || afterPrompt || i + 1 == ids.size())
        std::memcpy(&logits[(all || afterPrompt ? i - firstRow : 0) * vocab],
                    seqc_session_logits(s), 4 * vocab);
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
  if (!stateOut.empty())
    writeOutputFile(stateOut, states);
  if (!out.empty()) {
    // Raw little-endian f32, rows of `vocab`.
    writeOutputFile(out,
                    std::string(reinterpret_cast<const char *>(logits.data()),
                                4 * logits.size()));
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
  double start = args.real("--start-fraction", 0, 0, 1);
  int64_t startByte = args.integer("--start-byte", -1, 0, INT64_MAX);
  long maxTokens = (long)args.integer("--max-tokens", 0, 0, INT64_MAX);
  // A window's first token is context only: a window of one scores nothing.
  size_t window = (size_t)args.integer("--window", 0, 2, INT64_MAX);
  args.finish();
  // Attention models see at most their context: score in windows of it
  // unless told otherwise.
  int64_t contextTokens = l.manifestInteger("context", 0, 2, INT32_MAX);
  const char *context = seqc_model_get(l.model, "context");
  if (context && window == 0) {
    window = (size_t)contextTokens;
    std::fprintf(stderr,
                 "seqc-run: ppl: scoring in windows of %zu tokens (the "
                 "model's context; --window to change)\n",
                 window);
  }
  if (context && window > (size_t)contextTokens)
    die("ppl: --window " + std::to_string(window) +
        " exceeds the model's context (" + context + " tokens)");
  std::string text = readTextFile(path);
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
  if (scored == 0)
    die(path + ": no token was scored");
  double elapsed = seconds() - t0;
  std::printf("{\"file\": \"%s\", \"start_byte\": %zu, \"tokens\": %zu, "
              "\"window\": %zu, \"scored\": %zu, \"nll\": %.6f, "
              "\"ppl\": %.6f, \"tokens_per_s\": %.1f}\n",
              path.c_str(), from, ids.size(), window, scored, nll / scored,
              std::exp(nll / scored), ids.size() / elapsed);
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
    text = readTextFile(file);
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

/// The command line's command.
int run(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  std::string cmd = argv[1];
  Args args(argc, argv,
            {"--all", "--step", "--after-prompt", "--covariance", "--stats",
             "--verify", "--no-verify"});
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
  if (cmd == "report")
    return cmdReport(args);
  die("unknown command '" + cmd + "'\n" + kUsage);
}

} // namespace

int main(int argc, char **argv) {
  // Every failure is a message and exit status 1: nothing escapes as an
  // uncaught exception (std::terminate, SIGABRT).
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    die("out of memory");
  } catch (const std::exception &e) {
    die(std::string("internal error: ") + e.what());
  } catch (...) {
    die("internal error: an unknown exception");
  }
}
