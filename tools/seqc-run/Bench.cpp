//===- Bench.cpp - seqc-run bench: prefill and decode speed ---------------===//
//
// Prefill and decode timings, each decode round followed by a probe of the
// read bandwidth (the roofline ratio compares the two under the same load).
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "SpikeStats.h"

#include "seqc/Support/HugePages.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

using namespace seqcrun;

namespace {

/// The most tokens one prefill or context point of bench feeds.
constexpr int64_t kMaxBenchTokens = int64_t(1) << 20;

/// Read bandwidth probe: `threads` threads each read their share of a
/// buffer much larger than the caches, as a decode step reads its weights.
/// The loop folds 64-bit words into 16 independent XOR accumulators, so no
/// arithmetic latency limits it: a float sum (one dependent add chain per
/// lane) read up to 25% slower in a standalone comparison, which made the
/// roofline ratios look better than they were.
///
/// The buffer is asked for huge pages (seqc::mapHugeRegion), as
/// --weight-pages=huge-copy asks for the weights: the
/// bound is then the memory's, not the TLB's; with 4 KiB pages the probe
/// read slower than decode over weights in huge pages ("roofline ratios"
/// above 1). hugeBytes() says what the OS gave.
class BandwidthProbe {
public:
  BandwidthProbe() : region(seqc::mapHugeRegion(size_t(512) << 20)) {
    if (!region.data)
      die("bench: cannot map 512 MiB for the bandwidth probe");
    data = static_cast<uint64_t *>(region.data);
    words = (size_t(512) << 20) / 8;
    for (size_t i = 0; i < words; ++i)
      data[i] = i * 0x9E3779B97F4A7C15ull;
  }
  ~BandwidthProbe() { seqc::unmapHugeRegion(region); }
  BandwidthProbe(const BandwidthProbe &) = delete;
  BandwidthProbe &operator=(const BandwidthProbe &) = delete;

  /// Bytes of the buffer in huge pages, or 0.
  size_t hugeBytes() const { return seqc::bytesInHugePages(data, words * 8); }
  /// Best of `passes` passes (bytes / second).
  double measure(int threads, int passes) {
    double best = 0;
    std::vector<uint64_t> sums(threads * 8);
    for (int pass = 0; pass < passes; ++pass) {
      double t = seconds();
      std::vector<std::thread> pool;
      size_t share = words / threads / 16 * 16;
      for (int th = 0; th < threads; ++th)
        pool.emplace_back([&, th] {
          const uint64_t *p = data + th * share;
          uint64_t acc[16] = {0};
          // Software prefetches kAhead bytes ahead, as the decode
          // products do (prefetchRowsAhead): the hardware prefetchers
          // alone leave a thread's loads waiting, and a probe slower than
          // the products would make ratios to it flatter than they are.
          constexpr size_t kAhead = 8192 / 8;
          size_t prefetched = share > kAhead ? share - kAhead : 0;
          size_t i = 0;
          for (; i < prefetched; i += 16) {
            __builtin_prefetch(p + i + kAhead, 0, 2);
            __builtin_prefetch(p + i + kAhead + 8, 0, 2);
            for (int j = 0; j < 16; ++j)
              acc[j] ^= p[i + j];
          }
          for (; i < share; i += 16)
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
  seqc::HugeRegion region;
  uint64_t *data = nullptr;
  size_t words = 0;
};

/// FP32 multiply-add peak: each thread runs 12 independent chains of
/// vector FMAs (enough to keep two FMA units busy through a 4-cycle
/// latency) in the widest form the CPU has; the compiled products use the
/// same instructions, so prefill's GFLOP/s over this peak says how much of
/// the arithmetic the products reach. Returns FLOP/s (0 without FMA).
/// The sum of `n` floats (what the chains computed, so that the compiler
/// keeps them).
float sumOf(const float *v, int n) {
  float sum = 0;
  for (int i = 0; i < n; ++i)
    sum += v[i];
  return sum;
}

__attribute__((target("avx512f"))) float fmaChains512(long iterations) {
  __m512 acc[12];
  for (int j = 0; j < 12; ++j)
    acc[j] = _mm512_set1_ps((float)j);
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  alignas(64) float lanes[12][16];
  for (int j = 0; j < 12; ++j)
    _mm512_store_ps(lanes[j], acc[j]);
  return sumOf(&lanes[0][0], 12 * 16);
}

__attribute__((target("avx2,fma"))) float fmaChains256(long iterations) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j)
    acc[j] = _mm256_set1_ps((float)j);
  __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  alignas(32) float lanes[12][8];
  for (int j = 0; j < 12; ++j)
    _mm256_store_ps(lanes[j], acc[j]);
  return sumOf(&lanes[0][0], 12 * 8);
}

/// Best of `passes` runs of `threads` threads; `isa` gets the form used.
double fmaPeak(int threads, int passes, std::string &isa) {
  bool wide = __builtin_cpu_supports("avx512f");
  if (!wide && !__builtin_cpu_supports("fma")) {
    isa = "none";
    return 0;
  }
  isa = wide ? "avx512f" : "avx2+fma";
  const long iterations = 20000000;
  double flopsPerThread = 2.0 * 12 * (wide ? 16 : 8) * iterations;
  double best = 0;
  std::vector<float> sink(threads * 16);
  for (int pass = 0; pass < passes; ++pass) {
    double t = seconds();
    std::vector<std::thread> pool;
    for (int th = 0; th < threads; ++th)
      pool.emplace_back([&, th] {
        sink[th * 16] =
            wide ? fmaChains512(iterations) : fmaChains256(iterations);
      });
    for (std::thread &th : pool)
      th.join();
    best = std::max(best, flopsPerThread * threads / (seconds() - t));
  }
  return best;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace

int seqcrun::cmdBench(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  // Token counts are bounded (a prefill of 3e9 tokens would ask for 12 GB
  // of ids before the runtime could refuse them).
  std::vector<int64_t> prefills =
      args.integers("--prefill", "64,512", 1, kMaxBenchTokens);
  long decode = (long)args.integer("--decode", 64, 1, 1000000);
  long rounds = (long)args.integer("--rounds", 5, 1, 1000);
  std::vector<int64_t> points;
  if (args.has("--contexts"))
    points = args.integers("--contexts", "", 1, kMaxBenchTokens);
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
  // FP32 FMA peak with as many threads as the products use, measured
  // before the prefills it is set against.
  std::string fmaIsa;
  double peak = fmaPeak(seqc_thread_count(), 3, fmaIsa);
  // A token's matrix multiply-adds (from the manifest; 0 when it predates
  // the key). A prefill computes the output head for the last token of
  // each chunk only, so its FLOP/s are 2 · (macs - head) · tokens /
  // seconds: the head's few rows are left out, not counted per token.
  double macs = (double)l.manifestInteger("token_matrix_macs", 0, 0, INT64_MAX);
  double headMacs =
      (double)l.manifestInteger("head_matrix_macs", 0, 0, INT64_MAX);
  double prefillMacs = macs > headMacs ? macs - headMacs : 0;
  std::ostringstream json;
  json << "{\n  \"model\": \"" << seqc_model_get(l.model, "description")
       << "\",\n  \"weights_format\": \""
       << seqc_model_get(l.model, "weights_format")
       << "\",\n  \"weight_bytes\": " << seqc_model_weight_bytes(l.model)
       << ",\n  \"prefill\": [";
  bool first = true;
  for (int64_t n : prefills) {
    std::vector<int32_t> ids = randomTokens(n);
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      check(seqc_session_reset(s));
      double t = seconds();
      check(seqc_session_prefill(s, ids.data(), ids.size()));
      best = std::min(best, seconds() - t);
    }
    double flops = 2 * prefillMacs * n / best;
    json << (first ? "" : ",") << "\n    {\"tokens\": " << n
         << ", \"seconds\": " << best << ", \"tokens_per_s\": " << n / best
         << ", \"gflop_s\": " << flops / 1e9
         << ", \"fma_peak_ratio\": " << (peak > 0 ? flops / peak : 0) << "}";
    first = false;
  }
  json << "\n  ],\n  \"token_matrix_macs\": " << (uint64_t)macs
       << ",\n  \"head_matrix_macs\": " << (uint64_t)headMacs
       << ",\n  \"fma_peak_gflop_s\": " << peak / 1e9
       << ",\n  \"fma_peak_isa\": \"" << fmaIsa << "\",\n";
  // Attention models: decode speed with the KV cache holding N tokens, for
  // each N of --contexts (ascending; the cache is filled by prefill).
  const char *kvPerToken = seqc_model_get(l.model, "kv_bytes_per_token");
  if (kvPerToken) {
    json << "  \"kv_cache\": \"" << seqc_model_get(l.model, "kv_cache")
         << "\",\n  \"kv_bytes_per_token\": " << kvPerToken
         << ",\n  \"kv_bytes_per_full_token\": "
         << seqc_model_get(l.model, "kv_bytes_per_full_token")
         << ",\n  \"decode_at_context\": [";
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
      std::fprintf(stderr, "seqc-run: bench: context %lld: %.2f ms/token\n",
                   (long long)points[i], ms);
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
  double perToken = (double)l.manifestInteger(
      "token_read_bytes", (int64_t)seqc_model_weight_bytes(l.model), 0,
      INT64_MAX);
  BandwidthProbe probe;
  std::vector<double> roundMs, roundBw, roundRatio;
  SpikeCounters counters(l.model);
  SpikeCounters::Reading spikesBefore = counters.read(s);
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
       << ",\n  \"token_read_bytes\": "
       << (uint64_t)perToken
       // GPU artifacts run a prompt in chunks of their prefill schedule's
       // tokens (0: the prefill takes any count, as on the CPU).
       << ",\n  \"prefill_chunk_tokens\": "
       << l.manifestInteger("prefill_tokens", 0, 0, 4096)
       << ",\n  \"peak_rss_bytes\": " << (uint64_t)peakRss
       << ",\n  \"read_bandwidth_threads\": " << hw
       << ",\n  \"read_bandwidth_gb_s\": " << bw / 1e9
       << ",\n  \"read_bandwidth_1_thread_gb_s\": " << bw1 / 1e9
       << ",\n  \"roofline_ms_per_token\": " << perToken / bw * 1e3
       << ",\n  \"roofline_ratio\": " << median(roundRatio)
       << ",\n  \"round_decode_ms_per_token\": " << list(roundMs)
       << ",\n  \"round_read_bandwidth_gb_s\": " << list(roundBw)
       << ",\n  \"round_roofline_ratio\": "
       << list(roundRatio)
       // How the weights were held, and how much of them the OS had in
       // huge pages after the rounds (the speed depends on it).
       << ",\n  \"weight_pages\": \""
       << (seqc_model_weight_pages(l.model) == SEQC_PAGES_HUGE_COPY
               ? "huge-copy"
               : "file")
       << "\",\n  \"weight_bytes_in_huge_pages\": "
       << seqc_model_weight_huge_bytes(l.model)
       << ",\n  \"probe_bytes_in_huge_pages\": " << probe.hugeBytes();
  // Spiking models: over the rounds' decode steps.
  if (!counters.empty())
    json << ",\n"
         << counters.json(spikesBefore, counters.read(s),
                          (double)rounds * decode, "  ");
  json << "\n}\n";
  seqc_session_free(s);
  std::string text = json.str();
  if (!out.empty())
    writeOutputFile(out, text);
  std::fputs(text.c_str(), stdout);
  return 0;
}
