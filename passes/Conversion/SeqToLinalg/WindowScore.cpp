//===- WindowScore.cpp - lower seq.kv_window_score to linalg -------------===//
//
// SnapKV's observation-window score (docs/generated/Seq.md,
// seq.kv_window_score) as five linalg.generics: the window's logits
// against every key, their masked maximum and exponential sum per window
// row (a numerically stable softmax), the probabilities summed over the
// window rows for the tokens before it, and the pooling along the tokens
// (a padded input read at j + t). Grouped-query attention splits the query
// heads into (key head, group) so that every map is a projection.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

namespace {

/// The affine map of `loops` loops selecting `dims`.
AffineMap dimsMap(MLIRContext *ctx, unsigned loops, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(loops, 0, exprs, ctx);
}

/// A tensor of `sizes` (f32) filled with `value`.
Value filledF32(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                float value) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value c = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  return linalg::FillOp::create(b, loc, c, empty).getResult(0);
}

SmallVector<utils::IteratorType> iters(unsigned loops, int reduced) {
  SmallVector<utils::IteratorType> it(loops, utils::IteratorType::parallel);
  if (reduced >= 0)
    it[reduced] = utils::IteratorType::reduction;
  return it;
}

struct KVWindowScoreLowering : OpConversionPattern<KVWindowScoreOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVWindowScoreOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value q = adaptor.getQuery(), k = adaptor.getKey();
    auto qType = cast<RankedTensorType>(q.getType());
    auto kType = cast<RankedTensorType>(k.getType());
    int64_t hq = qType.getDimSize(1), d = qType.getDimSize(2),
            hk = kType.getDimSize(1), g = hq / hk;
    int64_t ws = op.getWindow(), kernel = op.getKernel(), pad = kernel / 2;
    bool avg = op.getPool() == ScorePool::Avg;
    Type f32 = rewriter.getF32Type();
    OpFoldResult n = tensor::getMixedSize(rewriter, loc, q, 0);
    Value nv = getValueOrCreateConstantIndexOp(rewriter, loc, n);
    Value start = arith::SubIOp::create(
        rewriter, loc, nv, arith::ConstantIndexOp::create(rewriter, loc, ws));
    OpFoldResult scored = getAsOpFoldResult(start);
    auto idx = [&](int64_t v) -> OpFoldResult {
      return rewriter.getIndexAttr(v);
    };

    // The window's queries as [ws, Hk, G, D].
    Value qw = tensor::ExtractSliceOp::create(
        rewriter, loc,
        RankedTensorType::get({ws, hq, d}, qType.getElementType()), q,
        ArrayRef<OpFoldResult>{start, idx(0), idx(0)},
        ArrayRef<OpFoldResult>{idx(ws), idx(hq), idx(d)},
        ArrayRef<OpFoldResult>{idx(1), idx(1), idx(1)});
    qw = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({ws, hk, g, d}, qType.getElementType()), qw,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});

    // logits[a, b, i, j] = q[n-ws+i, a*G+b] . k[j, a], loops (a, b, i, j, e).
    Value logits0 =
        filledF32(rewriter, loc, {idx(hk), idx(g), idx(ws), n}, 0.0f);
    Value logits =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{logits0.getType()}, ValueRange{qw, k},
            ValueRange{logits0},
            SmallVector<AffineMap>{dimsMap(ctx, 5, {2, 0, 1, 4}),
                                   dimsMap(ctx, 5, {3, 0, 4}),
                                   dimsMap(ctx, 5, {0, 1, 2, 3})},
            iters(5, 4),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value x = castFloat(b, l, a[0], f32),
                    y = castFloat(b, l, a[1], f32);
              linalg::YieldOp::create(
                  b, l,
                  ValueRange{arith::AddFOp::create(
                      b, l, a[2], arith::MulFOp::create(b, l, x, y))});
            })
            .getResult(0);

    // The scaled logit of window row i at token j, -inf past its position.
    float scale = 1.0f / std::sqrt(static_cast<float>(d));
    auto masked = [&](OpBuilder &b, Location l, Value logit) -> Value {
      Value i = linalg::IndexOp::create(b, l, 2);
      Value j = linalg::IndexOp::create(b, l, 3);
      Value pos = arith::AddIOp::create(b, l, start, i);
      Value visible =
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, j, pos);
      Value v = arith::MulFOp::create(
          b, l, logit,
          arith::ConstantOp::create(b, l, b.getF32FloatAttr(scale)));
      return arith::SelectOp::create(
          b, l, visible, v,
          arith::ConstantOp::create(b, l, b.getF32FloatAttr(-INFINITY)));
    };
    AffineMap abij = dimsMap(ctx, 4, {0, 1, 2, 3}),
              abi = dimsMap(ctx, 4, {0, 1, 2});

    // Per window row: the maximum, then the sum of exp(logit - maximum).
    Value max0 =
        filledF32(rewriter, loc, {idx(hk), idx(g), idx(ws)}, -INFINITY);
    Value mx =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{max0.getType()}, ValueRange{logits},
            ValueRange{max0}, SmallVector<AffineMap>{abij, abi}, iters(4, 3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              linalg::YieldOp::create(b, l,
                                      ValueRange{arith::MaximumFOp::create(
                                          b, l, a[1], masked(b, l, a[0]))});
            })
            .getResult(0);
    Value sum0 = filledF32(rewriter, loc, {idx(hk), idx(g), idx(ws)}, 0.0f);
    Value sum =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{sum0.getType()}, ValueRange{logits, mx},
            ValueRange{sum0}, SmallVector<AffineMap>{abij, abi, abi},
            iters(4, 3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value e = math::ExpOp::create(
                  b, l, arith::SubFOp::create(b, l, masked(b, l, a[0]), a[1]));
              linalg::YieldOp::create(
                  b, l, ValueRange{arith::AddFOp::create(b, l, a[2], e)});
            })
            .getResult(0);

    // raw[a, b, j] = sum_i exp(logit - max) / sum over the tokens before the
    // window (all visible to every window row), loops (a, b, j, i).
    Value before = tensor::ExtractSliceOp::create(
        rewriter, loc, logits,
        ArrayRef<OpFoldResult>{idx(0), idx(0), idx(0), idx(0)},
        ArrayRef<OpFoldResult>{idx(hk), idx(g), idx(ws), scored},
        ArrayRef<OpFoldResult>{idx(1), idx(1), idx(1), idx(1)});
    Value raw0 = filledF32(rewriter, loc, {idx(hk), idx(g), scored}, 0.0f);
    Value raw =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{raw0.getType()},
            ValueRange{before, mx, sum}, ValueRange{raw0},
            SmallVector<AffineMap>{
                dimsMap(ctx, 4, {0, 1, 3, 2}), dimsMap(ctx, 4, {0, 1, 3}),
                dimsMap(ctx, 4, {0, 1, 3}), dimsMap(ctx, 4, {0, 1, 2})},
            iters(4, 3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value v = arith::MulFOp::create(
                  b, l, a[0],
                  arith::ConstantOp::create(b, l, b.getF32FloatAttr(scale)));
              Value p = arith::DivFOp::create(
                  b, l,
                  math::ExpOp::create(b, l,
                                      arith::SubFOp::create(b, l, v, a[1])),
                  a[2]);
              linalg::YieldOp::create(
                  b, l, ValueRange{arith::AddFOp::create(b, l, a[3], p)});
            })
            .getResult(0);

    // Pooling: raw padded by kernel / 2 on both sides (0 for the average,
    // which counts the padding; -inf for the maximum, which skips it), then
    // out[a, b, j] = pool_t padded[a, b, j + t], loops (a, b, j, t).
    Value padValue = arith::ConstantOp::create(
        rewriter, loc, rewriter.getF32FloatAttr(avg ? 0.0f : -INFINITY));
    Value padded = tensor::PadOp::create(
        rewriter, loc, Type(), raw,
        ArrayRef<OpFoldResult>{idx(0), idx(0), idx(pad)},
        ArrayRef<OpFoldResult>{idx(0), idx(0), idx(pad)}, padValue,
        /*nofold=*/false);
    Value out0 = filledF32(rewriter, loc, {idx(hk), idx(g), scored},
                           avg ? 0.0f : -INFINITY);
    AffineExpr a0 = getAffineDimExpr(0, ctx), a1 = getAffineDimExpr(1, ctx),
               j = getAffineDimExpr(2, ctx), t = getAffineDimExpr(3, ctx);
    // A [kernel] operand read at t gives the reduction its bounds (its
    // values are not used), as a convolution's filter would.
    Value taps = filledF32(rewriter, loc, {idx(kernel)}, 0.0f);
    Value pooled =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{out0.getType()}, ValueRange{padded, taps},
            ValueRange{out0},
            SmallVector<AffineMap>{AffineMap::get(4, 0, {a0, a1, j + t}, ctx),
                                   dimsMap(ctx, 4, {3}),
                                   dimsMap(ctx, 4, {0, 1, 2})},
            iters(4, 3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value r =
                  avg ? arith::AddFOp::create(b, l, a[2], a[0]).getResult()
                      : arith::MaximumFOp::create(b, l, a[2], a[0]).getResult();
              linalg::YieldOp::create(b, l, ValueRange{r});
            })
            .getResult(0);
    if (avg) {
      AffineMap id = dimsMap(ctx, 3, {0, 1, 2});
      Value div0 = tensor::EmptyOp::create(
          rewriter, loc, ArrayRef<OpFoldResult>{idx(hk), idx(g), scored}, f32);
      pooled =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{div0.getType()}, ValueRange{pooled},
              ValueRange{div0}, SmallVector<AffineMap>{id, id}, iters(3, -1),
              [&](OpBuilder &b, Location l, ValueRange a) {
                linalg::YieldOp::create(
                    b, l,
                    ValueRange{arith::DivFOp::create(
                        b, l, a[0],
                        arith::ConstantOp::create(
                            b, l, b.getF32FloatAttr(float(kernel))))});
              })
              .getResult(0);
    }
    Value score = tensor::CollapseShapeOp::create(
        rewriter, loc, pooled, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    rewriter.replaceOp(
        op, castToResultType(rewriter, loc, score, op.getScore().getType()));
    return success();
  }
};

} // namespace

void mlir::seq::tolinalg::populateSelectionLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<KVWindowScoreLowering>(patterns.getContext());
  addSelectTopLowering(patterns);
  addKVBudgetsLowering(patterns);
}
