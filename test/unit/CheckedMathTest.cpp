//===- CheckedMathTest.cpp - sizes and offsets that cannot wrap -----------===//

#include "seqc/Support/CheckedMath.h"

#include <gtest/gtest.h>

#include <limits>

namespace {

using seqc::checkedAdd;
using seqc::checkedMul;
using seqc::checkedProduct;

TEST(CheckedMath, Products) {
  EXPECT_EQ(checkedMul(uint64_t(1) << 31, uint64_t(2)), uint64_t(1) << 32);
  // numel 2^62 times 4 bytes is 0 in 64 bits.
  EXPECT_FALSE(checkedMul(uint64_t(1) << 62, uint64_t(4)));
  EXPECT_FALSE(checkedMul(int64_t(1) << 32, int64_t(1) << 31));
  EXPECT_EQ(checkedMul(int64_t(-3), int64_t(5)), -15);
}

TEST(CheckedMath, Sums) {
  EXPECT_EQ(checkedAdd(int64_t(4), int64_t(5)), 9);
  // A storage offset of 2^63 - 8 plus 16 elements.
  EXPECT_FALSE(
      checkedAdd(std::numeric_limits<int64_t>::max() - 7, int64_t(16)));
  EXPECT_FALSE(checkedAdd(std::numeric_limits<uint64_t>::max(), uint64_t(1)));
}

TEST(CheckedMath, ShapeProducts) {
  EXPECT_EQ(checkedProduct({}), 1);
  EXPECT_EQ(checkedProduct({3, 0, 5}), 0);
  EXPECT_EQ(checkedProduct({1 << 20, 1 << 20}), int64_t(1) << 40);
  // [2^32, 2^32] multiplies to 0 in 64 bits: refused, not empty.
  EXPECT_FALSE(checkedProduct({int64_t(1) << 32, int64_t(1) << 32}));
  EXPECT_FALSE(checkedProduct({4, -1}));
}

TEST(CheckedMath, RangeInside) {
  EXPECT_TRUE(seqc::rangeInside(0, 16, 16));
  EXPECT_TRUE(seqc::rangeInside(16, 0, 16));
  EXPECT_FALSE(seqc::rangeInside(8, 9, 16));
  EXPECT_FALSE(seqc::rangeInside(17, 0, 16));
  // offset + length would wrap to a small number.
  EXPECT_FALSE(seqc::rangeInside(8, std::numeric_limits<uint64_t>::max(), 16));
}

} // namespace
