//===- RuntimeTest.cpp - the C runtime API over a compiled artifact -------===//
//
// Runs against the artifact named by SEQC_TEST_ARTIFACT (the lit test
// test/Integration/rwkv/runtime.test compiles one and runs this binary);
// tests that need it are skipped when the variable is unset.
//
//===----------------------------------------------------------------------===//

#include "seqc/runtime.h"
#include "seqc/artifact.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

/// Owns a status and reports its message on failure.
std::string message(seqc_status s) {
  std::string m = seqc_status_message(s);
  seqc_status_free(s);
  return m;
}

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    seqc_status s_ = (expr);                                                   \
    ASSERT_EQ(s_, nullptr) << message(s_);                                     \
  } while (0)

class RuntimeTest : public ::testing::Test {
protected:
  void SetUp() override {
    const char *dir = std::getenv("SEQC_TEST_ARTIFACT");
    if (!dir)
      GTEST_SKIP() << "SEQC_TEST_ARTIFACT is not set";
    ASSERT_OK(seqc_model_load(dir, &model));
    vocab = seqc_model_vocab(model);
  }
  void TearDown() override { seqc_model_free(model); }

  std::vector<float> logits(seqc_session *s) {
    const float *l = seqc_session_logits(s);
    return std::vector<float>(l, l + vocab);
  }

  seqc_model *model = nullptr;
  int32_t vocab = 0;
  std::vector<int32_t> tokens = {3, 14, 15, 92, 65, 35, 89, 79, 32, 38};
};

TEST_F(RuntimeTest, SaveRestoreContinueIsBitIdentical) {
  seqc_session *a, *b;
  ASSERT_OK(seqc_session_create(model, &a));
  ASSERT_OK(seqc_session_create(model, &b));
  // Uninterrupted: all tokens on `a`.
  ASSERT_OK(seqc_session_prefill(a, tokens.data(), 5));
  std::vector<uint8_t> saved(seqc_session_state_size(a));
  ASSERT_OK(seqc_session_save(a, saved.data(), saved.size()));
  for (size_t i = 5; i < tokens.size(); ++i)
    ASSERT_OK(seqc_session_step(a, tokens[i]));
  // Interrupted: restore the saved state into a fresh session and continue.
  ASSERT_OK(seqc_session_restore(b, saved.data(), saved.size()));
  for (size_t i = 5; i < tokens.size(); ++i)
    ASSERT_OK(seqc_session_step(b, tokens[i]));
  std::vector<float> la = logits(a), lb = logits(b);
  EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), 4 * la.size()));
  seqc_session_free(a);
  seqc_session_free(b);
}

TEST_F(RuntimeTest, ForkCopiesStateAndLogits) {
  seqc_session *a, *b;
  ASSERT_OK(seqc_session_create(model, &a));
  ASSERT_OK(seqc_session_prefill(a, tokens.data(), tokens.size()));
  ASSERT_OK(seqc_session_fork(a, &b));
  EXPECT_EQ(logits(a), logits(b));
  ASSERT_OK(seqc_session_step(a, 7));
  ASSERT_OK(seqc_session_step(b, 7));
  std::vector<float> la = logits(a), lb = logits(b);
  EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), 4 * la.size()));
  seqc_session_free(a);
  seqc_session_free(b);
}

TEST_F(RuntimeTest, PrefillAgreesWithSteps) {
  seqc_session *a, *b;
  ASSERT_OK(seqc_session_create(model, &a));
  ASSERT_OK(seqc_session_create(model, &b));
  ASSERT_OK(seqc_session_prefill(a, tokens.data(), tokens.size()));
  for (int32_t t : tokens)
    ASSERT_OK(seqc_session_step(b, t));
  std::vector<float> la = logits(a), lb = logits(b);
  for (int32_t v = 0; v < vocab; ++v)
    ASSERT_NEAR(la[v], lb[v], 1e-4) << "logit " << v;
  seqc_session_free(a);
  seqc_session_free(b);
}

TEST_F(RuntimeTest, ResetStartsOver) {
  seqc_session *a;
  ASSERT_OK(seqc_session_create(model, &a));
  ASSERT_OK(seqc_session_prefill(a, tokens.data(), tokens.size()));
  std::vector<float> first = logits(a);
  ASSERT_OK(seqc_session_reset(a));
  ASSERT_OK(seqc_session_prefill(a, tokens.data(), tokens.size()));
  EXPECT_EQ(first, logits(a));
  seqc_session_free(a);
}

TEST_F(RuntimeTest, BadCallsReturnMessages) {
  seqc_session *a;
  ASSERT_OK(seqc_session_create(model, &a));
  int32_t bad = vocab;
  std::string m = message(seqc_session_step(a, bad));
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  m = message(seqc_session_prefill(a, tokens.data(), 0));
  EXPECT_NE(m.find("no tokens"), std::string::npos) << m;
  std::vector<uint8_t> junk(seqc_session_state_size(a), 0);
  m = message(seqc_session_restore(a, junk.data(), junk.size()));
  EXPECT_NE(m.find("not a saved seqc state"), std::string::npos) << m;
  std::vector<uint8_t> small(8);
  m = message(seqc_session_save(a, small.data(), small.size()));
  EXPECT_NE(m.find("needed"), std::string::npos) << m;
  seqc_session_free(a);
}

TEST(RuntimeLoadTest, MissingArtifactIsAnError) {
  seqc_model *m = nullptr;
  seqc_status s = seqc_model_load("/nonexistent/artifact", &m);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(std::string(seqc_status_message(s)).find("cannot load"),
            std::string::npos);
  EXPECT_EQ(m, nullptr);
  seqc_status_free(s);
}

TEST(ArtifactFormatTest, WeightsHeaderBytes) {
  // The bytes `seqc compile` has always written: text, then NUL padding.
  std::string h =
      seqc::artifact::formatWeightsHeader(0x0123456789abcdefull, 42);
  ASSERT_EQ(h.size(), seqc::artifact::kWeightsHeaderBytes);
  const char text[] = "SEQCWTS1 0123456789abcdef 42\n";
  EXPECT_EQ(h.substr(0, sizeof text - 1), text);
  EXPECT_EQ(h.find_first_not_of('\0', sizeof text - 1), std::string::npos);
  uint64_t id = 0, bytes = 0;
  ASSERT_TRUE(
      seqc::artifact::parseWeightsHeader(h.data(), h.size(), id, bytes));
  EXPECT_EQ(id, 0x0123456789abcdefull);
  EXPECT_EQ(bytes, 42u);
  EXPECT_FALSE(
      seqc::artifact::parseWeightsHeader("SEQCWTS2 00 1\n", 14, id, bytes));
}

TEST(ArtifactFormatTest, ManifestLines) {
  auto m = seqc::artifact::parseManifest("seqc_artifact 2\nstate_shape 2 3 "
                                         "4\nnospace\nfuture_key x y\n");
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m[seqc::artifact::keyName(seqc::artifact::Key::Format)], "2");
  EXPECT_EQ(m["state_shape"], "2 3 4");
  EXPECT_EQ(m["future_key"], "x y");
  EXPECT_STREQ(seqc::artifact::keyName(seqc::artifact::Key::Target), "target");
}

} // namespace
