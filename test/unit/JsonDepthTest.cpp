//===- JsonDepthTest.cpp - the nesting check before JSON parsing ----------===//

#include "seqc/Support/JsonDepth.h"

#include <gtest/gtest.h>

namespace {

bool within(const std::string &text, unsigned depth,
            std::string *err = nullptr) {
  std::string error;
  bool ok = seqc::checkJsonDepth(text.data(), text.size(), error, depth);
  if (err)
    *err = error;
  return ok;
}

TEST(JsonDepth, CountsArraysAndObjects) {
  EXPECT_TRUE(within("{}", 1));
  EXPECT_TRUE(within("{\"a\": [1, {\"b\": 2}]}", 3));
  EXPECT_FALSE(within("{\"a\": [1, {\"b\": 2}]}", 2));
  EXPECT_TRUE(within("[[]] [[]]", 2)); // siblings do not add up
}

TEST(JsonDepth, SkipsStrings) {
  // Brackets and escaped quotes inside strings are not nesting.
  EXPECT_TRUE(within("{\"[[[[\": \"{{{{\"}", 1));
  EXPECT_TRUE(within("[\"\\\"[[[\"]", 1));
  EXPECT_TRUE(within("[\"\\\\\", []]", 2));
  EXPECT_FALSE(within("[\"\\\\\", []]", 1));
}

TEST(JsonDepth, SaysWhere) {
  std::string error;
  EXPECT_FALSE(within(std::string(100000, '['), 64, &error));
  EXPECT_EQ(error, "JSON nested deeper than 64 levels at byte 64");
  // The default limit.
  std::string deep(65, '[');
  EXPECT_FALSE(seqc::checkJsonDepth(deep.data(), deep.size(), error));
  EXPECT_TRUE(seqc::checkJsonDepth(deep.data(), 64, error));
}

} // namespace
