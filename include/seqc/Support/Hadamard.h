//===- Hadamard.h - Hadamard matrices of many orders ------------*- C++ -*-===//
//
// Hadamard matrices H of order n (entries ±1, H·Hᵀ = n·I) built as
// H_{2^k} ⊗ H_m: Sylvester's construction for the power of two and a Paley
// construction for the factor m > 1. Used by the seq dialect's verifier (which
// orders exist), by the lowerings (the matrices themselves) and by the
// runtime's fast transform. Depends on nothing but the C++ standard library.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_HADAMARD_H
#define SEQC_SUPPORT_HADAMARD_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqc {

/// How the non-power-of-two factor of a Hadamard order is built.
enum class HadamardConstruction {
  /// m = 1: the order is a power of two (Sylvester).
  Sylvester,
  /// m = q + 1 with q a prime, q ≡ 3 (mod 4).
  PaleyI,
  /// m = 2(q + 1) with q a prime, q ≡ 1 (mod 4).
  PaleyII,
};

/// The order n = 2^log2PowerOfTwo · baseOrder.
struct HadamardFactorization {
  int64_t order = 0;
  int64_t log2PowerOfTwo = 0;
  int64_t baseOrder = 1;
  HadamardConstruction construction = HadamardConstruction::Sylvester;

  /// True when H = Hᵀ (Sylvester ⊗ Sylvester or Sylvester ⊗ Paley II), so
  /// that the normalized transform is its own inverse.
  bool isSymmetric() const {
    return construction != HadamardConstruction::PaleyI;
  }
};

/// Finds a construction for order `n`, preferring the smallest base order.
/// Returns std::nullopt when none of the constructions reaches `n` (e.g. 172,
/// or any n not a multiple of 4 other than 1 and 2).
std::optional<HadamardFactorization> factorizeHadamardOrder(int64_t n);

/// A short human-readable description of the orders that are supported, for
/// error messages.
std::string describeSupportedHadamardOrders();

/// The Hadamard matrix of the factorization, row-major, entries +1/-1.
std::vector<int8_t> buildHadamardMatrix(const HadamardFactorization &f);

/// The base (non-power-of-two) factor H_m of the factorization, row-major.
std::vector<int8_t> buildHadamardBase(const HadamardFactorization &f);

/// x ← x·H (unnormalized) for a row x of f.order values, in
/// O(n log n + n·m) operations: the base factor H_m is applied to each block
/// of m consecutive values, then Sylvester's butterflies across the blocks.
/// `base` is buildHadamardBase(f).
void applyHadamardToRow(const HadamardFactorization &f,
                        const std::vector<int8_t> &base, double *x);

} // namespace seqc

#endif // SEQC_SUPPORT_HADAMARD_H
