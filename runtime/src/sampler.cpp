//===- sampler.cpp - pick the next token from logits ----------------------===//

#include "core/status.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

using seqc::rt::error;

struct seqc_rng {
  std::mt19937_64 engine;
};

extern "C" {

seqc_status seqc_rng_create(uint64_t seed, seqc_rng **out) {
  if (!out)
    return error("seqc_rng_create: null argument");
  *out = new seqc_rng{std::mt19937_64(seed)};
  return nullptr;
}

void seqc_rng_free(seqc_rng *rng) { delete rng; }

seqc_status seqc_sample(const float *logits, int32_t vocab, double temp,
                        double topP, int32_t topK, seqc_rng *rng,
                        int32_t *token) {
  if (!logits || !token || vocab <= 0)
    return error("seqc_sample: null argument or empty vocabulary");
  if (temp <= 0) {
    *token = (int32_t)(std::max_element(logits, logits + vocab) - logits);
    return nullptr;
  }
  if (!rng)
    return error("seqc_sample: sampling at temperature %g needs an rng", temp);
  if (!(topP >= 0 && topP <= 1) || topK < 0)
    return error("seqc_sample: top_p %g must be in [0, 1] and top_k %d >= 0",
                 topP, topK);
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  size_t keep = topK > 0 ? std::min<size_t>(topK, vocab) : vocab;
  std::vector<double> p(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i)
    total += p[i] = std::exp((logits[ids[i]] - logits[ids[0]]) / temp);
  if (topP < 1.0) {
    double mass = 0;
    size_t n = 0;
    while (n < keep && mass < topP * total)
      mass += p[n++];
    keep = std::max<size_t>(n, 1);
    p.resize(keep);
    total = mass;
  }
  double r = std::uniform_real_distribution<double>(0, total)(rng->engine);
  for (size_t i = 0; i < keep; ++i) {
    r -= p[i];
    if (r <= 0) {
      *token = ids[i];
      return nullptr;
    }
  }
  *token = ids[keep - 1];
  return nullptr;
}

} // extern "C"
