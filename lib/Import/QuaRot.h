//===- QuaRot.h - QuaRot's rotations folded into LLaMA weights -*- C++ -*-===//
//
// The orthogonal maps `seqc compile --rotate-weights` folds into a LLaMA's
// weights before they are stored (see seqc::buildLlama): a random signed
// Hadamard rotation of the residual stream and the Hadamard matrix of the
// head size on the values.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_QUAROT_H
#define SEQC_LIB_IMPORT_QUAROT_H

#include "seqc/Import/Llama.h"
#include "seqc/Support/Hadamard.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

namespace seqc::import {

/// v ← v·diag(s)·H/√n for the n values at p[0], p[stride], ... (H the
/// Hadamard matrix of order n, s optional signs): an orthogonal map.
class Rotation {
public:
  static std::optional<Rotation> get(int64_t n, std::vector<double> signs) {
    std::optional<HadamardFactorization> f = factorizeHadamardOrder(n);
    if (!f)
      return std::nullopt;
    Rotation r;
    r.f = *f;
    r.base = buildHadamardBase(*f);
    r.signs = std::move(signs);
    return r;
  }

  void apply(float *p, int64_t stride) const {
    std::vector<double> x(f.order);
    for (int64_t i = 0; i < f.order; ++i)
      x[i] = (double)p[i * stride] * (signs.empty() ? 1.0 : signs[i]);
    applyHadamardToRow(f, base, x.data());
    double norm = 1.0 / std::sqrt((double)f.order);
    for (int64_t i = 0; i < f.order; ++i)
      p[i * stride] = (float)(x[i] * norm);
  }

private:
  HadamardFactorization f;
  std::vector<int8_t> base;
  std::vector<double> signs;
};

/// QuaRot's rotations, folded into the weights of a LLaMA (see buildLlama):
/// the residual stream x becomes x·Q, the values of each KV head v·H_D.
class QuaRot {
public:
  static llvm::Expected<QuaRot> get(const LlamaConfig &cfg, uint64_t seed) {
    // Random signs from splitmix64, so that a seed names one rotation.
    std::vector<double> signs(cfg.embd);
    uint64_t state = seed;
    for (double &s : signs) {
      uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = ((z ^ (z >> 31)) & 1) ? -1.0 : 1.0;
    }
    std::optional<Rotation> residual = Rotation::get(cfg.embd, signs);
    std::optional<Rotation> head = Rotation::get(cfg.headDim, {});
    if (!residual || !head)
      return llvm::createStringError(
          "rotating the weights: " +
          (residual ? "head size " + llvm::Twine(cfg.headDim)
                    : "hidden size " + llvm::Twine(cfg.embd)) +
          " has no Hadamard matrix; supported orders are " +
          describeSupportedHadamardOrders());
    return QuaRot(*residual, *head, cfg.embd, cfg.headDim);
  }

  /// W [rows, C] reads the residual stream, after an RMSNorm of scale `g`
  /// when given: W ← W·diag(g)·Q. Also the embedding table, whose rows are
  /// residual vectors (x·Q).
  void readsResidual(std::vector<float> &w, const std::vector<float> *g) const {
    for (size_t r = 0; r < w.size(); r += C) {
      if (g)
        for (int64_t c = 0; c < C; ++c)
          w[r + c] *= (*g)[c];
      residual.apply(&w[r], 1);
    }
  }

  /// W [C, cols] writes the residual stream: W ← Qᵀ·W (each column, read
  /// as a row, times Q).
  void writesResidual(std::vector<float> &w) const {
    int64_t cols = w.size() / C;
    for (int64_t j = 0; j < cols; ++j)
      residual.apply(&w[j], cols);
  }

  /// W_v [KV heads·D, C]: each head's rows ← H_Dᵀ·rows, so v ← v·H_D.
  void rotatesValues(std::vector<float> &w) const {
    for (size_t row = 0; row < w.size() / C; row += D)
      for (int64_t j = 0; j < C; ++j)
        head.apply(&w[row * C + j], C);
  }

  /// W_o [C, heads·D]: each head's columns ← columns·H_D, undoing the
  /// values' rotation (o·H_D·(W_o·H_D)ᵀ = o·W_oᵀ).
  void unrotatesValues(std::vector<float> &w) const {
    int64_t cols = w.size() / C;
    for (int64_t r = 0; r < C; ++r)
      for (int64_t h = 0; h < cols; h += D)
        head.apply(&w[r * cols + h], 1);
  }

private:
  QuaRot(Rotation residual, Rotation head, int64_t C, int64_t D)
      : residual(std::move(residual)), head(std::move(head)), C(C), D(D) {}
  Rotation residual, head;
  int64_t C, D;
};

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_QUAROT_H
