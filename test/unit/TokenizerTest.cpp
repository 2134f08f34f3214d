//===- TokenizerTest.cpp - the tokenizers and UTF-8 streaming -----------===//

#include "runtime/src/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

using seqc::takeWholeUtf8;

TEST(Utf8StreamTest, KeepsIncompleteCharactersPending) {
  std::string pending = "a\xE4\xBD"; // 'a' and two bytes of U+4F60.
  EXPECT_EQ(takeWholeUtf8(pending), "a");
  EXPECT_EQ(pending, "\xE4\xBD");
  pending += "\xA0"; // The third byte completes it.
  EXPECT_EQ(takeWholeUtf8(pending), "\xE4\xBD\xA0");
  EXPECT_EQ(pending, "");
}

TEST(Utf8StreamTest, ReplacesInvalidBytes) {
  std::string pending = "\x80x";
  EXPECT_EQ(takeWholeUtf8(pending), "\xEF\xBF\xBDx");
  // A lead byte followed by a non-continuation byte can never complete.
  pending = "\xE4x";
  EXPECT_EQ(takeWholeUtf8(pending), "\xEF\xBF\xBDx");
  EXPECT_EQ(pending, "");
  pending = "\xFF";
  EXPECT_EQ(takeWholeUtf8(pending), "\xEF\xBF\xBD");
}

TEST(ByteTokenizerTest, RoundTrips) {
  seqc::ByteTokenizer tok;
  std::string text = "ROMEO:\n\xC3\xA9";
  std::vector<int32_t> ids = tok.encode(text);
  ASSERT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[6], '\n');
  EXPECT_EQ(ids[7], 0xC3);
  std::string back;
  for (int32_t id : ids)
    back += tok.decode(id);
  EXPECT_EQ(back, text);
}

TEST(TokenizerTest, UnknownKindIsAnError) {
  std::string err;
  EXPECT_EQ(seqc::Tokenizer::create("sentencepiece", "", err), nullptr);
  EXPECT_NE(err.find("not supported"), std::string::npos);
}
