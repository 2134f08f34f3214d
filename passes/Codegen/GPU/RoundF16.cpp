//===- RoundF16.cpp - f32 to f16 rounding to nearest even on the bits -----===//
//
// Described in Passes.td (seq-gpu-round-f16).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUROUNDF16PASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

struct RoundToF16 : OpRewritePattern<arith::TruncFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::TruncFOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF16() || !op.getIn().getType().isF32() ||
        op.getRoundingmodeAttr())
      return failure();
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();
    auto c = [&](uint32_t v) -> Value {
      return arith::ConstantOp::create(rewriter, loc,
                                       rewriter.getI32IntegerAttr(v));
    };
    auto ge = [&](Value a, uint32_t v) -> Value {
      return arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::uge, a,
                                   c(v));
    };
    auto select = [&](Value cond, Value a, Value b) -> Value {
      return arith::SelectOp::create(rewriter, loc, cond, a, b);
    };
    Value u = arith::BitcastOp::create(rewriter, loc, i32, op.getIn());
    Value sign = arith::AndIOp::create(
        rewriter, loc, arith::ShRUIOp::create(rewriter, loc, u, c(16)),
        c(0x8000));
    Value a = arith::AndIOp::create(rewriter, loc, u, c(0x7fffffff));
    // Normal halves: drop 13 mantissa bits, rounding to nearest even, and
    // rebias the exponent (127 - 15 = 112).
    Value odd = arith::AndIOp::create(
        rewriter, loc, arith::ShRUIOp::create(rewriter, loc, a, c(13)), c(1));
    Value rounded = arith::AddIOp::create(
        rewriter, loc, arith::AddIOp::create(rewriter, loc, a, c(0xfff)), odd);
    Value normal = arith::ShRUIOp::create(
        rewriter, loc,
        arith::SubIOp::create(rewriter, loc, rounded, c(112u << 23)), c(13));
    // Subnormal halves: the magnitude in units of 2^-24, rounded.
    Value magnitude = arith::BitcastOp::create(rewriter, loc, f32, a);
    Value scaled = arith::MulFOp::create(
        rewriter, loc, magnitude,
        arith::ConstantOp::create(rewriter, loc,
                                  rewriter.getF32FloatAttr(16777216.0f)));
    Value subnormal = arith::FPToUIOp::create(
        rewriter, loc, i32, math::RoundEvenOp::create(rewriter, loc, scaled));
    Value half =
        select(ge(a, 0x7f800001), c(0x7e00),        // NaN
               select(ge(a, 0x477ff000), c(0x7c00), // rounds to infinity
                      select(ge(a, 0x38800000), normal, subnormal)));
    Value bits = arith::OrIOp::create(rewriter, loc, sign, half);
    bits = arith::TruncIOp::create(rewriter, loc, rewriter.getI16Type(), bits);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, op.getType(), bits);
    return success();
  }
};

struct GPURoundF16Pass
    : public seq::impl::SeqGPURoundF16PassBase<GPURoundF16Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RoundToF16>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
