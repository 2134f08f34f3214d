//===- HadamardTest.cpp - Hadamard construction tests ---------------------===//

#include "seqc/Support/Hadamard.h"

#include <gtest/gtest.h>

using namespace seqc;

namespace {

/// H·Hᵀ == n·I exactly, in integers.
bool isHadamard(const std::vector<int8_t> &h, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t dot = 0;
      for (int64_t k = 0; k < n; ++k)
        dot += int64_t(h[i * n + k]) * h[j * n + k];
      if (dot != (i == j ? n : 0))
        return false;
    }
  return true;
}

bool isSymmetric(const std::vector<int8_t> &h, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      if (h[i * n + j] != h[j * n + i])
        return false;
  return true;
}

class HadamardOrderTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(HadamardOrderTest, MatrixIsOrthogonalWithUnitEntries) {
  int64_t n = GetParam();
  auto f = factorizeHadamardOrder(n);
  ASSERT_TRUE(f.has_value()) << "order " << n;
  EXPECT_EQ(f->order, n);
  EXPECT_EQ(f->baseOrder << f->log2PowerOfTwo, n);
  std::vector<int8_t> h = buildHadamardMatrix(*f);
  ASSERT_EQ(static_cast<int64_t>(h.size()), n * n);
  for (int8_t e : h)
    ASSERT_TRUE(e == 1 || e == -1);
  EXPECT_TRUE(isHadamard(h, n)) << "order " << n;
  EXPECT_EQ(isSymmetric(h, n), f->isSymmetric()) << "order " << n;
}

// Powers of two, the head sizes of 2^k·12 and 2^k·20 models, and both Paley
// constructions (12, 28, 36, 60: Paley II; 20, 24, 44: Paley I).
INSTANTIATE_TEST_SUITE_P(SupportedOrders, HadamardOrderTest,
                         ::testing::Values(1, 2, 4, 8, 64, 128, 256, 12, 20, 24,
                                           28, 36, 44, 60, 40, 48, 80, 96, 160,
                                           192, 320));

TEST(HadamardTest, UnsupportedOrdersAreRejected) {
  for (int64_t n : {0, -4, 3, 6, 10, 172, 188, 43})
    EXPECT_FALSE(factorizeHadamardOrder(n).has_value()) << "order " << n;
}

TEST(HadamardTest, PrefersSmallestBaseAndSymmetricConstruction) {
  auto f = factorizeHadamardOrder(96); // 8 · 12
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->baseOrder, 12);
  EXPECT_EQ(f->log2PowerOfTwo, 3);
  EXPECT_EQ(f->construction, HadamardConstruction::PaleyII);
  auto g = factorizeHadamardOrder(20);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->construction, HadamardConstruction::PaleyI);
  EXPECT_FALSE(g->isSymmetric());
}

TEST(HadamardTest, DescriptionNamesTheConstructions) {
  std::string d = describeSupportedHadamardOrders();
  EXPECT_NE(d.find("2^k"), std::string::npos);
  EXPECT_NE(d.find("12"), std::string::npos);
}

} // namespace
