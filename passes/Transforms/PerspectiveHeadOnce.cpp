//===- PerspectiveHeadOnce.cpp - mix perspectives before the head ---------===//
//
// sum_p alpha_p (W h_p) = W (sum_p alpha_p h_p): seq.perspective_mix moves
// before the linear linalg.generic that feeds it, so the vocabulary
// projection runs once instead of once per perspective.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQPERSPECTIVEHEADONCEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

/// The body of a generic, seen as a function of one block argument `act`
/// (the input carrying the perspective dimension) with the output argument
/// `out` as the accumulator.
struct BodyLinearity {
  BlockArgument act, out;

  /// `v` does not depend on `act` or `out` (nor on the loop indices).
  bool independent(Value v) const {
    if (v == act || v == out)
      return false;
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != act.getOwner())
      return true; // Another block argument, or a value from above.
    if (isa<linalg::IndexOp>(def) || def->getNumRegions())
      return false;
    return llvm::all_of(def->getOperands(),
                        [&](Value o) { return independent(o); });
  }

  /// `v` = c · act for some c independent of act (f32 extensions allowed).
  bool linear(Value v) const {
    if (v == act)
      return true;
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != act.getOwner())
      return false;
    if (auto e = dyn_cast<arith::ExtFOp>(def))
      return linear(e.getIn());
    if (auto n = dyn_cast<arith::NegFOp>(def))
      return linear(n.getOperand());
    if (auto m = dyn_cast<arith::MulFOp>(def))
      return (linear(m.getLhs()) && independent(m.getRhs())) ||
             (independent(m.getLhs()) && linear(m.getRhs()));
    return false;
  }
};

/// `v` is a tensor filled with +0.0 or -0.0.
bool isZeroFilled(Value v) {
  auto fill = v.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  return matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

/// `map` over n dims without dim `dp` (the perspective), which must not
/// occur in it.
AffineMap dropPerspectiveDim(AffineMap map, unsigned dp) {
  MLIRContext *ctx = map.getContext();
  unsigned n = map.getNumDims();
  SmallVector<AffineExpr> repl;
  for (unsigned d = 0; d < n; ++d)
    repl.push_back(d < dp    ? getAffineDimExpr(d, ctx)
                   : d == dp ? getAffineConstantExpr(0, ctx)
                             : getAffineDimExpr(d - 1, ctx));
  SmallVector<AffineExpr> results;
  for (AffineExpr e : map.getResults())
    results.push_back(e.replaceDims(repl));
  return AffineMap::get(n - 1, 0, results, ctx);
}

struct MixBeforeLinear : OpRewritePattern<PerspectiveMixOp> {
  MixBeforeLinear(MLIRContext *ctx, int64_t &moves)
      : OpRewritePattern(ctx), moves(moves) {}
  int64_t &moves;

  LogicalResult matchAndRewrite(PerspectiveMixOp mix,
                                PatternRewriter &rewriter) const override {
    auto gen = mix.getInput().getDefiningOp<linalg::GenericOp>();
    if (!gen || gen->getNumResults() != 1 || gen.getNumDpsInits() != 1 ||
        !gen->getResult(0).hasOneUse())
      return rewriter.notifyMatchFailure(mix, "input is not a generic");
    MLIRContext *ctx = mix.getContext();
    unsigned n = gen.getNumLoops();
    SmallVector<utils::IteratorType> iters = gen.getIteratorTypesArray();
    // The output [t, p, n] names the loops dt, dp, dn (in any order); the
    // others must be reductions.
    OpOperand *init = gen.getDpsInitOperand(0);
    AffineMap outMap = gen.getMatchingIndexingMap(init);
    if (outMap.getNumResults() != 3 || !outMap.isProjectedPermutation())
      return rewriter.notifyMatchFailure(mix, "output is not [t, p, n]");
    unsigned dt = outMap.getDimPosition(0), dp = outMap.getDimPosition(1),
             dn = outMap.getDimPosition(2);
    for (unsigned d = 0; d < n; ++d) {
      bool out = d == dt || d == dp || d == dn;
      if (iters[d] != (out ? utils::IteratorType::parallel
                           : utils::IteratorType::reduction))
        return rewriter.notifyMatchFailure(mix, "loops are not (t, p, n, k)");
    }
    bool reduces = n > 3;
    // Exactly one input uses t or p, as [t, p, k]; the others neither.
    AffineExpr t = getAffineDimExpr(dt, ctx), p = getAffineDimExpr(dp, ctx);
    OpOperand *act = nullptr;
    for (OpOperand *in : gen.getDpsInputOperands()) {
      AffineMap m = gen.getMatchingIndexingMap(in);
      if (!m.isFunctionOfDim(dt) && !m.isFunctionOfDim(dp))
        continue;
      if (act || m.getNumResults() != 3 || m.getResult(0) != t ||
          m.getResult(1) != p || m.getResult(2).isFunctionOfDim(dt) ||
          m.getResult(2).isFunctionOfDim(dp))
        return rewriter.notifyMatchFailure(mix, "inputs are not [t, p, k]");
      act = in;
    }
    if (!act)
      return rewriter.notifyMatchFailure(mix, "no input has the perspectives");
    // Linear in the activation: a contraction into zeros, or an
    // elementwise product that ignores the output's initial value.
    Block *body = gen.getBody();
    BodyLinearity lin{body->getArgument(act->getOperandNumber()),
                      body->getArgument(init->getOperandNumber())};
    auto yield = cast<linalg::YieldOp>(body->getTerminator());
    Value y = yield.getValues()[0];
    bool ok;
    if (reduces) {
      auto add = y.getDefiningOp<arith::AddFOp>();
      ok = add && isZeroFilled(init->get()) &&
           ((add.getLhs() == lin.out && lin.linear(add.getRhs())) ||
            (add.getRhs() == lin.out && lin.linear(add.getLhs())));
    } else {
      ok = lin.out.use_empty() && lin.linear(y);
    }
    if (!ok)
      return rewriter.notifyMatchFailure(mix,
                                         "body is not linear in the input");

    // mix(act) [T, K], then the generic without the perspective loop.
    Location loc = mix.getLoc();
    auto actType = cast<RankedTensorType>(act->get().getType());
    auto mixedType =
        RankedTensorType::get({actType.getDimSize(0), actType.getDimSize(2)},
                              actType.getElementType());
    Value mixed = PerspectiveMixOp::create(rewriter, loc, mixedType, act->get(),
                                           mix.getAlpha());
    auto resultType = cast<RankedTensorType>(mix.getResult().getType());
    auto initType = cast<RankedTensorType>(init->get().getType());
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, mixed, 0),
        tensor::getMixedSize(rewriter, loc, init->get(), 2)};
    Value newInit = tensor::EmptyOp::create(rewriter, loc, sizes,
                                            initType.getElementType());
    if (reduces) {
      Value zero = init->get().getDefiningOp<linalg::FillOp>().getInputs()[0];
      newInit = linalg::FillOp::create(rewriter, loc, ValueRange{zero},
                                       ValueRange{newInit})
                    .getResult(0);
    }
    SmallVector<Value> ins;
    SmallVector<AffineMap> maps;
    for (OpOperand *in : gen.getDpsInputOperands()) {
      AffineMap m = gen.getMatchingIndexingMap(in);
      if (in == act) {
        ins.push_back(mixed);
        m = AffineMap::get(n, 0, {m.getResult(0), m.getResult(2)}, ctx);
      } else {
        ins.push_back(in->get());
      }
      maps.push_back(dropPerspectiveDim(m, dp));
    }
    maps.push_back(dropPerspectiveDim(
        AffineMap::get(n, 0, {outMap.getResult(0), outMap.getResult(2)}, ctx),
        dp));
    SmallVector<utils::IteratorType> newIters(iters);
    newIters.erase(newIters.begin() + dp);
    Type outType =
        RankedTensorType::get({mixedType.getDimSize(0), initType.getDimSize(2)},
                              initType.getElementType());
    auto moved =
        linalg::GenericOp::create(rewriter, loc, TypeRange{outType}, ins,
                                  ValueRange{newInit}, maps, newIters);
    rewriter.cloneRegionBefore(gen.getRegion(), moved.getRegion(),
                               moved.getRegion().end());
    moved->setDiscardableAttrs(gen->getDiscardableAttrDictionary());
    Value result = moved.getResult(0);
    if (result.getType() != resultType)
      result = tensor::CastOp::create(rewriter, loc, resultType, result);
    rewriter.replaceOp(mix, result);
    rewriter.eraseOp(gen);
    ++moves;
    return success();
  }
};

struct PerspectiveHeadOncePass
    : public seq::impl::SeqPerspectiveHeadOncePassBase<
          PerspectiveHeadOncePass> {
  void runOnOperation() override {
    int64_t moves = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<MixBeforeLinear>(&getContext(), moves);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numMoved += moves;
  }
};

} // namespace
