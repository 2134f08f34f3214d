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

// Found by fuzz/fuzz_world_vocab.cpp and fuzz/fuzz_neox_vocab.cpp: an id
// given to two pieces encoded text as a token that decodes to other bytes.
TEST(WorldTokenizerTest, RefusesAnIdDefinedTwice) {
  std::string err;
  EXPECT_EQ(seqc::WorldTokenizer::fromText("1 'a' 1\n2 'b' 1\n1 'c' 1\n",
                                           "v.txt", err),
            nullptr);
  EXPECT_EQ(err, "v.txt:3: token id 1 is defined twice");
  EXPECT_EQ(seqc::WorldTokenizer::fromText("1 'a' 1 1\n", "v.txt", err),
            nullptr);
  EXPECT_EQ(err, "v.txt:1: expected the token's length after its literal");
  EXPECT_EQ(seqc::WorldTokenizer::fromText("1x 'a' 1\n", "v.txt", err),
            nullptr);
  EXPECT_NE(err.find("v.txt:1: token id '1x'"), std::string::npos) << err;
  auto tok = seqc::WorldTokenizer::fromText("1 'a' 1\n2 b'\\xff' 1\n3 'ab' "
                                            "2\n",
                                            "v.txt", err);
  ASSERT_NE(tok, nullptr) << err;
  EXPECT_EQ(tok->encode("aab\xff"), (std::vector<int32_t>{1, 3, 2}));
}

TEST(NeoXTokenizerTest, RefusesAnIdGivenTwoPieces) {
  std::string err;
  EXPECT_EQ(seqc::NeoXTokenizer::fromText(
                R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 1},
                    "merges": []}})",
                "t.json", err),
            nullptr);
  EXPECT_EQ(err, "t.json: vocabulary entries 'b' and 'c' have the same id 1");
  EXPECT_EQ(seqc::NeoXTokenizer::fromText(
                R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                    "merges": []},
                    "added_tokens": [{"id": 1, "content": "zz"}]})",
                "t.json", err),
            nullptr);
  EXPECT_EQ(err, "t.json: added_tokens[0] 'zz' has the id 1 of 'b'");
  // Repeating a piece as an added token (as the official files do) is fine.
  EXPECT_NE(seqc::NeoXTokenizer::fromText(
                R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                    "merges": []},
                    "added_tokens": [{"id": 1, "content": "b"}]})",
                "t.json", err),
            nullptr)
      << err;
}

// Found by fuzz/fuzz_neox_vocab.cpp: NFC composed "A" + U+030A into U+00C5,
// whose byte 0xC3 the vocabulary lacked, while only the text's own bytes
// were checked; BPE then met a piece with no id and gave token 0.
TEST(NeoXTokenizerTest, ChecksTheBytesOfTheNormalizedText) {
  std::string err;
  // The byte-level alphabet: 'A', 0xCC as U+00CC, 0x8A as U+012C.
  auto tok = seqc::NeoXTokenizer::fromText(
      R"({"normalizer": {"type": "NFC"}, "model": {"type": "BPE",
          "vocab": {"A": 0, "\u00cc": 1, "\u012c": 2}, "merges": []}})",
      "t.json", err);
  ASSERT_NE(tok, nullptr) << err;
  EXPECT_EQ(tok->unencodable("A"), "");
  EXPECT_EQ(tok->unencodable("A\xCC\x8A"),
            "byte 0xC3 at offset 0 of the text's NFC form has no token in the "
            "GPT-NeoX vocabulary");
}
