//===- ChecksumTest.cpp - XXH64 and the strict number parser --------------===//

#include "seqc/Support/Checksum.h"
#include "seqc/Support/ParseNumber.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace seqc;

namespace {

TEST(ChecksumTest, KnownValues) {
  // xxHash's published values for seed 0.
  EXPECT_EQ(xxh64("", 0), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(xxh64("a", 1), 0xD24EC4F1A98C6E5Bull);
  EXPECT_EQ(xxh64("abc", 3), 0x44BC2CF5AD770999ull);
}

TEST(ChecksumTest, StreamMatchesOneCall) {
  std::vector<unsigned char> data(1000);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = (unsigned char)(i * 131 + 7);
  for (size_t cut : {0, 1, 31, 32, 33, 100, 999, 1000}) {
    Xxh64Stream s;
    s.update(data.data(), cut);
    s.update(data.data() + cut, data.size() - cut);
    EXPECT_EQ(s.digest(), xxh64(data.data(), data.size())) << cut;
  }
  // One flipped bit changes it.
  uint64_t h = xxh64(data.data(), data.size());
  data[500] ^= 1;
  EXPECT_NE(xxh64(data.data(), data.size()), h);
}

TEST(ChecksumTest, Text) {
  uint64_t v = 0;
  EXPECT_EQ(formatChecksum(0xabcull), "xxh64:0000000000000abc");
  EXPECT_TRUE(parseChecksum("xxh64:0000000000000abc", v));
  EXPECT_EQ(v, 0xabcull);
  EXPECT_FALSE(parseChecksum("xxh64:0000000000000abg", v));
  EXPECT_FALSE(parseChecksum("crc:0000000000000abc", v));
  EXPECT_FALSE(parseChecksum("xxh64:abc", v));
}

TEST(ParseNumberTest, Integers) {
  int64_t v = 0;
  std::string err;
  EXPECT_TRUE(parseInteger("42", 0, 100, v, err));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(parseInteger("-5", -10, 10, v, err));
  EXPECT_EQ(v, -5);
  for (const char *bad : {"", "-", "2.7", "8x", "0x10", " 1", "1e3", "--1"})
    EXPECT_FALSE(parseInteger(bad, 0, 100, v, err)) << bad;
  EXPECT_FALSE(parseInteger("101", 0, 100, v, err));
  EXPECT_NE(err.find("out of range"), std::string::npos);
  EXPECT_FALSE(parseInteger("-5", 1, 100, v, err));
  EXPECT_FALSE(parseInteger("99999999999999999999999", 0, INT64_MAX, v, err));
}

TEST(ParseNumberTest, Reals) {
  double v = 0;
  std::string err;
  EXPECT_TRUE(parseReal("0.5", 0, 1, v, err));
  EXPECT_EQ(v, 0.5);
  EXPECT_TRUE(parseReal("1e-3", 0, 1, v, err));
  for (const char *bad : {"", "nan", "inf", "0x1p3", "1.5x", ".", "1e999"})
    EXPECT_FALSE(parseReal(bad, -1e300, 1e300, v, err)) << bad;
  EXPECT_FALSE(parseReal("2", 0, 1, v, err));
}

TEST(ParseNumberTest, Lists) {
  std::vector<int64_t> v;
  std::string err;
  EXPECT_TRUE(parseIntegerList("1,2,3", 0, 10, 8, v, err));
  EXPECT_EQ(v, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(parseIntegerList("1,,3", 0, 10, 8, v, err));
  EXPECT_FALSE(parseIntegerList("1,2,", 0, 10, 8, v, err));
  EXPECT_FALSE(parseIntegerList("1,2,3", 0, 10, 2, v, err));
}

} // namespace
