//===- SeqToLinalg.cpp - lower seq recurrences to upstream dialects -------===//

#include "passes/Conversion/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::seq {
#define GEN_PASS_DEF_CONVERTSEQTOLINALG
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Row `row` of a rank-2 tensor, as a rank-1 tensor.
static Value extractRow(OpBuilder &b, Location loc, Value matrix,
                        OpFoldResult row) {
  auto type = cast<RankedTensorType>(matrix.getType());
  OpFoldResult cols = tensor::getMixedSize(b, loc, matrix, 1);
  auto rowType =
      RankedTensorType::get({type.getDimSize(1)}, type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, loc, rowType, matrix, {row, b.getIndexAttr(0)},
      {b.getIndexAttr(1), cols}, {b.getIndexAttr(1), b.getIndexAttr(1)});
}

/// `matrix` with row `row` replaced by the rank-1 tensor `vec`.
static Value insertRow(OpBuilder &b, Location loc, Value vec, Value matrix,
                       OpFoldResult row) {
  OpFoldResult cols = tensor::getMixedSize(b, loc, matrix, 1);
  return tensor::InsertSliceOp::create(
      b, loc, vec, matrix, {row, b.getIndexAttr(0)}, {b.getIndexAttr(1), cols},
      {b.getIndexAttr(1), b.getIndexAttr(1)});
}

/// Converts a float value to `to` (extension, truncation or nothing).
static Value castFloat(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

/// `v` as `type`: a tensor.cast where the lowering found a more static shape
/// than the op's result type.
static Value castToResultType(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v);
}

namespace {

//===----------------------------------------------------------------------===//
// seq.token_shift
//===----------------------------------------------------------------------===//

struct TokenShiftLowering : OpConversionPattern<TokenShiftOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(TokenShiftOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    Type elt = type.getElementType();
    OpFoldResult t = tensor::getMixedSize(rewriter, loc, x, 0);
    OpFoldResult c = tensor::getMixedSize(rewriter, loc, x, 1);
    // Index of the last token: static when T is.
    OpFoldResult last;
    if (std::optional<int64_t> tStatic = getConstantIntValue(t)) {
      last = rewriter.getIndexAttr(*tStatic - 1);
    } else {
      Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
      last =
          arith::SubIOp::create(rewriter, loc, cast<Value>(t), one).getResult();
    }
    OpFoldResult zero = rewriter.getIndexAttr(0),
                 unit = rewriter.getIndexAttr(1);

    // shifted = [prev; x[0 .. T-2]]
    Value shifted = tensor::EmptyOp::create(rewriter, loc,
                                            ArrayRef<OpFoldResult>{t, c}, elt);
    shifted = insertRow(rewriter, loc, adaptor.getPrev(), shifted, zero);
    Value head = tensor::ExtractSliceOp::create(rewriter, loc, x, {zero, zero},
                                                {last, c}, {unit, unit});
    shifted = tensor::InsertSliceOp::create(
        rewriter, loc, head, shifted, {unit, zero}, {last, c}, {unit, unit});
    Value lastRow = extractRow(rewriter, loc, x, last);
    rewriter.replaceOp(op, {castToResultType(rewriter, loc, shifted,
                                             op.getShifted().getType()),
                            lastRow});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// seq.wkv4
//===----------------------------------------------------------------------===//

/// Emits one token of the numerically stable RWKV-4 recurrence on scalars (in
/// f32) and returns {y, aa', bb', pp'}.
static SmallVector<Value> wkv4Step(OpBuilder &b, Location loc, Value k, Value v,
                                   Value w, Value u, Value aa, Value bb,
                                   Value pp) {
  auto add = [&](Value x, Value y) {
    return arith::AddFOp::create(b, loc, x, y);
  };
  auto sub = [&](Value x, Value y) {
    return arith::SubFOp::create(b, loc, x, y);
  };
  auto mul = [&](Value x, Value y) {
    return arith::MulFOp::create(b, loc, x, y);
  };
  auto max = [&](Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  };
  auto exp = [&](Value x) { return math::ExpOp::create(b, loc, x); };

  // Output: the current token gets the bonus u.
  Value ww = add(u, k);
  Value p = max(pp, ww);
  Value e1 = exp(sub(pp, p)), e2 = exp(sub(ww, p));
  Value y = arith::DivFOp::create(b, loc, add(mul(e1, aa), mul(e2, v)),
                                  add(mul(e1, bb), e2));
  // State: decay the past by w, add the current token.
  Value ww2 = add(pp, w);
  Value p2 = max(ww2, k);
  Value f1 = exp(sub(ww2, p2)), f2 = exp(sub(k, p2));
  Value aa2 = add(mul(f1, aa), mul(f2, v));
  Value bb2 = add(mul(f1, bb), f2);
  return {y, aa2, bb2, p2};
}

struct WKV4Lowering : OpConversionPattern<WKV4Op> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(WKV4Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto seqType = cast<RankedTensorType>(adaptor.getK().getType());
    Type elt = seqType.getElementType();
    Type f32 = rewriter.getF32Type();
    int64_t c = seqType.getDimSize(1);
    auto rowType = RankedTensorType::get({c}, elt);
    auto stateRowType = RankedTensorType::get({c}, f32);
    OpFoldResult t = tensor::getMixedSize(rewriter, loc, adaptor.getK(), 0);

    Value state = adaptor.getState();
    SmallVector<Value> init = {
        tensor::EmptyOp::create(
            rewriter, loc, ArrayRef<OpFoldResult>{t, rewriter.getIndexAttr(c)},
            elt),
        extractRow(rewriter, loc, state, rewriter.getIndexAttr(0)),
        extractRow(rewriter, loc, state, rewriter.getIndexAttr(1)),
        extractRow(rewriter, loc, state, rewriter.getIndexAttr(2))};

    Value lb = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value ub = getValueOrCreateConstantIndexOp(rewriter, loc, t);
    Value step = arith::ConstantIndexOp::create(rewriter, loc, 1);
    auto loop = scf::ForOp::create(
        rewriter, loc, lb, ub, step, init,
        [&](OpBuilder &b, Location loc, Value tok, ValueRange iters) {
          Value kt = extractRow(b, loc, adaptor.getK(), tok);
          Value vt = extractRow(b, loc, adaptor.getV(), tok);
          AffineMap id = b.getMultiDimIdentityMap(1);
          auto step = linalg::GenericOp::create(
              b, loc,
              TypeRange{rowType, stateRowType, stateRowType, stateRowType},
              ValueRange{kt, vt, adaptor.getW(), adaptor.getU()},
              ValueRange{tensor::EmptyOp::create(b, loc, {c}, elt), iters[1],
                         iters[2], iters[3]},
              SmallVector<AffineMap>(8, id),
              SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                auto in = [&](int i) { return castFloat(nb, nl, a[i], f32); };
                SmallVector<Value> r = wkv4Step(nb, nl, in(0), in(1), in(2),
                                                in(3), a[5], a[6], a[7]);
                r[0] = castFloat(nb, nl, r[0], elt);
                linalg::YieldOp::create(nb, nl, r);
              });
          Value y = insertRow(b, loc, step.getResult(0), iters[0], tok);
          scf::YieldOp::create(b, loc,
                               ValueRange{y, step.getResult(1),
                                          step.getResult(2),
                                          step.getResult(3)});
        });

    Value newState = tensor::EmptyOp::create(rewriter, loc, {3, c}, f32);
    for (int64_t row = 0; row < 3; ++row)
      newState = insertRow(rewriter, loc, loop.getResult(row + 1), newState,
                           rewriter.getIndexAttr(row));
    rewriter.replaceOp(op, {castToResultType(rewriter, loc, loop.getResult(0),
                                             op.getY().getType()),
                            newState});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct ConvertSeqToLinalgPass
    : public seq::impl::ConvertSeqToLinalgBase<ConvertSeqToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect>();
    target.addIllegalOp<TokenShiftOp, WKV4Op>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    populateSeqToLinalgConversionPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::seq::populateSeqToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<TokenShiftLowering, WKV4Lowering>(patterns.getContext());
}
