//===- Eigen.cpp - symmetric eigendecomposition ---------------------------===//

#include "seqc/Support/Eigen.h"

#include <algorithm>
#include <cmath>
#include <numeric>

void seqc::symmetricEigen(const std::vector<double> &input, int64_t n,
                          std::vector<double> &values,
                          std::vector<double> &vectors) {
  std::vector<double> a = input, v(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    v[i * n + i] = 1.0;
  double total = 0;
  for (double x : a)
    total += x * x;
  // Cyclic Jacobi: each rotation zeroes a[p][q]; sweeps until the
  // off-diagonal mass is negligible against the whole matrix.
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q)
        off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * total || off == 0)
      break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        double apq = a[p * n + q];
        if (apq == 0)
          continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1.0 : -1.0) /
                   (std::fabs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        // A <- J^T A J with J the rotation in the (p, q) plane.
        for (int64_t k = 0; k < n; ++k) {
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return a[x * n + x] > a[y * n + y];
  });
  values.assign(n, 0.0);
  vectors.assign(n * n, 0.0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t src = order[k];
    values[k] = a[src * n + src];
    double norm = 0, big = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; ++i) {
      double x = v[i * n + src];
      norm += x * x;
      if (std::fabs(x) > big) {
        big = std::fabs(x);
        at = i;
      }
    }
    double sign = v[at * n + src] < 0 ? -1.0 : 1.0;
    double scale = sign / std::sqrt(norm);
    for (int64_t i = 0; i < n; ++i)
      vectors[i * n + k] = v[i * n + src] * scale;
  }
}
