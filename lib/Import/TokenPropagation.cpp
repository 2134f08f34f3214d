//===- TokenPropagation.cpp - FastKV's token-selective propagation --------===//

#include "TokenPropagation.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using seqc::TokenPropagation;

namespace {

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// A linalg.generic over `shape` (dynamic sizes in `sizes`) producing
/// `elt`, whose value at each index is body(indices).
Value generate(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
               Type elt,
               function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  Value init = tensor::EmptyOp::create(b, loc, sizes, elt);
  unsigned rank = sizes.size();
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange) {
               SmallVector<Value> ivs;
               for (unsigned d = 0; d < rank; ++d)
                 ivs.push_back(linalg::IndexOp::create(nb, nl, d));
               linalg::YieldOp::create(nb, nl, body(nb, nl, ivs));
             })
      .getResult(0);
}

} // namespace

Value seqc::import::tokenScore(OpBuilder &b, Location loc, Value q, Value k,
                               const TokenPropagation &tsp) {
  Type f32 = b.getF32Type();
  auto type = RankedTensorType::get({ShapedType::kDynamic}, f32);
  Value n = tensor::DimOp::create(b, loc, k, 0);
  Value longer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                       index(b, loc, tsp.window), n);
  auto guard = scf::IfOp::create(b, loc, TypeRange{type}, longer,
                                 /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  int64_t hq = cast<RankedTensorType>(q.getType()).getDimSize(1);
  Value score = mlir::seq::KVWindowScoreOp::create(
      b, loc, RankedTensorType::get({hq, ShapedType::kDynamic}, f32), q, k,
      tsp.window, tsp.kernel,
      tsp.maxPool ? mlir::seq::ScorePool::Max : mlir::seq::ScorePool::Avg);
  // Summed over the heads: [S].
  OpFoldResult S = tensor::getMixedSize(b, loc, score, 1);
  Value init = tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{S}, f32);
  init = linalg::FillOp::create(
             b, loc,
             arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f))
                 .getResult(),
             init)
             .getResult(0);
  MLIRContext *ctx = b.getContext();
  AffineExpr h, j;
  bindDims(ctx, h, j);
  Value total =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{score},
          ValueRange{init},
          SmallVector<AffineMap>{AffineMap::get(2, 0, {h, j}, ctx),
                                 AffineMap::get(2, 0, {j}, ctx)},
          SmallVector<utils::IteratorType>{utils::IteratorType::reduction,
                                           utils::IteratorType::parallel},
          [](OpBuilder &nb, Location nl, ValueRange a) {
            linalg::YieldOp::create(
                nb, nl, ValueRange{arith::AddFOp::create(nb, nl, a[1], a[0])});
          })
          .getResult(0);
  scf::YieldOp::create(b, loc, total);
  b.setInsertionPointToStart(&guard.getElseRegion().front());
  Value none = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(0)}, f32);
  scf::YieldOp::create(b, loc,
                       ValueRange{tensor::CastOp::create(b, loc, type, none)});
  return guard.getResult(0);
}

std::pair<Value, Value>
seqc::import::propagateTokens(OpBuilder &b, Location loc, Value x,
                              Value positions, Value score,
                              const TokenPropagation &tsp) {
  Value n = tensor::DimOp::create(b, loc, x, 0);
  Value T;
  if (tsp.keep > 0) {
    T = index(b, loc, tsp.keep);
  } else {
    // int(n * rate), as Python truncates a positive float64.
    Value nf = arith::UIToFPOp::create(
        b, loc, b.getF64Type(),
        arith::IndexCastUIOp::create(b, loc, b.getI64Type(), n));
    Value prod = arith::MulFOp::create(
        b, loc, nf,
        arith::ConstantOp::create(b, loc, b.getF64FloatAttr(tsp.rate)));
    T = arith::IndexCastUIOp::create(
        b, loc, b.getIndexType(),
        arith::FPToUIOp::create(b, loc, b.getI64Type(), prod));
  }
  T = arith::MaxSIOp::create(b, loc, T, index(b, loc, tsp.window));
  Value fewer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, T, n);
  auto xType = cast<RankedTensorType>(x.getType());
  auto pType = cast<RankedTensorType>(positions.getType());
  auto guard = scf::IfOp::create(b, loc, TypeRange{xType, pType}, fewer,
                                 /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
    Value k = arith::SubIOp::create(b, loc, T, index(b, loc, tsp.window));
    Value best = mlir::seq::SelectTopOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic}, b.getIndexType()),
        score, k);
    // sel[t] = n - T + t: the window for t >= k, overwritten below by the
    // best tokens for t < k.
    Value first = arith::SubIOp::create(b, loc, n, T);
    Value sel = generate(
        b, loc, {T}, b.getIndexType(),
        [&](OpBuilder &nb, Location nl, ValueRange iv) {
          return arith::AddIOp::create(nb, nl, first, iv[0]).getResult();
        });
    sel = tensor::InsertSliceOp::create(
        b, loc, best, sel, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{k}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    int64_t C = xType.getDimSize(1);
    Value rows = generate(
        b, loc, {T, b.getIndexAttr(C)}, xType.getElementType(),
        [&](OpBuilder &nb, Location nl, ValueRange iv) {
          Value r = tensor::ExtractOp::create(nb, nl, sel, iv[0]);
          return tensor::ExtractOp::create(nb, nl, x, ValueRange{r, iv[1]})
              .getResult();
        });
    Value pos = generate(
        b, loc, {T}, b.getIndexType(),
        [&](OpBuilder &nb, Location nl, ValueRange iv) {
          Value r = tensor::ExtractOp::create(nb, nl, sel, iv[0]);
          return tensor::ExtractOp::create(nb, nl, positions, r).getResult();
        });
    scf::YieldOp::create(
        b, loc,
        ValueRange{tensor::CastOp::create(b, loc, xType, rows),
                   tensor::CastOp::create(b, loc, pType, pos)});
    b.setInsertionPointToStart(&guard.getElseRegion().front());
    scf::YieldOp::create(b, loc, ValueRange{x, positions});
  }
  return {guard.getResult(0), guard.getResult(1)};
}
