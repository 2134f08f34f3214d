//===- RuntimeTest.cpp - the C runtime API over a compiled artifact -------===//
//
// Runs against the artifact named by SEQC_TEST_ARTIFACT (the lit test
// test/Integration/cpu/rwkv/runtime.test compiles one and runs this binary);
// tests that need it are skipped when the variable is unset.
//
//===----------------------------------------------------------------------===//

#include "seqc/runtime.h"
#include "seqc/artifact.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
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
  // The whole state too (a spiking model's membranes and spike counts).
  size_t na = 0, nb = 0;
  const void *sa = seqc_session_state_data(a, &na);
  const void *sb = seqc_session_state_data(b, &nb);
  ASSERT_EQ(na, nb);
  EXPECT_EQ(0, std::memcmp(sa, sb, na));
  seqc_session_free(a);
  seqc_session_free(b);
}

/// One job of the concurrency test: prefill a prompt of its own, greedily
/// generate, save the state halfway, restore it into a second session and
/// finish there. Returns every logit it saw, and the saved state.
std::vector<float> runJob(seqc_model *model, int job, std::string &error) {
  int32_t vocab = seqc_model_vocab(model);
  std::vector<float> seen;
  auto fail = [&](seqc_status s) {
    if (!s)
      return false;
    error = seqc_status_message(s);
    seqc_status_free(s);
    return true;
  };
  seqc_session *a = nullptr, *b = nullptr;
  if (fail(seqc_session_create(model, &a)) ||
      fail(seqc_session_create(model, &b)))
    return seen;
  std::vector<int32_t> prompt;
  for (int i = 0; i < 3 + job % 5; ++i)
    prompt.push_back((job * 31 + i * 7) % vocab);
  seqc_session *s = a;
  int32_t next = 0;
  std::vector<uint8_t> saved;
  if (!fail(seqc_session_prefill(s, prompt.data(), prompt.size())))
    for (int step = 0; step < 16; ++step) {
      const float *l = seqc_session_logits(s);
      seen.insert(seen.end(), l, l + vocab);
      next = (int32_t)(std::max_element(l, l + vocab) - l);
      if (step == 8) {
        saved.resize(seqc_session_state_size(s));
        if (fail(seqc_session_save(s, saved.data(), saved.size())) ||
            fail(seqc_session_restore(b, saved.data(), saved.size())))
          break;
        s = b;
      }
      if (fail(seqc_session_step(s, next)))
        break;
    }
  seqc_session_free(a);
  seqc_session_free(b);
  return seen;
}

/// Sessions of one model on several threads at once (generate, save,
/// restore) give bit-identical results to the same jobs one after the other
/// (runtime.h states what is thread-safe).
TEST_F(RuntimeTest, ConcurrentSessionsMatchSequential) {
  constexpr int kJobs = 16, kThreads = 4;
  std::vector<std::vector<float>> sequential(kJobs), concurrent(kJobs);
  std::vector<std::string> errors(kJobs);
  for (int j = 0; j < kJobs; ++j) {
    sequential[j] = runJob(model, j, errors[j]);
    ASSERT_EQ(errors[j], "");
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      for (int j = t; j < kJobs; j += kThreads)
        concurrent[j] = runJob(model, j, errors[j]);
    });
  for (std::thread &t : pool)
    t.join();
  for (int j = 0; j < kJobs; ++j) {
    EXPECT_EQ(errors[j], "") << "job " << j;
    ASSERT_EQ(concurrent[j].size(), sequential[j].size()) << "job " << j;
    EXPECT_EQ(0, std::memcmp(concurrent[j].data(), sequential[j].data(),
                             4 * sequential[j].size()))
        << "job " << j;
  }
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
  // The whole state too (a spiking model's membranes and spike counts).
  size_t na = 0, nb = 0;
  const void *sa = seqc_session_state_data(a, &na);
  const void *sb = seqc_session_state_data(b, &nb);
  ASSERT_EQ(na, nb);
  EXPECT_EQ(0, std::memcmp(sa, sb, na));
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

/// The weights copied into huge pages (SEQC_PAGES_HUGE_COPY) give the same
/// logits as weights.bin mapped; the mode is reported, and an unknown mode
/// is refused. (That the copy gets huge pages: weight-pages-thp.test.)
TEST_F(RuntimeTest, HugeCopyOfTheWeights) {
  const char *dir = std::getenv("SEQC_TEST_ARTIFACT");
  seqc_load_options options = {SEQC_VERIFY_AUTO, SEQC_PAGES_HUGE_COPY};
  seqc_model *copied;
  ASSERT_OK(seqc_model_load_with(dir, &options, &copied));
  EXPECT_EQ(seqc_model_weight_pages(copied), SEQC_PAGES_HUGE_COPY);
  EXPECT_EQ(seqc_model_weight_pages(model), SEQC_PAGES_FILE);
  EXPECT_EQ(seqc_model_weight_bytes(copied), seqc_model_weight_bytes(model));
  seqc_session *a, *b;
  ASSERT_OK(seqc_session_create(model, &a));
  ASSERT_OK(seqc_session_create(copied, &b));
  ASSERT_OK(seqc_session_prefill(a, tokens.data(), tokens.size()));
  ASSERT_OK(seqc_session_prefill(b, tokens.data(), tokens.size()));
  EXPECT_EQ(logits(a), std::vector<float>(seqc_session_logits(b),
                                          seqc_session_logits(b) + vocab));
  seqc_session_free(a);
  seqc_session_free(b);
  seqc_model_free(copied);
  options.weight_pages = 7;
  seqc_model *bad = nullptr;
  std::string m = message(seqc_model_load_with(dir, &options, &bad));
  EXPECT_NE(m.find("weight_pages 7 is not a SEQC_PAGES_* mode"),
            std::string::npos)
      << m;
  EXPECT_EQ(bad, nullptr);
}

TEST_F(RuntimeTest, KVViewNeedsAKVCache) {
  seqc_session *a;
  ASSERT_OK(seqc_session_create(model, &a));
  seqc_kv_view view;
  std::string m = message(seqc_session_kv_view(a, 0, &view));
  EXPECT_NE(m.find("has no KV cache"), std::string::npos) << m;
  seqc_session_free(a);
}

/// An attention model's caches through seqc_session_kv_view: the artifact
/// named by SEQC_TEST_KV_ARTIFACT (test/Integration/runtime/kv-view.test).
/// Keys and values of the tokens fed are filled, the rest of the cache
/// (zeroed by init) is not, and each layer's view differs.
TEST(KVViewTest, PlainCache) {
  const char *dir = std::getenv("SEQC_TEST_KV_ARTIFACT");
  if (!dir)
    GTEST_SKIP() << "SEQC_TEST_KV_ARTIFACT is not set";
  seqc_model *model;
  ASSERT_OK(seqc_model_load(dir, &model));
  seqc_session *s;
  ASSERT_OK(seqc_session_create(model, &s));
  seqc_kv_view v;
  ASSERT_OK(seqc_session_kv_view(s, 0, &v));
  EXPECT_EQ(v.tokens, 0);
  std::vector<int32_t> tokens = {3, 14, 15, 92, 65};
  ASSERT_OK(seqc_session_prefill(s, tokens.data(), tokens.size()));
  ASSERT_OK(seqc_session_kv_view(s, 0, &v));
  EXPECT_EQ(v.tokens, 5);
  EXPECT_STREQ(v.element_type, "f32");
  EXPECT_EQ(v.strides[2], 1);
  EXPECT_EQ(v.strides[1], v.head_dim);
  EXPECT_EQ(v.strides[0], v.capacity * v.head_dim);
  const float *k = static_cast<const float *>(v.keys);
  const float *val = static_cast<const float *>(v.values);
  for (int64_t h = 0; h < v.heads; ++h) {
    double filled = 0, empty = 0;
    for (int64_t d = 0; d < v.head_dim; ++d) {
      filled += std::fabs(k[h * v.strides[0] + 4 * v.strides[1] + d]) +
                std::fabs(val[h * v.strides[0] + 4 * v.strides[1] + d]);
      empty += std::fabs(k[h * v.strides[0] + 5 * v.strides[1] + d]) +
               std::fabs(val[h * v.strides[0] + 5 * v.strides[1] + d]);
    }
    EXPECT_GT(filled, 0) << "head " << h;
    EXPECT_EQ(empty, 0) << "head " << h;
  }
  seqc_kv_view last;
  ASSERT_OK(seqc_session_kv_view(s, v.layers - 1, &last));
  EXPECT_NE(last.keys, v.keys);
  std::string m = message(seqc_session_kv_view(s, v.layers, &last));
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  seqc_session_free(s);
  seqc_model_free(model);
}

/// A quantized cache is refused, naming its kind (SEQC_TEST_KV_QUANT_ARTIFACT).
TEST(KVViewTest, QuantizedCacheIsRefused) {
  const char *dir = std::getenv("SEQC_TEST_KV_QUANT_ARTIFACT");
  if (!dir)
    GTEST_SKIP() << "SEQC_TEST_KV_QUANT_ARTIFACT is not set";
  seqc_model *model;
  ASSERT_OK(seqc_model_load(dir, &model));
  seqc_session *s;
  ASSERT_OK(seqc_session_create(model, &s));
  seqc_kv_view v;
  std::string m = message(seqc_session_kv_view(s, 0, &v));
  EXPECT_NE(m.find("the KV cache is quantized (keys 4-bit, values 4-bit)"),
            std::string::npos)
      << m;
  seqc_session_free(s);
  seqc_model_free(model);
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

TEST(TokenizerApiTest, BytesRoundTrip) {
  seqc_tokenizer *tok = nullptr;
  ASSERT_OK(seqc_tokenizer_create("bytes", nullptr, &tok));
  EXPECT_EQ(seqc_tokenizer_size(tok), 256);
  std::string text = "ROMEO:\n\xC3\xA9";
  // A short buffer gets a prefix and the full count.
  int32_t ids[16];
  size_t n = 0;
  ASSERT_OK(seqc_tokenizer_encode(tok, text.data(), text.size(), ids, 3, &n));
  ASSERT_EQ(n, text.size());
  ASSERT_OK(seqc_tokenizer_encode(tok, text.data(), text.size(), ids, 16, &n));
  EXPECT_EQ(ids[6], '\n');
  EXPECT_EQ(ids[7], 0xC3);
  std::string back;
  for (size_t i = 0; i < n; ++i) {
    char bytes[8];
    size_t len = 0;
    ASSERT_OK(seqc_tokenizer_decode(tok, ids[i], bytes, sizeof bytes, &len));
    back.append(bytes, len);
  }
  EXPECT_EQ(back, text);
  size_t len = 0;
  std::string m = message(seqc_tokenizer_decode(tok, 256, nullptr, 0, &len));
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  seqc_tokenizer_free(tok);
  m = message(seqc_tokenizer_create("sentencepiece", "", &tok));
  EXPECT_NE(m.find("not supported"), std::string::npos) << m;
}

TEST(TokenizerApiTest, Utf8Streaming) {
  char pending[8] = {'a', '\xE4', '\xBD'}, out[24];
  size_t left = 3;
  ASSERT_EQ(seqc_utf8_take_whole(pending, &left, out), 1u);
  EXPECT_EQ(out[0], 'a');
  ASSERT_EQ(left, 2u);
  pending[2] = '\xA0';
  left = 3;
  ASSERT_EQ(seqc_utf8_take_whole(pending, &left, out), 3u);
  EXPECT_EQ(std::string(out, 3), "\xE4\xBD\xA0");
  EXPECT_EQ(left, 0u);
}

TEST(SampleApiTest, GreedyAndSeeded) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.5f, 0.0f};
  int32_t tok = -1;
  ASSERT_OK(seqc_sample(logits.data(), 5, 0.0, 1.0, 0, nullptr, &tok));
  EXPECT_EQ(tok, 1);
  // top-k 1 is greedy at any temperature.
  seqc_rng *a, *b;
  ASSERT_OK(seqc_rng_create(7, &a));
  ASSERT_OK(seqc_rng_create(7, &b));
  ASSERT_OK(seqc_sample(logits.data(), 5, 1.0, 1.0, 1, a, &tok));
  EXPECT_EQ(tok, 1);
  // The same seed draws the same tokens; top-k 2 keeps tokens 1 and 3.
  std::vector<int32_t> da, db;
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(seqc_sample(logits.data(), 5, 1.0, 1.0, 2, a, &tok));
    da.push_back(tok);
    ASSERT_OK(seqc_sample(logits.data(), 5, 1.0, 1.0, 2, b, &tok));
    db.push_back(tok);
    EXPECT_TRUE(tok == 1 || tok == 3) << tok;
  }
  EXPECT_EQ(da.size(), 50u);
  // `a` drew one token more than `b` (the top-k 1 draw), so the sequences
  // differ in phase but agree when `b` catches up.
  ASSERT_OK(seqc_sample(logits.data(), 5, 1.0, 1.0, 2, b, &tok));
  db.push_back(tok);
  db.erase(db.begin());
  EXPECT_EQ(da, db);
  seqc_rng_free(a);
  seqc_rng_free(b);
}

TEST(ArtifactFormatTest, WeightsHeaderBytes) {
  // The bytes `seqc compile` has always written: text, then NUL padding.
  std::string h =
      seqc::artifact::formatWeightsHeader(0x0123456789abcdefull, 42);
  ASSERT_EQ(h.size(), seqc::artifact::kWeightsHeaderBytes);
  const char text[] = "SEQCWTS1 0x0123456789abcdef 42\n";
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

TEST(ArtifactFormatTest, CheckedWeightsHeader) {
  seqc::artifact::WeightsHeader h;
  h.id = 1;
  h.bytes = 42;
  h.checked = true;
  h.payloadChecksum = 0xabcdefull;
  h.executableBytes = 1000;
  h.executableChecksum = 0x1234ull;
  std::string text = seqc::artifact::formatWeightsHeader(h);
  EXPECT_EQ(text.substr(0, text.find('\n') + 1),
            "SEQCWTS1 0x0000000000000001 42 xxh64:0000000000abcdef model.so "
            "1000 xxh64:0000000000001234\n");
  seqc::artifact::WeightsHeader back;
  ASSERT_TRUE(
      seqc::artifact::parseWeightsHeader(text.data(), text.size(), back));
  EXPECT_TRUE(back.checked);
  EXPECT_EQ(back.payloadChecksum, h.payloadChecksum);
  EXPECT_EQ(back.executableBytes, h.executableBytes);
  EXPECT_EQ(back.executableChecksum, h.executableChecksum);
  // A damaged tail is refused, not read as an unchecked header.
  text[40] = '?';
  EXPECT_FALSE(
      seqc::artifact::parseWeightsHeader(text.data(), text.size(), back));
}

TEST(ArtifactFormatTest, WeightsHeaderIsReadStrictly) {
  // Found by fuzz/fuzz_weights_header.cpp: sscanf's %llx read 23 hex
  // digits as a clamped id. Only the text formatWeightsHeader writes is a
  // header.
  auto parses = [](const std::string &line) {
    seqc::artifact::WeightsHeader h;
    return seqc::artifact::parseWeightsHeader(line.data(), line.size(), h);
  };
  EXPECT_TRUE(parses("SEQCWTS1 0x0123456789abcdef 4096\n"));
  EXPECT_TRUE(parses("SEQCWTS1 0xffffffffffffffff 18446744073709551615\n"));
  for (const char *bad :
       {"SEQCWTS1 0x0123456789abcd789abcdef 4096\n", // 23 digits
        "SEQCWTS1 0x0123456789abcde 4096\n",         // 15 digits
        "SEQCWTS1 0x0123456789ABCDEF 4096\n",        // not as written
        "SEQCWTS1 0x0123456789abcdef -4096\n",
        "SEQCWTS1 0x0123456789abcdef +4096\n",
        "SEQCWTS1 0x0123456789abcdef 04096\n",
        "SEQCWTS1 0x0123456789abcdef  4096\n",
        "SEQCWTS1 0x0123456789abcdef 18446744073709551616\n", // 2^64
        "SEQCWTS1 0x0123456789abcdef 4096",                   // no newline
        "SEQCWTS1 0x0123456789abcdef 4096 xxh64:0000000000000001 model.so "
        "12 xxh64:000000000000002\n"}) // a short checksum
    EXPECT_FALSE(parses(bad)) << bad;
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
