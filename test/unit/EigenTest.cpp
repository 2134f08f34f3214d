//===- EigenTest.cpp - symmetric eigendecomposition tests -----------------===//

#include "seqc/Support/Eigen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace seqc;

namespace {

/// A random symmetric positive semi-definite matrix X Xᵀ / m of rank
/// min(n, m), like a covariance of m samples.
std::vector<double> covariance(int64_t n, int64_t m, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  std::vector<double> x(n * m), a(n * n, 0.0);
  for (double &v : x)
    v = normal(gen);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < m; ++k)
        a[i * n + j] += x[i * m + k] * x[j * m + k] / m;
  return a;
}

void checkDecomposition(const std::vector<double> &a, int64_t n) {
  std::vector<double> w, v;
  symmetricEigen(a, n, w, v);
  ASSERT_EQ(w.size(), size_t(n));
  double scale = 0;
  for (double x : a)
    scale = std::max(scale, std::fabs(x));
  for (int64_t k = 0; k < n; ++k) {
    if (k > 0)
      EXPECT_GE(w[k - 1], w[k]) << "eigenvalues must be descending";
    // A v_k = w_k v_k.
    for (int64_t i = 0; i < n; ++i) {
      double av = 0;
      for (int64_t j = 0; j < n; ++j)
        av += a[i * n + j] * v[j * n + k];
      EXPECT_NEAR(av, w[k] * v[i * n + k], 1e-10 * scale * n);
    }
    // Orthonormal columns.
    for (int64_t l = 0; l <= k; ++l) {
      double dot = 0;
      for (int64_t i = 0; i < n; ++i)
        dot += v[i * n + k] * v[i * n + l];
      EXPECT_NEAR(dot, k == l ? 1.0 : 0.0, 1e-12);
    }
    // Largest component positive.
    int64_t at = 0;
    for (int64_t i = 1; i < n; ++i)
      if (std::fabs(v[i * n + k]) > std::fabs(v[at * n + k]))
        at = i;
    EXPECT_GT(v[at * n + k], 0.0);
  }
}

TEST(Eigen, Diagonal) {
  std::vector<double> a = {1, 0, 0, 0, 4, 0, 0, 0, 2};
  std::vector<double> w, v;
  symmetricEigen(a, 3, w, v);
  EXPECT_EQ(w, (std::vector<double>{4, 2, 1}));
  EXPECT_EQ(v, (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
}

TEST(Eigen, RandomCovariances) {
  checkDecomposition(covariance(2, 5, 1), 2);
  checkDecomposition(covariance(17, 40, 2), 17);
  checkDecomposition(covariance(64, 200, 3), 64);
}

TEST(Eigen, RankDeficient) {
  // 10 samples in 24 dimensions: 14 zero eigenvalues.
  std::vector<double> a = covariance(24, 10, 4);
  checkDecomposition(a, 24);
  std::vector<double> w, v;
  symmetricEigen(a, 24, w, v);
  for (int64_t k = 10; k < 24; ++k)
    EXPECT_NEAR(w[k], 0.0, 1e-12);
}

} // namespace
