//===- SeqAttrTypeTest.cpp - seq attribute and type builders --------------===//

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::seq;

namespace {

class SeqBuildersTest : public ::testing::Test {
protected:
  SeqBuildersTest() { ctx.loadDialect<SeqDialect>(); }

  MLIRContext ctx;
  /// Collects diagnostics instead of printing them.
  std::string lastError;
  ScopedDiagnosticHandler handler{&ctx, [this](Diagnostic &d) {
                                    lastError = d.str();
                                    return success();
                                  }};
  std::function<InFlightDiagnostic()> emitError = [this] {
    return mlir::emitError(UnknownLoc::get(&ctx));
  };
};

TEST_F(SeqBuildersTest, QuantEncodingBuilderDefaultsToF32Scales) {
  auto enc = QuantEncodingAttr::get(&ctx, 4u, int64_t(32), int64_t(1),
                                    QuantMode::Asymmetric);
  EXPECT_EQ(enc.getBits(), 4u);
  EXPECT_EQ(enc.getGroup(), 32);
  EXPECT_EQ(enc.getAxis(), 1);
  EXPECT_EQ(enc.getMode(), QuantMode::Asymmetric);
  EXPECT_TRUE(enc.getScaleType().isF32());
  EXPECT_EQ(enc.getMinCode(), 0);
  EXPECT_EQ(enc.getMaxCode(), 15);
  EXPECT_EQ(enc.getNumGroups({64, 128}), 64 * 128 / 32);
  // Uniqued: the same parameters give the same attribute.
  EXPECT_EQ(enc, QuantEncodingAttr::get(&ctx, 4u, int64_t(32), int64_t(1),
                                        QuantMode::Asymmetric));
}

TEST_F(SeqBuildersTest, SymmetricGridIsBalanced) {
  auto enc = QuantEncodingAttr::get(&ctx, 3u, int64_t(8), int64_t(0),
                                    QuantMode::Symmetric);
  EXPECT_EQ(enc.getMaxCode(), 3);
  EXPECT_EQ(enc.getMinCode(), -3);
}

TEST_F(SeqBuildersTest, QuantEncodingRejectsBadParameters) {
  EXPECT_FALSE(QuantEncodingAttr::getChecked(emitError, &ctx, 5u, int64_t(32),
                                             int64_t(0), QuantMode::Symmetric,
                                             Type(Float32Type::get(&ctx))));
  EXPECT_NE(lastError.find("must be 2, 3, 4 or 8, got 5"), std::string::npos);
  EXPECT_FALSE(QuantEncodingAttr::getChecked(emitError, &ctx, 4u, int64_t(0),
                                             int64_t(0), QuantMode::Symmetric,
                                             Type(Float32Type::get(&ctx))));
  EXPECT_NE(lastError.find("group size must be positive, got 0"),
            std::string::npos);
  EXPECT_FALSE(QuantEncodingAttr::getChecked(emitError, &ctx, 4u, int64_t(32),
                                             int64_t(0), QuantMode::Symmetric,
                                             Type(IntegerType::get(&ctx, 8))));
  EXPECT_NE(lastError.find("scale type must be a float type"),
            std::string::npos);
}

TEST_F(SeqBuildersTest, QuantEncodingVerifiesTensorShape) {
  auto enc = QuantEncodingAttr::get(&ctx, 4u, int64_t(48), int64_t(1),
                                    QuantMode::Symmetric);
  auto i4 = IntegerType::get(&ctx, 4);
  EXPECT_TRUE(succeeded(enc.verifyEncoding({8, 96}, i4, emitError)));
  EXPECT_TRUE(failed(enc.verifyEncoding({8, 64}, i4, emitError)));
  EXPECT_NE(lastError.find("does not divide dimension 1 of size 64"),
            std::string::npos);
  EXPECT_TRUE(failed(
      enc.verifyEncoding({8, 96}, IntegerType::get(&ctx, 8), emitError)));
  EXPECT_TRUE(failed(enc.verifyEncoding({96}, i4, emitError)));
}

TEST_F(SeqBuildersTest, KVCacheBuilderAndFootprint) {
  auto f16 = Float16Type::get(&ctx);
  auto plain = KVCacheType::get(8, 64, 4096, f16);
  EXPECT_EQ(plain.getHeads(), 8);
  EXPECT_EQ(plain.getHeadDim(), 64);
  EXPECT_EQ(plain.getCapacity(), 4096);
  EXPECT_FALSE(plain.isCompressed());
  EXPECT_EQ(plain.getBytesPerFullToken(), 2 * 8 * 64 * 2);
  EXPECT_DOUBLE_EQ(plain.getBytesPerQuantizedToken(), 2.0 * 8 * 64 * 2);

  auto k2 = QuantEncodingAttr::get(&ctx, 2u, int64_t(32), int64_t(0),
                                   QuantMode::Asymmetric);
  auto v2 = QuantEncodingAttr::get(&ctx, 2u, int64_t(32), int64_t(1),
                                   QuantMode::Asymmetric);
  auto kivi = KVCacheType::get(&ctx, int64_t(8), int64_t(64), int64_t(4096),
                               Type(f16), k2, v2, int64_t(4), int64_t(128),
                               EvictPolicyAttr(), int64_t(0), KeyFormAttr());
  EXPECT_TRUE(kivi.isCompressed());
  // Per side and head: 64 · 2 / 8 = 16 bytes of codes, plus 64 / 32 = 2
  // groups' f32 scale and zero point = 16 bytes.
  EXPECT_DOUBLE_EQ(kivi.getBytesPerQuantizedToken(), 2.0 * 8 * (16 + 16));
}

TEST_F(SeqBuildersTest, KVCacheRejectsBadParameters) {
  auto f16 = Float16Type::get(&ctx);
  auto k = QuantEncodingAttr::get(&ctx, 4u, int64_t(48), int64_t(1),
                                  QuantMode::Asymmetric);
  EXPECT_FALSE(KVCacheType::getChecked(
      emitError, &ctx, int64_t(8), int64_t(64), int64_t(4096), Type(f16), k,
      QuantEncodingAttr(), int64_t(0), int64_t(0), EvictPolicyAttr(),
      int64_t(0), KeyFormAttr()));
  EXPECT_NE(lastError.find("group size 48 does not divide head_dim 64"),
            std::string::npos);
  EXPECT_FALSE(KVCacheType::getChecked(
      emitError, &ctx, int64_t(8), int64_t(64), int64_t(16), Type(f16),
      QuantEncodingAttr(), QuantEncodingAttr(), int64_t(17), int64_t(0),
      EvictPolicyAttr(), int64_t(0), KeyFormAttr()));
  EXPECT_NE(lastError.find("sink tokens (17) exceed its capacity (16)"),
            std::string::npos);
  EXPECT_FALSE(KVCacheType::getChecked(
      emitError, &ctx, int64_t(8), int64_t(64), int64_t(16),
      Type(IntegerType::get(&ctx, 8)), QuantEncodingAttr(), QuantEncodingAttr(),
      int64_t(0), int64_t(0), EvictPolicyAttr(), int64_t(0), KeyFormAttr()));
}

TEST_F(SeqBuildersTest, KVCacheKeyForms) {
  auto f16 = Float16Type::get(&ctx);
  auto plain = KVCacheType::get(8, 64, 4096, f16);
  auto theta = FloatAttr::get(Float32Type::get(&ctx), 10000.0);
  auto rotated = KeyFormAttr::get(&ctx, 2, theta, RopeStyle::Half, 0, 0);
  KVCacheType stored = plain.withKeyForm(rotated);
  EXPECT_EQ(stored.getKeyForm(), rotated);
  EXPECT_EQ(stored.getKeyForm().getRotaryDimOr(64), 64);
  EXPECT_EQ(stored.withKeyForm(KeyFormAttr()), plain);
  // The storage does not depend on the key form.
  EXPECT_EQ(stored.getBytesPerFullToken(), plain.getBytesPerFullToken());
  // Three heads per rotation do not divide 8.
  EXPECT_FALSE(KVCacheType::getChecked(
      emitError, &ctx, int64_t(8), int64_t(64), int64_t(4096), Type(f16),
      QuantEncodingAttr(), QuantEncodingAttr(), int64_t(0), int64_t(0),
      EvictPolicyAttr(), int64_t(0),
      KeyFormAttr::get(&ctx, 3, FloatAttr(), RopeStyle::Half, 0, 0)));
  EXPECT_NE(lastError.find("rotation_heads (3) must divide the cache's KV "
                           "heads (8)"),
            std::string::npos);
  // Keys before RoPE need their positions: no eviction by attention.
  EXPECT_FALSE(KVCacheType::getChecked(
      emitError, &ctx, int64_t(8), int64_t(64), int64_t(4096), Type(f16),
      QuantEncodingAttr(), QuantEncodingAttr(), int64_t(4), int64_t(60),
      EvictPolicyAttr::get(&ctx, EvictPolicy::H2O), int64_t(1024), rotated));
  EXPECT_NE(lastError.find("keeps its tokens by position"), std::string::npos);
  // A key form says something.
  EXPECT_FALSE(KeyFormAttr::getChecked(emitError, &ctx, int64_t(0), FloatAttr(),
                                       RopeStyle::Half, int64_t(0),
                                       int64_t(0)));
  EXPECT_NE(lastError.find("a key form needs"), std::string::npos);
}

TEST_F(SeqBuildersTest, TypesAndAttributesRoundTripThroughText) {
  const char *text =
      "!seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2, group = 32, "
      "axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis "
      "= 1, asymmetric, scale = f16>, sinks = 4, window = 128>";
  Type t = parseType(text, &ctx);
  ASSERT_TRUE(t);
  auto cache = dyn_cast<KVCacheType>(t);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache.getSinks(), 4);
  EXPECT_EQ(cache.getWindow(), 128);
  EXPECT_TRUE(cache.getValueEncoding().getScaleType().isF16());
  std::string printed;
  llvm::raw_string_ostream os(printed);
  t.print(os);
  EXPECT_EQ(printed, text);
}

TEST_F(SeqBuildersTest, EnumsStringifyAndSymbolize) {
  EXPECT_EQ(stringifyResetMode(ResetMode::Soft), "soft");
  EXPECT_EQ(symbolizeFireCmp("gt"), FireCmp::GT);
  EXPECT_EQ(symbolizeEvictPolicy("roco"), EvictPolicy::RoCo);
  EXPECT_FALSE(symbolizeRopeStyle("sideways").has_value());
  auto attr = EvictPolicyAttr::get(&ctx, EvictPolicy::H2O);
  EXPECT_EQ(attr.getValue(), EvictPolicy::H2O);
}

} // namespace
