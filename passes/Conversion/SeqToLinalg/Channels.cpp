//===- Channels.cpp - lower seq.rope and the channel tables ---------------===//
//
// seq.rope, seq.permute_channels and seq.scale_channels: one
// linalg.generic each over [T, H, D].
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "passes/Conversion/RopeAngle.h"
#include "seqc/Support/Rope.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

namespace {

//===----------------------------------------------------------------------===//
// seq.rope and the channel tables
//===----------------------------------------------------------------------===//

/// One linalg.generic over [T, H, D] whose element (t, h, i) is
/// `body(t, h, i, entry)`, entry = table[layer, h, i] (tensor.extract from
/// the per-layer table: the operand `tableValue`, or else a constant of
/// the attribute `table`).
static Value channelTableGeneric(
    ConversionPatternRewriter &rewriter, Location loc, Value input, Value layer,
    DenseElementsAttr table, Value tableValue,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  auto type = cast<RankedTensorType>(input.getType());
  Value cst = tableValue
                  ? tableValue
                  : (Value)arith::ConstantOp::create(rewriter, loc, table);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, input);
  Value init =
      tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
  AffineMap id = rewriter.getMultiDimIdentityMap(3);
  return linalg::GenericOp::create(
             rewriter, loc, TypeRange{init.getType()}, ValueRange{},
             ValueRange{init}, SmallVector<AffineMap>{id},
             SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
             [&](OpBuilder &b, Location l, ValueRange) {
               SmallVector<Value> at;
               for (unsigned d = 0; d < 3; ++d)
                 at.push_back(linalg::IndexOp::create(b, l, d));
               Value entry = tensor::ExtractOp::create(
                   b, l, cst, ValueRange{layer, at[1], at[2]});
               linalg::YieldOp::create(b, l, body(b, l, at, entry));
             })
      .getResult(0);
}

/// Output channel i of head h reads channel order[layer, h, i] (i32, or
/// f32 holding the same integers when the table is a weight).
struct PermuteChannelsLowering : OpConversionPattern<PermuteChannelsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PermuteChannelsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value input = adaptor.getInput();
    rewriter.replaceOp(
        op, channelTableGeneric(
                rewriter, op.getLoc(), input, adaptor.getLayer(),
                op.getOrderAttr(), adaptor.getTable(),
                [&](OpBuilder &b, Location l, ValueRange at, Value c) -> Value {
                  if (isa<FloatType>(c.getType()))
                    c = arith::FPToSIOp::create(b, l, b.getI32Type(), c);
                  c = arith::IndexCastOp::create(b, l, b.getIndexType(), c);
                  return tensor::ExtractOp::create(b, l, input,
                                                   ValueRange{at[0], at[1], c});
                }));
    return success();
  }
};

/// x[t, h, i] * scales[layer, h, i], in f32.
struct ScaleChannelsLowering : OpConversionPattern<ScaleChannelsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScaleChannelsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value input = adaptor.getInput();
    Type elt = cast<RankedTensorType>(input.getType()).getElementType();
    rewriter.replaceOp(
        op,
        channelTableGeneric(
            rewriter, op.getLoc(), input, adaptor.getLayer(),
            op.getScalesAttr(), adaptor.getTable(),
            [&](OpBuilder &b, Location l, ValueRange at, Value s) -> Value {
              Value x =
                  castFloat(b, l, tensor::ExtractOp::create(b, l, input, at),
                            b.getF32Type());
              return castFloat(b, l, arith::MulFOp::create(b, l, x, s), elt);
            }));
    return success();
  }
};

/// One linalg.generic over [T, H, D]: each output channel reads its partner
/// channel with tensor.extract. The angle pos * theta^(-2i/d) and its cosine
/// and sine are computed in f64 (exact enough at long positions), the
/// rotation in f32.
struct RopeLowering : OpConversionPattern<RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    Type elt = type.getElementType();
    int64_t D = type.getDimSize(2);
    if (ShapedType::isDynamic(D))
      return rewriter.notifyMatchFailure(op, "dynamic head_dim");
    int64_t d = op.getRotaryDim().value_or(D);
    bool half = op.getStyle() == RopeStyle::Half;
    // theta^(-2i/d) = exp(step * i), step as every RoPE table of seqc has it.
    double step = seqc::ropeExponentStep(op.getTheta().convertToFloat(), d);
    Value input = adaptor.getInput(), pos = adaptor.getPositions();
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, input);
    Value init = tensor::EmptyOp::create(rewriter, loc, sizes, elt);
    MLIRContext *ctx = rewriter.getContext();
    AffineMap id = rewriter.getMultiDimIdentityMap(3);
    AffineMap tok = AffineMap::get(3, 0, rewriter.getAffineDimExpr(0), ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{input, pos},
        ValueRange{init}, SmallVector<AffineMap>{id, tok, id},
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value t = linalg::IndexOp::create(b, l, 0);
          Value h = linalg::IndexOp::create(b, l, 1);
          Value c = linalg::IndexOp::create(b, l, 2);
          auto cidx = [&](int64_t v) {
            return arith::ConstantIndexOp::create(b, l, v);
          };
          // Pair index i, partner channel and sign for this channel.
          Value i, partner, sign;
          Value f1 = arith::ConstantOp::create(b, l, b.getF32FloatAttr(1.0f));
          Value fm1 = arith::ConstantOp::create(b, l, b.getF32FloatAttr(-1.0f));
          if (half) {
            Value first = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                c, cidx(d / 2));
            i = arith::SelectOp::create(
                b, l, first, c, arith::SubIOp::create(b, l, c, cidx(d / 2)));
            Value up = arith::AddIOp::create(b, l, c, cidx(d / 2));
            Value down = arith::SubIOp::create(b, l, c, cidx(d / 2));
            partner = arith::SelectOp::create(b, l, first, up, down);
            sign = arith::SelectOp::create(b, l, first, fm1, f1);
          } else {
            i = arith::DivUIOp::create(b, l, c, cidx(2));
            Value parity = arith::RemUIOp::create(b, l, c, cidx(2));
            Value zero = cidx(0);
            Value odd = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne,
                                              parity, zero);
            Value down = arith::SubIOp::create(b, l, c, cidx(1));
            Value up = arith::AddIOp::create(b, l, c, cidx(1));
            partner = arith::SelectOp::create(b, l, odd, down, up);
            sign = arith::SelectOp::create(b, l, odd, f1, fm1);
          }
          Value rotated = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                c, cidx(d));
          // Pass-through channels read themselves (partner unused).
          partner = arith::SelectOp::create(b, l, rotated, partner, c);
          Value x = castFloat(b, l, a[0], b.getF32Type());
          Value y = castFloat(
              b, l,
              tensor::ExtractOp::create(b, l, input, ValueRange{t, h, partner}),
              b.getF32Type());
          Value p = a[1];
          if (!p.getType().isIndex())
            p = arith::IndexCastOp::create(b, l, b.getIndexType(), p);
          // The angle as seqc::ropeAngle computes it: pos * exp(i * step).
          auto [cs, sn] = emitRopeCosSin(b, l, p, i, step);
          // out = x cos + sign * y sin (sign -1 for the first of the pair).
          Value xc = arith::MulFOp::create(b, l, x, cs);
          Value sy = arith::MulFOp::create(b, l, sign, y);
          Value ys = arith::MulFOp::create(b, l, sy, sn);
          Value r = arith::AddFOp::create(b, l, xc, ys);
          r = arith::SelectOp::create(b, l, rotated, r, x);
          linalg::YieldOp::create(b, l, castFloat(b, l, r, elt));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void mlir::seq::tolinalg::populateChannelLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<RopeLowering, PermuteChannelsLowering, ScaleChannelsLowering>(
      patterns.getContext());
}
