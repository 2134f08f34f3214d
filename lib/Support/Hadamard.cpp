//===- Hadamard.cpp - Hadamard matrices of many orders --------------------===//

#include "seqc/Support/Hadamard.h"

#include <algorithm>
#include <cassert>

namespace seqc {

static bool isPrime(int64_t q) {
  if (q < 2)
    return false;
  for (int64_t d = 2; d * d <= q; ++d)
    if (q % d == 0)
      return false;
  return true;
}

/// Legendre symbol χ(a) over GF(q) for an odd prime q: 0, 1 or -1.
static int legendre(int64_t a, int64_t q) {
  a %= q;
  if (a < 0)
    a += q;
  if (a == 0)
    return 0;
  // Euler's criterion: a^((q-1)/2) mod q.
  int64_t result = 1, base = a, e = (q - 1) / 2;
  while (e > 0) {
    if (e & 1)
      result = result * base % q;
    base = base * base % q;
    e >>= 1;
  }
  return result == 1 ? 1 : -1;
}

/// The construction for base order m (m = 1, or a multiple of 4), if any.
static std::optional<HadamardConstruction> baseConstruction(int64_t m) {
  if (m == 1)
    return HadamardConstruction::Sylvester;
  if (m % 4 != 0)
    return std::nullopt;
  // Paley II first: its matrices are symmetric, so the normalized transform
  // is its own inverse.
  if (isPrime(m / 2 - 1) && (m / 2 - 1) % 4 == 1)
    return HadamardConstruction::PaleyII;
  if (isPrime(m - 1) && (m - 1) % 4 == 3)
    return HadamardConstruction::PaleyI;
  return std::nullopt;
}

std::optional<HadamardFactorization> factorizeHadamardOrder(int64_t n) {
  if (n < 1)
    return std::nullopt;
  int64_t twos = 0, odd = n;
  while (odd % 2 == 0) {
    odd /= 2;
    ++twos;
  }
  if (odd == 1)
    return HadamardFactorization{n, twos, 1, HadamardConstruction::Sylvester};
  // The base order m = 2^b · odd must be a multiple of 4: try b = 2 .. twos,
  // smallest base first.
  for (int64_t b = 2; b <= twos; ++b) {
    int64_t m = odd << b;
    if (auto c = baseConstruction(m))
      return HadamardFactorization{n, twos - b, m, *c};
  }
  return std::nullopt;
}

std::string describeSupportedHadamardOrders() {
  return "2^k, or 2^k·m where m = q+1 for a prime q ≡ 3 (mod 4) "
         "(12, 20, 24, 44, ...) or m = 2(q+1) for a prime q ≡ 1 (mod 4) "
         "(12, 28, 36, 60, ...)";
}

std::vector<int8_t> buildHadamardBase(const HadamardFactorization &f) {
  const int64_t m = f.baseOrder;
  std::vector<int8_t> h(m * m, 0);
  auto at = [&](int64_t i, int64_t j) -> int8_t & { return h[i * m + j]; };
  switch (f.construction) {
  case HadamardConstruction::Sylvester:
    h[0] = 1;
    break;
  case HadamardConstruction::PaleyI: {
    // H = I + S with S = [[0, 1ᵀ], [-1, Q]] and Q[i][j] = χ(j - i): S is skew,
    // so H·Hᵀ = I - S² = (q + 1)·I.
    const int64_t q = m - 1;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) {
        int s;
        if (i == 0 && j == 0)
          s = 0;
        else if (i == 0)
          s = 1;
        else if (j == 0)
          s = -1;
        else
          s = legendre((j - 1) - (i - 1), q);
        at(i, j) = static_cast<int8_t>(s + (i == j ? 1 : 0));
      }
    break;
  }
  case HadamardConstruction::PaleyII: {
    // C = [[0, 1ᵀ], [1, Q]] is a symmetric conference matrix of order q + 1;
    // each 0 becomes [[1, -1], [-1, -1]] and each ±1 becomes ±[[1, 1], [1,
    // -1]].
    const int64_t q = m / 2 - 1;
    for (int64_t i = 0; i <= q; ++i)
      for (int64_t j = 0; j <= q; ++j) {
        int c;
        if (i == 0 && j == 0)
          c = 0;
        else if (i == 0 || j == 0)
          c = 1;
        else
          c = legendre((j - 1) - (i - 1), q);
        static const int zeroBlock[2][2] = {{1, -1}, {-1, -1}};
        static const int oneBlock[2][2] = {{1, 1}, {1, -1}};
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            at(2 * i + a, 2 * j + b) = static_cast<int8_t>(
                c == 0 ? zeroBlock[a][b] : c * oneBlock[a][b]);
      }
    break;
  }
  }
  return h;
}

std::vector<int8_t> buildHadamardMatrix(const HadamardFactorization &f) {
  const int64_t m = f.baseOrder, n = f.order;
  assert(n == (m << f.log2PowerOfTwo) && "inconsistent factorization");
  std::vector<int8_t> base = buildHadamardBase(f);
  std::vector<int8_t> h(n * n);
  // (H_{2^k} ⊗ H_m)[i][j] = H_{2^k}[i / m][j / m] · H_m[i % m][j % m], with
  // Sylvester's entry (-1)^popcount(a & b).
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int sign =
          __builtin_popcountll(static_cast<uint64_t>((i / m) & (j / m))) & 1
              ? -1
              : 1;
      h[i * n + j] = static_cast<int8_t>(sign * base[(i % m) * m + (j % m)]);
    }
  return h;
}

void applyHadamardToRow(const HadamardFactorization &f,
                        const std::vector<int8_t> &base, double *x) {
  const int64_t m = f.baseOrder, n = f.order;
  assert((int64_t)base.size() == m * m && "base of another factorization");
  // Index i = a·m + b: (x·(H_{2^k} ⊗ H_m))[a'·m + c] =
  // Σ_a S[a][a'] Σ_b x[a·m + b] · H_m[b][c].
  if (m > 1) {
    std::vector<double> block(m);
    for (int64_t a = 0; a < n; a += m) {
      for (int64_t c = 0; c < m; ++c) {
        double sum = 0;
        for (int64_t b = 0; b < m; ++b)
          sum += x[a + b] * base[b * m + c];
        block[c] = sum;
      }
      std::copy(block.begin(), block.end(), x + a);
    }
  }
  for (int64_t h = m; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        double u = x[j], v = x[j + h];
        x[j] = u + v;
        x[j + h] = u - v;
      }
}

} // namespace seqc
