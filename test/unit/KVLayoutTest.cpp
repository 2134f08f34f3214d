//===- KVLayoutTest.cpp - KV-cache storage layout and its text form -------===//

#include "seqc/Support/KVLayout.h"
#include "dialects/Seq/IR/SeqKVLayout.h"
#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Rope.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace seqc;

namespace {

/// The layout of a cache type written as in the IR.
class KVLayoutTypeTest : public ::testing::Test {
protected:
  KVLayoutTypeTest() { ctx.loadDialect<mlir::seq::SeqDialect>(); }

  mlir::seq::KVCacheType type(const std::string &text) {
    auto t = mlir::dyn_cast_or_null<mlir::seq::KVCacheType>(
        mlir::parseType(text, &ctx));
    EXPECT_TRUE(t) << text;
    return t;
  }

  KVLayout layout(const std::string &text) {
    KVLayout l;
    std::string error;
    EXPECT_TRUE(mlir::seq::getKVLayout(type(text), l, error)) << error;
    return l;
  }

  mlir::MLIRContext ctx;
};

// Sizes as the lit tests and the driver's manifests show them.
TEST_F(KVLayoutTypeTest, Plain) {
  // llama-random.test: kv_slot_bytes 16448 (64 header + 2 x 8192).
  KVLayout l = layout("!seq.kv_cache<2x16x64xf32>");
  EXPECT_FALSE(l.compressed || l.evicting || l.scored);
  EXPECT_EQ(l.keys, 64);
  EXPECT_EQ(l.values, 64 + 8192);
  EXPECT_EQ(l.bytes, 16448);
  EXPECT_EQ(l.scoreColumns(), 64);
  // kv-to-loops.mlir @plain: f16 values at byte 2112.
  KVLayout h = layout("!seq.kv_cache<2x16x32xf16>");
  EXPECT_EQ(h.elementBytes, 2);
  EXPECT_EQ(h.values, 2112);
  EXPECT_EQ(h.bytes, 4160);
}

TEST_F(KVLayoutTypeTest, Window) {
  // llama-random.test: state_bytes 8320 for 2 layers.
  KVLayout l = layout("!seq.kv_cache<2x16x64xf32, sinks = 4, window = 12>");
  EXPECT_TRUE(l.evicting);
  EXPECT_EQ(l.ringSlots, 12);
  EXPECT_EQ(l.sinkKeys, 64);
  EXPECT_EQ(l.sinkValues, 64 + 512);
  EXPECT_EQ(l.ringKeys, 64 + 1024);
  EXPECT_EQ(l.ringValues, 64 + 1024 + 1536);
  EXPECT_EQ(2 * l.bytes, 8320);
}

TEST_F(KVLayoutTypeTest, Kivi) {
  // kv-to-loops.mlir @kivi: 9280 bytes per slot.
  KVLayout l = layout(
      "!seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = 8, "
      "axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis "
      "= 1, asymmetric>, window = 8>");
  EXPECT_TRUE(l.compressed);
  EXPECT_EQ(l.chunk, 8);
  EXPECT_EQ(l.ringSlots, 16);
  EXPECT_EQ(l.quantCapacity, 64);
  EXPECT_TRUE(l.key.perChannel);
  EXPECT_FALSE(l.value.perChannel);
  EXPECT_EQ(l.key.rowBytes, 4);
  EXPECT_EQ(l.key.scaleRows, 8);
  EXPECT_EQ(l.key.scaleCols, 16);
  EXPECT_EQ(l.value.scaleRows, 64);
  EXPECT_EQ(l.value.scaleCols, 2);
  EXPECT_EQ(l.bytes, 9280);
}

TEST_F(KVLayoutTypeTest, Scored) {
  // kv-to-loops.mlir @mixed: 7616 bytes per slot.
  KVLayout m = layout(
      "!seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = 8, "
      "axis = 1, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis "
      "= 1, asymmetric>, sinks = 1, window = 2, evict = roco, budget = 8>");
  EXPECT_TRUE(m.scored && m.mixed && m.roco);
  EXPECT_EQ(m.slotShield, 0); // window 2 <= 10 recent tokens
  EXPECT_EQ(m.scoreColumns(), 8 + 64);
  EXPECT_EQ(m.bytes, 7616);
  // h2o without encodings: slot rows, positions, sums, counts.
  KVLayout h = layout("!seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, "
                      "evict = h2o, budget = 16>");
  EXPECT_TRUE(h.scored && !h.mixed && !h.roco);
  EXPECT_EQ(h.slotValues, 64 + 2048);
  EXPECT_EQ(h.slotPos, 64 + 4096);
  EXPECT_EQ(h.slotCount, 64 + 4096 + 256);
  EXPECT_EQ(h.slotDeviations, 0);
  EXPECT_EQ(h.bytes, 64 + 4096 + 3 * 128);
  // roco with a long window: deviations and shield flags.
  KVLayout r = layout("!seq.kv_cache<2x16x64xf32, window = 12, evict = roco, "
                      "budget = 16>");
  EXPECT_EQ(r.slotDeviations, 64 + 4096 + 3 * 128);
  EXPECT_EQ(r.slotShield, 64 + 4096 + 4 * 128);
  EXPECT_EQ(r.bytes, 64 + 4096 + 4 * 128 + 64);
}

TEST_F(KVLayoutTypeTest, Unsupported) {
  KVLayout l;
  std::string error;
  EXPECT_FALSE(mlir::seq::getKVLayout(
      type("!seq.kv_cache<2x16x32xf32, keys = #seq.quant<bits = 4, group = "
           "8, axis = 0, asymmetric>, window = 8>"),
      l, error));
  EXPECT_EQ(error,
            "the lowering needs both keys and values quantized, or neither");
  EXPECT_FALSE(mlir::seq::getKVLayout(
      type("!seq.kv_cache<2x16x32xf32, keys = #seq.quant<bits = 4, group = "
           "8, axis = 1, asymmetric, scale = f16>, values = #seq.quant<bits = "
           "4, "
           "group = 8, axis = 1, asymmetric>, window = 8>"),
      l, error));
  EXPECT_EQ(error, "the lowering stores f32 scales only");
}

TEST_F(KVLayoutTypeTest, BytesPerToken) {
  auto t = type("!seq.kv_cache<2x16x64xf16, keys = #seq.quant<bits = 2, "
                "group = 8, axis = 0, asymmetric>, values = #seq.quant<bits "
                "= 4, group = 8, axis = 1, symmetric>, window = 8>");
  EXPECT_EQ(t.getBytesPerFullToken(), 2 * 2 * 16 * 2);
  // keys: 2 heads x (16 x 2 / 8 codes + 16 / 8 x 4 x 2 params) = 40;
  // values: 2 x (16 x 4 / 8 + 16 / 8 x 4) = 32.
  EXPECT_EQ(t.getBytesPerQuantizedToken(), 40.0 + 32.0);
  EXPECT_EQ(kvBytesPerQuantizedToken(mlir::seq::getKVCacheDesc(t)), 72.0);
}

KVCacheDesc kiviDesc() {
  KVCacheDesc d;
  d.heads = 2;
  d.headDim = 16;
  d.capacity = 64;
  d.elementBytes = 4;
  d.keys = {true, 2, 8, true, true, 4};
  d.values = {true, 2, 8, false, true, 4};
  d.window = 8;
  return d;
}

TEST(KVCacheDescText, RoundTrip) {
  KVCacheDesc kivi = kiviDesc();
  EXPECT_EQ(serializeKVCacheDesc(kivi),
            "heads=2 head_dim=16 capacity=64 element_bytes=4 "
            "keys=bits:2,group:8,axis:0,asymmetric,scale_bytes:4 "
            "values=bits:2,group:8,axis:1,asymmetric,scale_bytes:4 sinks=0 "
            "window=8 evict=none budget=0");
  KVCacheDesc plain;
  plain.heads = 4;
  plain.headDim = 64;
  plain.capacity = 4096;
  plain.elementBytes = 2;
  KVCacheDesc scored = plain;
  scored.sinks = 4;
  scored.window = 16;
  scored.evict = KVEvict::RoCo;
  scored.budget = 1024;
  KVCacheDesc mixed = scored;
  mixed.evict = KVEvict::H2O;
  mixed.keys = {true, 3, 16, false, false, 4};
  mixed.values = {true, 8, 64, false, true, 4};
  for (const KVCacheDesc &d : {kivi, plain, scored, mixed}) {
    std::string text = serializeKVCacheDesc(d), error;
    KVCacheDesc back;
    ASSERT_TRUE(parseKVCacheDesc(text, back, error)) << text << ": " << error;
    EXPECT_EQ(back, d) << text;
    EXPECT_EQ(serializeKVCacheDesc(back), text);
    // Same desc, same layout.
    KVLayout a, b;
    ASSERT_TRUE(computeKVLayout(d, a, error)) << error;
    ASSERT_TRUE(computeKVLayout(back, b, error)) << error;
    EXPECT_EQ(a.bytes, b.bytes);
  }
}

TEST_F(KVLayoutTypeTest, DescOfType) {
  KVCacheDesc d = mlir::seq::getKVCacheDesc(
      type("!seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = "
           "8, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = "
           "8, axis = 1, asymmetric>, window = 8>"));
  EXPECT_EQ(d, kiviDesc());
  KVLayout l;
  std::string error;
  ASSERT_TRUE(computeKVLayout(d, l, error)) << error;
  EXPECT_EQ(l.bytes, 9280);
}

/// The error for `text` ("" when it parses).
std::string parseError(const std::string &text) {
  KVCacheDesc d;
  std::string error;
  if (parseKVCacheDesc(text, d, error)) {
    EXPECT_TRUE(error.empty());
    return "";
  }
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(KVCacheDescText, Errors) {
  const std::string good = serializeKVCacheDesc(kiviDesc());
  EXPECT_EQ(parseError(good), "");
  auto with = [&](const std::string &from, const std::string &to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  auto has = [](const std::string &error, const std::string &part) {
    return error.find(part) != std::string::npos;
  };
  EXPECT_TRUE(has(parseError(""), "expected 10 fields"));
  EXPECT_TRUE(has(parseError(good + " "), "expected 10 fields"));
  EXPECT_TRUE(has(parseError(with(" ", "  ")), "expected 10 fields"));
  EXPECT_TRUE(has(parseError(with("heads=2", "head=2")),
                  "field 1: expected 'heads=...', got 'head=2'"));
  EXPECT_TRUE(has(parseError(with("capacity=64 element_bytes=4",
                                  "element_bytes=4 capacity=64")),
                  "field 3: expected 'capacity=...'"));
  EXPECT_TRUE(has(parseError(with("heads=2", "heads=two")),
                  "heads: expected an integer, got 'two'"));
  EXPECT_TRUE(has(parseError(with("heads=2", "heads=")),
                  "heads: expected an integer, got ''"));
  EXPECT_TRUE(
      has(parseError(with("heads=2", "heads=0")), "heads 0 is out of range"));
  EXPECT_TRUE(
      has(parseError(with("heads=2", "heads=-2")), "heads -2 is out of range"));
  EXPECT_TRUE(has(parseError(with("heads=2", "heads=99999999999999999999")),
                  "out of range"));
  EXPECT_TRUE(has(parseError(with("element_bytes=4", "element_bytes=3")),
                  "element_bytes must be 2 (f16, bf16) or 4 (f32), got 3"));
  EXPECT_TRUE(
      has(parseError(with("bits:2,group:8,axis:0", "bits:5,group:8,axis:0")),
          "keys bits must be 2, 3, 4 or 8, got 5"));
  EXPECT_TRUE(has(parseError(with("axis:1", "axis:2")),
                  "values axis 2 is out of range"));
  EXPECT_TRUE(has(parseError(with("axis:1,asymmetric", "axis:1,asym")),
                  "values: expected 'asymmetric' or 'symmetric', got 'asym'"));
  EXPECT_TRUE(has(parseError(with(",scale_bytes:4 sinks", " sinks")),
                  "values: expected 'none' or"));
  EXPECT_TRUE(has(parseError(with("group:8,axis:1", "group:3,axis:1")),
                  "values group 3 does not divide head_dim 16"));
  EXPECT_TRUE(has(parseError(with("window=8", "window=12")),
                  "keys group tokens by 8, so the window must be a positive "
                  "multiple of it, got 12"));
  EXPECT_TRUE(has(parseError(with("evict=none", "evict=lru")),
                  "evict: expected none, h2o or roco, got 'lru'"));
  EXPECT_TRUE(has(parseError(with("budget=0", "budget=4")),
                  "budget 4 without an eviction policy"));
  EXPECT_TRUE(has(parseError(with("window=8", "window=64")),
                  "leave no room for quantized tokens"));
  EXPECT_TRUE(has(parseError(with("sinks=0", "sinks=65")),
                  "sinks (65) exceed the "
                  "capacity (64)"));
  // Every message names the line it comes from.
  EXPECT_EQ(parseError("x").rfind("kv_desc: ", 0), 0u);
}

TEST(Rope, TableMatchesTheAngleFormula) {
  float theta = 10000.0f;
  int64_t rot = 8, positions = 37;
  std::vector<float> cs = ropeTable(theta, rot, positions, false);
  std::vector<float> sn = ropeTable(theta, rot, positions, true);
  ASSERT_EQ(cs.size(), size_t(positions * rot / 2));
  double k = -2.0 * std::log((double)theta) / rot;
  for (int64_t p = 0; p < positions; ++p) {
    float c[4], s[4];
    ropeCosSin(theta, rot, p, c, s);
    for (int64_t i = 0; i < rot / 2; ++i) {
      double ang = (double)p * std::exp((double)i * k);
      // Bit-identical, not merely close.
      EXPECT_EQ(cs[p * 4 + i], (float)std::cos(ang));
      EXPECT_EQ(sn[p * 4 + i], (float)std::sin(ang));
      EXPECT_EQ(std::memcmp(&c[i], &cs[p * 4 + i], 4), 0);
      EXPECT_EQ(std::memcmp(&s[i], &sn[p * 4 + i], 4), 0);
    }
  }
  EXPECT_EQ(cs[0], 1.0f);
  EXPECT_EQ(sn[0], 0.0f);
}

TEST(Rope, PairChannels) {
  EXPECT_EQ(ropePairChannels(RopeStyle::Half, 8, 1),
            std::make_pair(int64_t(1), int64_t(5)));
  EXPECT_EQ(ropePairChannels(RopeStyle::Interleaved, 8, 1),
            std::make_pair(int64_t(2), int64_t(3)));
}

} // namespace
