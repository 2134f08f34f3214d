//===- Perspective.cpp - lower the perspective combiner and mix -----------===//

#include "passes/Conversion/Passes.h"
#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"

#include <limits>

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

namespace {

/// A linalg.generic over `loops` dims with `outInit` as its only output.
Value generic(OpBuilder &b, Location loc, ValueRange ins, Value outInit,
              ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iterators,
              function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  return linalg::GenericOp::create(
             b, loc, TypeRange{outInit.getType()}, ins, ValueRange{outInit},
             maps, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               linalg::YieldOp::create(nb, nl, body(nb, nl, a));
             })
      .getResult(0);
}

Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             float v) {
  Value init = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value c = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  return linalg::FillOp::create(b, loc, ValueRange{c}, ValueRange{init})
      .getResult(0);
}

AffineMap dims(MLIRContext *ctx, unsigned n, ArrayRef<unsigned> which) {
  SmallVector<AffineExpr> e;
  for (unsigned d : which)
    e.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(n, 0, e, ctx);
}

/// alpha = softmax over p of weight · mean_p h, as five small generics:
/// the mean [T, C], the scores [T, P], their row maximum, the row sum of
/// exp(s - max), and the normalized exponentials.
struct PerspectiveCombineLowering : OpConversionPattern<PerspectiveCombineOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(PerspectiveCombineOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value h = adaptor.getH(), wc = adaptor.getWeight();
    auto hType = cast<RankedTensorType>(h.getType());
    int64_t P = hType.getDimSize(1), C = hType.getDimSize(2);
    OpFoldResult T = tensor::getMixedSize(rewriter, loc, h, 0);
    auto par = utils::IteratorType::parallel,
         red = utils::IteratorType::reduction;
    float invP = 1.0f / (float)P;

    // m[t, c] = sum_p h[t, p, c] / P; loops (t, c, p).
    Value mean = generic(
        rewriter, loc, {h},
        filled(rewriter, loc, {T, rewriter.getIndexAttr(C)}, 0),
        {dims(ctx, 3, {0, 2, 1}), dims(ctx, 3, {0, 1})}, {par, par, red},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[1], a[0]);
        });
    mean = generic(
        rewriter, loc, {mean},
        tensor::EmptyOp::create(
            rewriter, loc, ArrayRef<OpFoldResult>{T, rewriter.getIndexAttr(C)},
            rewriter.getF32Type()),
        {dims(ctx, 2, {0, 1}), dims(ctx, 2, {0, 1})}, {par, par},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value s = arith::ConstantOp::create(b, l, b.getF32FloatAttr(invP));
          return arith::MulFOp::create(b, l, a[0], s);
        });
    // s[t, p] = sum_c weight[p, c] * m[t, c]; loops (t, p, c).
    Value scores = generic(
        rewriter, loc, {mean, wc},
        filled(rewriter, loc, {T, rewriter.getIndexAttr(P)}, 0),
        {dims(ctx, 3, {0, 2}), dims(ctx, 3, {1, 2}), dims(ctx, 3, {0, 1})},
        {par, par, red}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value prod = arith::MulFOp::create(b, l, a[0], a[1]);
          return arith::AddFOp::create(b, l, a[2], prod);
        });
    // The row maximum, then exp(s - max) and its row sum.
    AffineMap tp = dims(ctx, 2, {0, 1}), t = dims(ctx, 2, {0});
    Value mx = generic(
        rewriter, loc, {scores},
        filled(rewriter, loc, {T}, -std::numeric_limits<float>::infinity()),
        {tp, t}, {par, red}, [&](OpBuilder &b, Location l, ValueRange a) {
          return arith::MaximumFOp::create(b, l, a[0], a[1]).getResult();
        });
    Value ex = generic(
        rewriter, loc, {scores, mx},
        tensor::EmptyOp::create(
            rewriter, loc, ArrayRef<OpFoldResult>{T, rewriter.getIndexAttr(P)},
            rewriter.getF32Type()),
        {tp, t, tp}, {par, par},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          return math::ExpOp::create(b, l,
                                     arith::SubFOp::create(b, l, a[0], a[1]));
        });
    Value sum =
        generic(rewriter, loc, {ex}, filled(rewriter, loc, {T}, 0), {tp, t},
                {par, red}, [&](OpBuilder &b, Location l, ValueRange a) {
                  return arith::AddFOp::create(b, l, a[1], a[0]).getResult();
                });
    Value alpha = generic(
        rewriter, loc, {ex, sum},
        tensor::EmptyOp::create(
            rewriter, loc, ArrayRef<OpFoldResult>{T, rewriter.getIndexAttr(P)},
            rewriter.getF32Type()),
        {tp, t, tp}, {par, par},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::DivFOp::create(b, l, a[0], a[1]);
        });
    rewriter.replaceOp(
        op, castToResultType(rewriter, loc, alpha, op.getAlpha().getType()));
    return success();
  }
};

/// result[t, n] = sum_p alpha[t, p] * input[t, p, n]: one generic, loops
/// (t, n, p) with p innermost, so each output sums its P terms in order.
struct PerspectiveMixLowering : OpConversionPattern<PerspectiveMixOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(PerspectiveMixOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value in = adaptor.getInput(), alpha = adaptor.getAlpha();
    OpFoldResult T = tensor::getMixedSize(rewriter, loc, in, 0);
    OpFoldResult N = tensor::getMixedSize(rewriter, loc, in, 2);
    auto par = utils::IteratorType::parallel,
         red = utils::IteratorType::reduction;
    Value out = generic(
        rewriter, loc, {in, alpha}, filled(rewriter, loc, {T, N}, 0),
        {dims(ctx, 3, {0, 2, 1}), dims(ctx, 3, {0, 2}), dims(ctx, 3, {0, 1})},
        {par, par, red}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value prod = arith::MulFOp::create(b, l, a[1], a[0]);
          return arith::AddFOp::create(b, l, a[2], prod);
        });
    rewriter.replaceOp(
        op, castToResultType(rewriter, loc, out, op.getResult().getType()));
    return success();
  }
};

} // namespace

void mlir::seq::tolinalg::populatePerspectiveLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<PerspectiveCombineLowering, PerspectiveMixLowering>(
      patterns.getContext());
}
