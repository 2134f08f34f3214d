//===- SelectKV.cpp - prefill-time KV selection (FastKV) ------------------===//
//
// seq-select-kv: after each prefill attention, the window score of its
// queries over its keys, summed per KV head, selects the rows the cache
// keeps (seq.kv_window_score + seq.kv_select; see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQSELECTKVPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

struct SelectKVPass : public seq::impl::SeqSelectKVPassBase<SelectKVPass> {
  using Base::Base;

  /// The number of rows to keep of a prompt of `n` tokens, at least the
  /// window (kv_select's own rule, so that the guard below agrees with it).
  Value keepRows(OpBuilder &b, Location loc, Value n) {
    // (keep is above the window, checked.)
    if (keep > 0)
      return arith::ConstantIndexOp::create(b, loc, keep);
    Value rows;
    {
      // int(n * rate), as Python truncates a positive float64.
      Value nf = arith::UIToFPOp::create(
          b, loc, b.getF64Type(),
          arith::IndexCastUIOp::create(b, loc, b.getI64Type(), n));
      Value prod = arith::MulFOp::create(
          b, loc, nf,
          arith::ConstantOp::create(b, loc, b.getF64FloatAttr(rate)));
      rows = arith::IndexCastUIOp::create(
          b, loc, b.getIndexType(),
          arith::FPToUIOp::create(b, loc, b.getI64Type(), prod));
    }
    return arith::MaxSIOp::create(
        b, loc, rows, arith::ConstantIndexOp::create(b, loc, window));
  }

  /// Scores [Hq, S] summed over the query heads of each KV head: [Hk, S].
  Value groupSum(OpBuilder &b, Location loc, Value score, int64_t hk) {
    auto type = cast<RankedTensorType>(score.getType());
    int64_t hq = type.getDimSize(0), g = hq / hk;
    if (g == 1)
      return score;
    OpFoldResult s = tensor::getMixedSize(b, loc, score, 1);
    Value grouped = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({hk, g, ShapedType::kDynamic}, b.getF32Type()),
        score, ArrayRef<ReassociationIndices>{{0, 1}, {2}},
        ArrayRef<OpFoldResult>{b.getIndexAttr(hk), b.getIndexAttr(g), s});
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(hk), s}, b.getF32Type());
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    init = linalg::FillOp::create(b, loc, zero, init).getResult(0);
    MLIRContext *ctx = b.getContext();
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{grouped},
               ValueRange{init},
               SmallVector<AffineMap>{AffineMap::get(3, 0, {d0, d1, d2}, ctx),
                                      AffineMap::get(3, 0, {d0, d2}, ctx)},
               SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                                utils::IteratorType::reduction,
                                                utils::IteratorType::parallel},
               [](OpBuilder &nb, Location nl, ValueRange a) {
                 linalg::YieldOp::create(
                     nb, nl,
                     ValueRange{arith::AddFOp::create(nb, nl, a[1], a[0])});
               })
        .getResult(0);
  }

  LogicalResult select(KVAttentionOp attention, KVAppendOp append) {
    KVCacheType cache = attention.getCache().getType();
    Location loc = attention.getLoc();
    if (cache.isCompressed() || cache.isScored() || cache.getWindow() != 0)
      return emitError(loc) << "seq-select-kv: selects rows of plain caches "
                               "(full precision, every token at its row); "
                            << cache << " is not";
    if (attention.hasKeyTransform())
      return emitError(loc)
             << "seq-select-kv: the attention transforms its keys (pre-RoPE "
                "keys or a latent basis); selection needs keys after RoPE";
    OpBuilder b(attention->getContext());
    b.setInsertionPointAfter(attention);
    Value q = attention.getQuery(), k = append.getKeys();
    int64_t hk = cache.getHeads();
    Value n = tensor::DimOp::create(b, loc, k, 0);
    Value rows = keepRows(b, loc, n);
    Value longer =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, rows, n);
    auto scoreType =
        RankedTensorType::get({hk, ShapedType::kDynamic}, b.getF32Type());
    auto guard = scf::IfOp::create(b, loc, TypeRange{scoreType}, longer,
                                   /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&guard.getThenRegion().front());
      int64_t hq = cast<RankedTensorType>(q.getType()).getDimSize(1);
      Value score = KVWindowScoreOp::create(
          b, loc,
          RankedTensorType::get({hq, ShapedType::kDynamic}, b.getF32Type()), q,
          k, window, kernel, pool);
      scf::YieldOp::create(b, loc, groupSum(b, loc, score, hk));
      // A prompt within the budget is kept whole: no score.
      b.setInsertionPointToStart(&guard.getElseRegion().front());
      Value none = tensor::EmptyOp::create(
          b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(hk), b.getIndexAttr(0)},
          b.getF32Type());
      none = tensor::CastOp::create(b, loc, scoreType, none);
      scf::YieldOp::create(b, loc, none);
    }
    Value before = attention.getNewCache();
    auto selected =
        KVSelectOp::create(b, loc, before, guard.getResult(0), rows, window);
    before.replaceAllUsesExcept(selected.getResult(), selected);
    ++numSelections;
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if ((keep > 0) == (rate > 0.0) || rate > 1.0 || keep < 0 || rate < 0.0) {
      emitError(module.getLoc())
          << "seq-select-kv: set one of keep (rows per KV head) and rate (a "
             "fraction in (0, 1]); got keep="
          << int64_t(keep)
          << " rate=" << llvm::formatv("{0}", double(rate)).str();
      return signalPassFailure();
    }
    if (window <= 0 || (keep > 0 && keep <= window)) {
      emitError(module.getLoc())
          << "seq-select-kv: window must be positive and keep above it (the "
             "window is always kept); got keep="
          << int64_t(keep) << " window=" << int64_t(window);
      return signalPassFailure();
    }
    if (kernel <= 0 || kernel % 2 == 0) {
      emitError(module.getLoc())
          << "seq-select-kv: kernel must be odd and positive, got "
          << int64_t(kernel);
      return signalPassFailure();
    }
    SmallVector<std::pair<KVAttentionOp, KVAppendOp>> prefills;
    module->walk([&](KVAttentionOp attention) {
      auto append = attention.getCache().getDefiningOp<KVAppendOp>();
      auto qType = cast<RankedTensorType>(attention.getQuery().getType());
      // A prefill: the attention of the tokens just appended, more than one.
      // (A static token count within the window is never compressed.)
      int64_t tokens = qType.getDimSize(0);
      if (!append || !append.getResult().hasOneUse() ||
          append.getKeys().getType().getDimSize(0) != tokens ||
          (!ShapedType::isDynamic(tokens) && tokens <= window))
        return;
      prefills.push_back({attention, append});
    });
    for (auto [attention, append] : prefills)
      if (failed(select(attention, append)))
        return signalPassFailure();
  }
};

} // namespace
