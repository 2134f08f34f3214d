//===- SeqToLinalg.cpp - lower seq recurrences to upstream dialects -------===//

#include "passes/Conversion/Passes.h"
#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::seq {
#define GEN_PASS_DEF_CONVERTSEQTOLINALGPASS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

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
    // The earlier tokens shift down by one (none when T is statically 1: an
    // empty slice at offset 1 of a one-row tensor would be out of bounds).
    std::optional<int64_t> tConst = getConstantIntValue(t);
    if (!tConst || *tConst > 1) {
      Value head = tensor::ExtractSliceOp::create(
          rewriter, loc, x, {zero, zero}, {last, c}, {unit, unit});
      shifted = tensor::InsertSliceOp::create(
          rewriter, loc, head, shifted, {unit, zero}, {last, c}, {unit, unit});
    }
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

/// f32 scalar arithmetic at one location, for the WKV-4 steps.
struct Scalar {
  OpBuilder &b;
  Location loc;
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value max(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value log(Value x) { return math::LogOp::create(b, loc, x); }
};

/// Emits one token of the numerically stable RWKV-4 recurrence on scalars (in
/// f32) and returns {y, aa', bb', pp'}.
static SmallVector<Value> wkv4Step(OpBuilder &b, Location loc, Value k, Value v,
                                   Value w, Value u, Value aa, Value bb,
                                   Value pp) {
  Scalar s{b, loc};
  // Output: the current token gets the bonus u.
  Value ww = s.add(u, k);
  Value p = s.max(pp, ww);
  Value e1 = s.exp(s.sub(pp, p)), e2 = s.exp(s.sub(ww, p));
  Value ea = s.mul(e1, aa);
  Value ev = s.mul(e2, v);
  Value num = s.add(ea, ev);
  Value eb = s.mul(e1, bb);
  Value den = s.add(eb, e2);
  Value y = s.div(num, den);
  // State: decay the past by w, add the current token.
  Value ww2 = s.add(pp, w);
  Value p2 = s.max(ww2, k);
  Value f1 = s.exp(s.sub(ww2, p2)), f2 = s.exp(s.sub(k, p2));
  Value fa = s.mul(f1, aa);
  Value fv = s.mul(f2, v);
  Value aa2 = s.add(fa, fv);
  Value bb2 = s.add(s.mul(f1, bb), f2);
  return {y, aa2, bb2, p2};
}

/// One token of the mean form (seq.wkv4 with `state_quant`): the past as
/// the mean a = aa / bb and the exponent p (bb folded in), i.e. the stable
/// step with bb = 1, its new aa and bb then folded again: a' = aa' / bb',
/// p' = pp' + log bb'. Returns {y, a', p'}.
static SmallVector<Value> wkv4MeanStep(OpBuilder &b, Location loc, Value k,
                                       Value v, Value w, Value u, Value a,
                                       Value p) {
  Scalar s{b, loc};
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
  SmallVector<Value> stable = wkv4Step(b, loc, k, v, w, u, a, one, p);
  Value a2 = s.div(stable[1], stable[2]);
  Value p2 = s.add(stable[3], s.log(stable[2]));
  return {stable[0], a2, p2};
}

struct WKV4Lowering : OpConversionPattern<WKV4Op> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(WKV4Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getStateQuantAttr())
      return lowerQuantized(op, adaptor, rewriter);
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
                Value k = in(0);
                Value v = in(1);
                Value w = in(2);
                Value u = in(3);
                SmallVector<Value> r =
                    wkv4Step(nb, nl, k, v, w, u, a[5], a[6], a[7]);
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

  /// The mean form over quantized a: per token, a is dequantized, the
  /// channels step (a linalg.generic) and the new a is quantized again.
  LogicalResult lowerQuantized(WKV4Op op, OpAdaptor adaptor,
                               ConversionPatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    QuantEncodingAttr enc = op.getStateQuantAttr();
    auto seqType = cast<RankedTensorType>(adaptor.getK().getType());
    Type elt = seqType.getElementType();
    Type f32 = rewriter.getF32Type();
    int64_t c = seqType.getDimSize(1);
    auto rowType = RankedTensorType::get({c}, elt);
    auto stateRowType = RankedTensorType::get({c}, f32);
    OpFoldResult t = tensor::getMixedSize(rewriter, loc, adaptor.getK(), 0);
    QuantizedStateLayout layout = quantizedStateLayout(enc, {c}, c);
    QuantizedStateParts parts = splitQuantizedState(
        rewriter, loc, adaptor.getState(), layout, enc, /*axis=*/0);
    SmallVector<Value> init = {
        tensor::EmptyOp::create(
            rewriter, loc, ArrayRef<OpFoldResult>{t, rewriter.getIndexAttr(c)},
            elt),
        parts.codes, parts.scales, parts.lead};
    Value lb = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value ub = getValueOrCreateConstantIndexOp(rewriter, loc, t);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    auto loop = scf::ForOp::create(
        rewriter, loc, lb, ub, one, init,
        [&](OpBuilder &b, Location loc, Value tok, ValueRange iters) {
          Value kt = extractRow(b, loc, adaptor.getK(), tok);
          Value vt = extractRow(b, loc, adaptor.getV(), tok);
          Value a =
              dequantizeFromStorage(b, loc, iters[1], iters[2], c, enc, f32);
          AffineMap id = b.getMultiDimIdentityMap(1);
          auto step = linalg::GenericOp::create(
              b, loc, TypeRange{rowType, stateRowType, stateRowType},
              ValueRange{kt, vt, adaptor.getW(), adaptor.getU(), a},
              ValueRange{tensor::EmptyOp::create(b, loc, {c}, elt),
                         tensor::EmptyOp::create(b, loc, {c}, f32), iters[3]},
              SmallVector<AffineMap>(8, id),
              SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
              [&](OpBuilder &nb, Location nl, ValueRange x) {
                auto in = [&](int i) { return castFloat(nb, nl, x[i], f32); };
                Value k = in(0);
                Value v = in(1);
                Value w = in(2);
                Value u = in(3);
                SmallVector<Value> r =
                    wkv4MeanStep(nb, nl, k, v, w, u, x[4], x[7]);
                r[0] = castFloat(nb, nl, r[0], elt);
                linalg::YieldOp::create(nb, nl, r);
              });
          SmallVector<Value> stored = quantizeToStorage(
              b, loc, step.getResult(1), enc, {iters[1], iters[2]});
          Value y = insertRow(b, loc, step.getResult(0), iters[0], tok);
          scf::YieldOp::create(
              b, loc, ValueRange{y, stored[0], stored[1], step.getResult(2)});
        });
    QuantizedStateParts next{loop.getResult(3), loop.getResult(1),
                             loop.getResult(2)};
    Value words = joinQuantizedState(rewriter, loc, next, layout);
    rewriter.replaceOp(op, {castToResultType(rewriter, loc, loop.getResult(0),
                                             op.getY().getType()),
                            castToResultType(rewriter, loc, words,
                                             op.getNewState().getType())});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// seq.wkv5, seq.wkv6, seq.wkv7 (matrix state per head)
//===----------------------------------------------------------------------===//

/// Token `tok` of a [T, H*N] tensor as [H, N], or only head `head` as
/// [1, N] when given (f32 elements stay as they are; the bodies extend).
static Value headRow(OpBuilder &b, Location loc, Value seq, Value tok,
                     int64_t heads, int64_t n, Value head = Value()) {
  Type elt = cast<RankedTensorType>(seq.getType()).getElementType();
  if (head) {
    Value col = arith::MulIOp::create(
        b, loc, head, arith::ConstantIndexOp::create(b, loc, n));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({1, n}, elt), seq,
        ArrayRef<OpFoldResult>{tok, col},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(n)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  Value row = extractRow(b, loc, seq, tok);
  auto type = RankedTensorType::get({heads, n}, elt);
  return tensor::ExpandShapeOp::create(b, loc, type, row,
                                       ArrayRef<ReassociationIndices>{{0, 1}});
}

/// Rows `head` .. head + count - 1 of `t` along its first dimension (a
/// per-head weight [H, N] or the state [H, N, N]); `t` itself without a
/// head.
static Value headSlice(OpBuilder &b, Location loc, Value t, Value head) {
  if (!head)
    return t;
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = 1;
  SmallVector<OpFoldResult> offsets(shape.size(), b.getIndexAttr(0)), sizes,
      strides(shape.size(), b.getIndexAttr(1));
  offsets[0] = head;
  for (int64_t d : shape)
    sizes.push_back(b.getIndexAttr(d));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), t, offsets,
      sizes, strides);
}

/// A linalg.generic over (h, i, j) with the given input maps (in terms of
/// d0 = h, d1 = i, d2 = j), one output with `outMap`, iterators `iters`.
/// `dot`: a dot product over the innermost dimension, marked `seq.dot` so
/// that seq-parallelize-products keeps its accumulator in a register.
static Value
headGeneric(OpBuilder &b, Location loc, ValueRange inputs,
            ArrayRef<AffineMap> inMaps, Value init, AffineMap outMap,
            ArrayRef<utils::IteratorType> iters,
            function_ref<Value(OpBuilder &, Location, ValueRange)> body,
            bool dot = false) {
  SmallVector<AffineMap> maps(inMaps.begin(), inMaps.end());
  maps.push_back(outMap);
  Type f32 = b.getF32Type();
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        SmallVector<Value> args;
        for (Value v : a)
          args.push_back(castFloat(nb, nl, v, f32));
        linalg::YieldOp::create(nb, nl, body(nb, nl, args));
      });
  if (dot)
    seq::SeqDialect::DotAttrHelper(b.getContext()).setAttr(op, b.getUnitAttr());
  return op.getResult(0);
}

/// Maps over (h, i, j).
struct HeadMaps {
  AffineMap hi, hj, hij;
  explicit HeadMaps(MLIRContext *ctx) {
    AffineExpr h = getAffineDimExpr(0, ctx), i = getAffineDimExpr(1, ctx),
               j = getAffineDimExpr(2, ctx);
    hi = AffineMap::get(3, 0, {h, i}, ctx);
    hj = AffineMap::get(3, 0, {h, j}, ctx);
    hij = AffineMap::get(3, 0, {h, i, j}, ctx);
  }
};

/// Lowers the three matrix-state WKV ops: an scf.for over tokens carrying
/// the output and the state; `step` emits one token's update on [H, N]
/// rows and the [H, N, N] state and returns {y_t [H, N] f32, state'}, or,
/// given `head` (and `heads` = 1), on that head's [1, N] rows and
/// [1, N, N] state. Over
/// several tokens (prefill) the heads are independent recurrences: an
/// scf.for over heads marked `seq.parallel` (seq-parallelize-loops makes
/// it a task per head) runs each head's token loop.
template <typename OpT> struct MatrixWKVLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;

  virtual std::pair<Value, Value> step(OpBuilder &b, Location loc,
                                       Adaptor adaptor, Value tok, Value state,
                                       int64_t heads, int64_t n,
                                       Value head) const = 0;

  LogicalResult
  matchAndRewrite(OpT op, Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value r = adaptor.getR();
    auto seqType = cast<RankedTensorType>(r.getType());
    auto stateType = cast<RankedTensorType>(adaptor.getState().getType());
    if (!stateType.hasStaticShape() || seqType.isDynamicDim(1))
      return rewriter.notifyMatchFailure(op, "needs static heads and width");
    QuantEncodingAttr enc = op.getStateQuantAttr();
    int64_t heads = stateType.getDimSize(0),
            n = enc ? seqType.getDimSize(1) / heads : stateType.getDimSize(1);
    // The state as the loops carry it: the f32 [H, N, N] state, or, kept
    // quantized, its packed codes and scales (dequantized before each
    // token's update and quantized after it).
    QuantizedStateLayout layout;
    SmallVector<Value> state0 = {adaptor.getState()};
    if (enc) {
      layout = quantizedStateLayout(enc, {n, n}, 0);
      QuantizedStateParts parts = splitQuantizedState(
          rewriter, loc, adaptor.getState(), layout, enc, enc.getAxis() - 1);
      state0 = {parts.codes, parts.scales};
    }
    Type elt = seqType.getElementType();
    OpFoldResult t = tensor::getMixedSize(rewriter, loc, r, 0);
    Value yInit = tensor::EmptyOp::create(
        rewriter, loc,
        ArrayRef<OpFoldResult>{t, rewriter.getIndexAttr(heads * n)}, elt);
    Value lb = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value ub = getValueOrCreateConstantIndexOp(rewriter, loc, t);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    // The token loop over all heads (head null) or one head: y rows of
    // `width` = heads * n or n channels from column `col`.
    auto tokenLoop = [&](OpBuilder &b, Location loc, Value y0,
                         ValueRange state0, Value head) {
      int64_t hs = head ? 1 : heads, width = hs * n;
      SmallVector<Value> init = {y0};
      llvm::append_range(init, state0);
      return scf::ForOp::create(
          b, loc, lb, ub, one, init,
          [&](OpBuilder &b, Location loc, Value tok, ValueRange iters) {
            Value state =
                enc ? dequantizeFromStorage(b, loc, iters[1], iters[2], n, enc,
                                            b.getF32Type())
                    : iters[1];
            auto [yt, next] = step(b, loc, adaptor, tok, state, hs, n, head);
            Value flat = tensor::CollapseShapeOp::create(
                b, loc, RankedTensorType::get({width}, b.getF32Type()), yt,
                ArrayRef<ReassociationIndices>{{0, 1}});
            if (elt != b.getF32Type()) {
              Value out = tensor::EmptyOp::create(b, loc, {width}, elt);
              AffineMap id = b.getMultiDimIdentityMap(1);
              flat = linalg::GenericOp::create(
                         b, loc, TypeRange{out.getType()}, ValueRange{flat},
                         ValueRange{out}, SmallVector<AffineMap>{id, id},
                         SmallVector<utils::IteratorType>{
                             utils::IteratorType::parallel},
                         [&](OpBuilder &nb, Location nl, ValueRange a) {
                           linalg::YieldOp::create(
                               nb, nl, castFloat(nb, nl, a[0], elt));
                         })
                         .getResult(0);
            }
            Value y;
            if (head) {
              Value col = arith::MulIOp::create(
                  b, loc, head, arith::ConstantIndexOp::create(b, loc, n));
              y = tensor::InsertSliceOp::create(
                  b, loc, flat, iters[0], ArrayRef<OpFoldResult>{tok, col},
                  ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(n)},
                  ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
            } else {
              y = insertRow(b, loc, flat, iters[0], tok);
            }
            SmallVector<Value> yields = {y};
            if (enc)
              llvm::append_range(
                  yields,
                  quantizeToStorage(b, loc, next, enc, {iters[1], iters[2]}));
            else
              yields.push_back(next);
            scf::YieldOp::create(b, loc, yields);
          });
    };
    // The op's results from the loop's: y and the state (as words when
    // quantized).
    auto replace = [&](ValueRange results) {
      Value next = results[1];
      if (enc)
        next = joinQuantizedState(rewriter, loc,
                                  {Value(), results[1], results[2]}, layout);
      rewriter.replaceOp(
          op,
          {castToResultType(rewriter, loc, results[0], op.getY().getType()),
           castToResultType(rewriter, loc, next, op.getNewState().getType())});
    };
    std::optional<int64_t> tokens = getConstantIntValue(t);
    if (tokens && *tokens == 1) {
      replace(tokenLoop(rewriter, loc, yInit, state0, Value()).getResults());
      return success();
    }
    SmallVector<Value> init = {yInit};
    llvm::append_range(init, state0);
    auto headLoop = scf::ForOp::create(
        rewriter, loc, lb, arith::ConstantIndexOp::create(rewriter, loc, heads),
        one, init,
        [&](OpBuilder &b, Location loc, Value head, ValueRange iters) {
          SmallVector<Value> state;
          for (Value part : iters.drop_front())
            state.push_back(headSlice(b, loc, part, head));
          auto loop = tokenLoop(b, loc, iters[0], state, head);
          SmallVector<Value> yields = {loop.getResult(0)};
          for (auto [part, into] :
               llvm::zip(loop.getResults().drop_front(), iters.drop_front())) {
            auto type = cast<RankedTensorType>(part.getType());
            SmallVector<OpFoldResult> offsets(type.getRank(),
                                              b.getIndexAttr(0)),
                sizes, strides(type.getRank(), b.getIndexAttr(1));
            offsets[0] = head;
            for (int64_t d : type.getShape())
              sizes.push_back(b.getIndexAttr(d));
            yields.push_back(tensor::InsertSliceOp::create(
                b, loc, part, into, offsets, sizes, strides));
          }
          scf::YieldOp::create(b, loc, yields);
        });
    seq::SeqDialect::ParallelAttrHelper(rewriter.getContext())
        .setAttr(headLoop, rewriter.getUnitAttr());
    replace(headLoop.getResults());
    return success();
  }

  /// y[h, j] = sum_i r[h, i] * (u[h, i] * k[h, i] * v[h, j] + S[h, i, j]) and
  /// S'[h, i, j] = w[h, i] * S[h, i, j] + k[h, i] * v[h, j] (RWKV-5 and -6).
  static std::pair<Value, Value> eagleStep(OpBuilder &b, Location loc, Value rt,
                                           Value kt, Value vt, Value wt,
                                           Value u, Value state, int64_t heads,
                                           int64_t n) {
    HeadMaps m(b.getContext());
    Type f32 = b.getF32Type();
    auto par = utils::IteratorType::parallel,
         red = utils::IteratorType::reduction;
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    Value yInit =
        linalg::FillOp::create(
            b, loc, ValueRange{zero},
            ValueRange{tensor::EmptyOp::create(b, loc, {heads, n}, f32)})
            .getResult(0);
    // Loops (h, i, j) with i reduced: output indexed (h, j).
    Value y = headGeneric(
        b, loc, ValueRange{rt, kt, vt, u, state},
        {m.hi, m.hi, m.hj, m.hi, m.hij}, yInit, m.hj, {par, red, par},
        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value ukv = arith::MulFOp::create(
              nb, nl, arith::MulFOp::create(nb, nl, a[3], a[1]), a[2]);
          Value inner = arith::AddFOp::create(nb, nl, ukv, a[4]);
          return arith::AddFOp::create(
              nb, nl, a[5], arith::MulFOp::create(nb, nl, a[0], inner));
        });
    // The state is updated in place (it is the output operand), so that
    // bufferization keeps one state buffer across the loop.
    Value next = headGeneric(
        b, loc, ValueRange{wt, kt, vt}, {m.hi, m.hi, m.hj}, state, m.hij,
        {par, par, par}, [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value decayed = arith::MulFOp::create(nb, nl, a[0], a[3]);
          return arith::AddFOp::create(
              nb, nl, decayed, arith::MulFOp::create(nb, nl, a[1], a[2]));
        });
    return {y, next};
  }
};

struct WKV5Lowering : MatrixWKVLowering<WKV5Op> {
  using MatrixWKVLowering::MatrixWKVLowering;
  std::pair<Value, Value> step(OpBuilder &b, Location loc, Adaptor a, Value tok,
                               Value state, int64_t heads, int64_t n,
                               Value head) const override {
    // Rows in operand order (argument evaluation order is unspecified).
    Value r = headRow(b, loc, a.getR(), tok, heads, n, head);
    Value k = headRow(b, loc, a.getK(), tok, heads, n, head);
    Value v = headRow(b, loc, a.getV(), tok, heads, n, head);
    Value w = headSlice(b, loc, a.getW(), head);
    Value u = headSlice(b, loc, a.getU(), head);
    return eagleStep(b, loc, r, k, v, w, u, state, heads, n);
  }
};

struct WKV6Lowering : MatrixWKVLowering<WKV6Op> {
  using MatrixWKVLowering::MatrixWKVLowering;
  std::pair<Value, Value> step(OpBuilder &b, Location loc, Adaptor a, Value tok,
                               Value state, int64_t heads, int64_t n,
                               Value head) const override {
    Value r = headRow(b, loc, a.getR(), tok, heads, n, head);
    Value k = headRow(b, loc, a.getK(), tok, heads, n, head);
    Value v = headRow(b, loc, a.getV(), tok, heads, n, head);
    Value w = headRow(b, loc, a.getW(), tok, heads, n, head);
    return eagleStep(b, loc, r, k, v, w, headSlice(b, loc, a.getU(), head),
                     state, heads, n);
  }
};

/// sa[h, i] = sum_j S[h, i, j] a[h, j];
/// S'[h, i, j] = S[h, i, j] w[h, j] + sa[h, i] b[h, j] + v[h, i] k[h, j];
/// y[h, i] = sum_j S'[h, i, j] r[h, j].
struct WKV7Lowering : MatrixWKVLowering<WKV7Op> {
  using MatrixWKVLowering::MatrixWKVLowering;
  std::pair<Value, Value> step(OpBuilder &b, Location loc, Adaptor ad,
                               Value tok, Value state, int64_t heads, int64_t n,
                               Value head) const override {
    HeadMaps m(b.getContext());
    Type f32 = b.getF32Type();
    auto par = utils::IteratorType::parallel,
         red = utils::IteratorType::reduction;
    auto row = [&](Value seq) {
      return headRow(b, loc, seq, tok, heads, n, head);
    };
    Value rt = row(ad.getR()), wt = row(ad.getW()), kt = row(ad.getK()),
          vt = row(ad.getV()), at = row(ad.getA()), bt = row(ad.getB());
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    auto zeros = [&]() {
      return linalg::FillOp::create(
                 b, loc, ValueRange{zero},
                 ValueRange{tensor::EmptyOp::create(b, loc, {heads, n}, f32)})
          .getResult(0);
    };
    // Dot products over j: reassociation lets LLVM vectorize them.
    auto mulAdd = [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
      auto fm = arith::FastMathFlagsAttr::get(
          nb.getContext(),
          arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
      return arith::AddFOp::create(
          nb, nl, a[2], arith::MulFOp::create(nb, nl, a[0], a[1], fm), fm);
    };
    Value sa = headGeneric(b, loc, ValueRange{state, at}, {m.hij, m.hj},
                           zeros(), m.hi, {par, par, red}, mulAdd,
                           /*dot=*/true);
    // In place: the state is the output operand (read as its last argument).
    Value next = headGeneric(
        b, loc, ValueRange{wt, sa, bt, vt, kt}, {m.hj, m.hi, m.hj, m.hi, m.hj},
        state, m.hij, {par, par, par},
        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value s = arith::MulFOp::create(nb, nl, a[5], a[0]);
          s = arith::AddFOp::create(nb, nl, s,
                                    arith::MulFOp::create(nb, nl, a[1], a[2]));
          return arith::AddFOp::create(
              nb, nl, s, arith::MulFOp::create(nb, nl, a[3], a[4]));
        });
    Value y = headGeneric(b, loc, ValueRange{next, rt}, {m.hij, m.hj}, zeros(),
                          m.hi, {par, par, red}, mulAdd, /*dot=*/true);
    return {y, next};
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct ConvertSeqToLinalgPass
    : public seq::impl::ConvertSeqToLinalgPassBase<ConvertSeqToLinalgPass> {
  void runOnOperation() override {
    if (failed(tolinalg::checkQuantLowerable(getOperation())))
      return signalPassFailure();
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect>();
    target.addIllegalOp<TokenShiftOp, WKV4Op, WKV5Op, WKV6Op, WKV7Op, RopeOp,
                        PermuteChannelsOp, ScaleChannelsOp, LIFOp, QuantizeOp,
                        DequantizeOp, PerspectiveCombineOp, PerspectiveMixOp,
                        KVWindowScoreOp, SelectTopOp, KVBudgetsOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    // Quantized codes are stored packed: functions, calls and returns that
    // carry them take the storage type instead.
    TypeConverter converter;
    tolinalg::addQuantStorageConversion(converter);
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp f) {
      return converter.isSignatureLegal(f.getFunctionType()) &&
             converter.isLegal(&f.getBody());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    RewritePatternSet patterns(ctx);
    populateSeqToLinalgConversionPatterns(patterns);
    tolinalg::populateQuantLoweringPatterns(converter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::seq::populateSeqToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<TokenShiftLowering, WKV4Lowering, WKV5Lowering, WKV6Lowering,
               WKV7Lowering>(patterns.getContext());
  tolinalg::populateChannelLoweringPatterns(patterns);
  tolinalg::populateLIFLoweringPatterns(patterns);
  tolinalg::populatePerspectiveLoweringPatterns(patterns);
  tolinalg::populateSelectionLoweringPatterns(patterns);
}
