//===- LIF.cpp - lower seq.lif to scf and linalg
//---------------------------===//

#include "passes/Conversion/Passes.h"
#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

namespace {

//===----------------------------------------------------------------------===//
// seq.lif
//===----------------------------------------------------------------------===//

/// An scf.for over the T steps carrying the spikes [T, d...] and the membrane
/// [d...]; each step is one elementwise linalg.generic over [d...] (so the
/// neurons vectorize) that charges, fires and resets in the op's order.
/// Arithmetic is in f32, or in the element type when it is wider; the
/// membrane is carried in the element type, as the op's result holds it.
struct LIFLowering : OpConversionPattern<LIFOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LIFOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput(), v0 = adaptor.getV();
    auto xType = cast<RankedTensorType>(x.getType());
    auto vType = cast<RankedTensorType>(v0.getType());
    Type elt = xType.getElementType();
    Type calc = elt.getIntOrFloatBitWidth() >= 32 ? elt : rewriter.getF32Type();
    int64_t rank = vType.getRank();

    // The neurons' shape as static as either operand knows it.
    SmallVector<int64_t> neuronShape(xType.getShape().drop_front());
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, x);
    for (auto [i, d] : llvm::enumerate(vType.getShape())) {
      if (!ShapedType::isDynamic(d))
        neuronShape[i] = d;
      if (!ShapedType::isDynamic(neuronShape[i]))
        sizes[i + 1] = rewriter.getIndexAttr(neuronShape[i]);
    }
    SmallVector<OpFoldResult> neuronSizes(sizes.begin() + 1, sizes.end());
    auto stepType = RankedTensorType::get(neuronShape, elt);
    v0 = castToResultType(rewriter, loc, v0, stepType);

    auto constant = [&](OpBuilder &b, Location l, const APFloat &f) -> Value {
      bool lost;
      APFloat c = f;
      c.convert(cast<FloatType>(calc).getFloatSemantics(),
                APFloat::rmNearestTiesToEven, &lost);
      return arith::ConstantOp::create(b, l, b.getFloatAttr(calc, c));
    };
    bool decayInput = op.getDecayInput();
    bool hard = op.getReset() == ResetMode::Hard;
    auto pred = op.getFire() == FireCmp::GE ? arith::CmpFPredicate::OGE
                                            : arith::CmpFPredicate::OGT;

    Value spikes0 = tensor::EmptyOp::create(rewriter, loc, sizes, elt);
    Value lb = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value ub = getValueOrCreateConstantIndexOp(rewriter, loc, sizes[0]);
    Value step = arith::ConstantIndexOp::create(rewriter, loc, 1);
    auto loop = scf::ForOp::create(
        rewriter, loc, lb, ub, step, ValueRange{spikes0, v0},
        [&](OpBuilder &b, Location l, Value t, ValueRange iters) {
          // Step t of the input and of the spikes: offsets (t, 0...), sizes
          // (1, d...), the time dimension dropped.
          SmallVector<OpFoldResult> offsets(rank + 1, b.getIndexAttr(0)),
              sliceSizes(sizes), strides(rank + 1, b.getIndexAttr(1));
          offsets[0] = t;
          sliceSizes[0] = b.getIndexAttr(1);
          Value xt = tensor::ExtractSliceOp::create(b, l, stepType, x, offsets,
                                                    sliceSizes, strides);
          AffineMap id = b.getMultiDimIdentityMap(rank);
          auto neurons = linalg::GenericOp::create(
              b, l, TypeRange{stepType, stepType}, ValueRange{xt},
              ValueRange{tensor::EmptyOp::create(b, l, neuronSizes, elt),
                         iters[1]},
              SmallVector<AffineMap>(3, id),
              SmallVector<utils::IteratorType>(rank,
                                               utils::IteratorType::parallel),
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                Value in = castFloat(nb, nl, a[0], calc);
                Value v = castFloat(nb, nl, a[2], calc);
                Value tau = constant(nb, nl, op.getTau());
                Value thr = constant(nb, nl, op.getVThreshold());
                Value rst = constant(nb, nl, op.getVReset());
                auto sub = [&](Value p, Value q) {
                  return arith::SubFOp::create(nb, nl, p, q);
                };
                auto add = [&](Value p, Value q) {
                  return arith::AddFOp::create(nb, nl, p, q);
                };
                auto div = [&](Value p, Value q) {
                  return arith::DivFOp::create(nb, nl, p, q);
                };
                // Charge.
                Value h = decayInput ? add(v, div(sub(in, sub(v, rst)), tau))
                                     : add(sub(v, div(sub(v, rst), tau)), in);
                // Fire.
                Value fired = arith::CmpFOp::create(nb, nl, pred, h, thr);
                Value one = constant(nb, nl, APFloat(1.0f));
                Value zero = constant(nb, nl, APFloat(0.0f));
                Value s = arith::SelectOp::create(nb, nl, fired, one, zero);
                // Reset.
                Value next =
                    hard ? arith::SelectOp::create(nb, nl, fired, rst, h)
                               .getResult()
                         : sub(h, arith::MulFOp::create(nb, nl, s, thr))
                               .getResult();
                linalg::YieldOp::create(
                    nb, nl,
                    ValueRange{castFloat(nb, nl, s, elt),
                               castFloat(nb, nl, next, elt)});
              });
          Value spikes = tensor::InsertSliceOp::create(
              b, l, neurons.getResult(0), iters[0], offsets, sliceSizes,
              strides);
          scf::YieldOp::create(b, l, ValueRange{spikes, neurons.getResult(1)});
        });
    rewriter.replaceOp(op, {castToResultType(rewriter, loc, loop.getResult(0),
                                             op.getSpikes().getType()),
                            castToResultType(rewriter, loc, loop.getResult(1),
                                             op.getNewV().getType())});
    return success();
  }
};

} // namespace

void mlir::seq::tolinalg::populateLIFLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LIFLowering>(patterns.getContext());
}
