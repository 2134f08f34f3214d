//===- PrefillSelection.cpp - selection built into a model's prefill
//-------===//

#include "PrefillSelection.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using seqc::PrefillSelection;

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

Value seqc::import::headScores(OpBuilder &b, Location loc, Value q, Value k,
                               const PrefillSelection &sel) {
  Type f32 = b.getF32Type();
  int64_t hq = cast<RankedTensorType>(q.getType()).getDimSize(1);
  auto type = RankedTensorType::get({hq, ShapedType::kDynamic}, f32);
  Value n = tensor::DimOp::create(b, loc, k, 0);
  Value longer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                       index(b, loc, sel.window), n);
  auto guard = scf::IfOp::create(b, loc, TypeRange{type}, longer,
                                 /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  Value score = mlir::seq::KVWindowScoreOp::create(
      b, loc, type, q, k, sel.window, sel.kernel,
      sel.maxPool ? mlir::seq::ScorePool::Max : mlir::seq::ScorePool::Avg);
  scf::YieldOp::create(b, loc, score);
  b.setInsertionPointToStart(&guard.getElseRegion().front());
  Value none = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(hq), b.getIndexAttr(0)},
      f32);
  scf::YieldOp::create(b, loc,
                       ValueRange{tensor::CastOp::create(b, loc, type, none)});
  return guard.getResult(0);
}

Value seqc::import::tokenScore(OpBuilder &b, Location loc, Value q, Value k,
                               const PrefillSelection &sel) {
  Type f32 = b.getF32Type();
  Value score = headScores(b, loc, q, k, sel);
  // Summed over the heads: [S] (empty when the prompt is within the window).
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
  return total;
}

Value seqc::import::repeatHeads(OpBuilder &b, Location loc, Value x,
                                int64_t groups) {
  if (groups == 1)
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t H = type.getDimSize(1) * groups, D = type.getDimSize(2);
  OpFoldResult T = tensor::getMixedSize(b, loc, x, 0);
  return generate(
      b, loc, {T, b.getIndexAttr(H), b.getIndexAttr(D)}, type.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange iv) {
        Value g = arith::ConstantIndexOp::create(nb, nl, groups);
        Value h = arith::DivUIOp::create(nb, nl, iv[1], g);
        return tensor::ExtractOp::create(nb, nl, x, ValueRange{iv[0], h, iv[2]})
            .getResult();
      });
}

void seqc::import::chooseLayerRows(OpBuilder &b, Location loc,
                                   ArrayRef<Value> scores, Value state,
                                   mlir::seq::KVCacheType cacheType,
                                   const PrefillSelection &sel) {
  int64_t L = scores.size();
  auto type = cast<RankedTensorType>(scores[0].getType());
  int64_t H = type.getDimSize(0);
  // Nothing to choose from a prompt within the window (no scores).
  OpFoldResult m = tensor::getMixedSize(b, loc, scores[0], 1);
  Value mv = getValueOrCreateConstantIndexOp(b, loc, m);
  Value scored = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, mv,
                                       index(b, loc, 0));
  auto guard = scf::IfOp::create(b, loc, TypeRange{}, scored,
                                 /*withElseRegion=*/false);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  Value stacked = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(L), b.getIndexAttr(H), m},
      b.getF32Type());
  for (int64_t l = 0; l < L; ++l)
    stacked = tensor::InsertSliceOp::create(
        b, loc, scores[l], stacked,
        ArrayRef<OpFoldResult>{b.getIndexAttr(l), b.getIndexAttr(0),
                               b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(H), m},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(1)});
  Value keep = mlir::seq::KVBudgetsOp::create(
      b, loc, RankedTensorType::get({L}, b.getIndexType()), stacked, sel.budget,
      sel.window, llvm::APFloat(sel.ratioMax), /*interval=*/4);
  for (int64_t l = 0; l < L; ++l) {
    Value slot = index(b, loc, l);
    Value cache = mlir::seq::KVLoadOp::create(b, loc, cacheType, state, slot);
    Value rows = tensor::ExtractOp::create(b, loc, keep, slot);
    Value kept = mlir::seq::KVSelectOp::create(b, loc, cache, scores[l], rows,
                                               sel.window);
    mlir::seq::KVStoreOp::create(b, loc, kept, state, slot);
  }
}

std::pair<Value, Value>
seqc::import::propagateTokens(OpBuilder &b, Location loc, Value x,
                              Value positions, Value score,
                              const PrefillSelection &sel) {
  Value n = tensor::DimOp::create(b, loc, x, 0);
  Value T;
  if (sel.tspKeep > 0) {
    T = index(b, loc, sel.tspKeep);
  } else {
    // int(n * rate), as Python truncates a positive float64.
    Value nf = arith::UIToFPOp::create(
        b, loc, b.getF64Type(),
        arith::IndexCastUIOp::create(b, loc, b.getI64Type(), n));
    Value prod = arith::MulFOp::create(
        b, loc, nf,
        arith::ConstantOp::create(b, loc, b.getF64FloatAttr(sel.tspRate)));
    T = arith::IndexCastUIOp::create(
        b, loc, b.getIndexType(),
        arith::FPToUIOp::create(b, loc, b.getI64Type(), prod));
  }
  T = arith::MaxSIOp::create(b, loc, T, index(b, loc, sel.window));
  Value fewer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, T, n);
  auto xType = cast<RankedTensorType>(x.getType());
  auto pType = cast<RankedTensorType>(positions.getType());
  auto guard = scf::IfOp::create(b, loc, TypeRange{xType, pType}, fewer,
                                 /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
    Value k = arith::SubIOp::create(b, loc, T, index(b, loc, sel.window));
    Value best = mlir::seq::SelectTopOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic}, b.getIndexType()),
        score, k);
    // order[t] = n - T + t: the window for t >= k, overwritten below by the
    // best tokens for t < k.
    Value first = arith::SubIOp::create(b, loc, n, T);
    Value order = generate(
        b, loc, {T}, b.getIndexType(),
        [&](OpBuilder &nb, Location nl, ValueRange iv) {
          return arith::AddIOp::create(nb, nl, first, iv[0]).getResult();
        });
    order = tensor::InsertSliceOp::create(
        b, loc, best, order, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{k}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    int64_t C = xType.getDimSize(1);
    Value rows = generate(
        b, loc, {T, b.getIndexAttr(C)}, xType.getElementType(),
        [&](OpBuilder &nb, Location nl, ValueRange iv) {
          Value r = tensor::ExtractOp::create(nb, nl, order, iv[0]);
          return tensor::ExtractOp::create(nb, nl, x, ValueRange{r, iv[1]})
              .getResult();
        });
    Value pos = generate(
        b, loc, {T}, b.getIndexType(),
        [&](OpBuilder &nb, Location nl, ValueRange iv) {
          Value r = tensor::ExtractOp::create(nb, nl, order, iv[0]);
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
