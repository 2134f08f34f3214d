//===- ParallelizeProducts.cpp - marked linalg products to scf.parallel ---===//

#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQPARALLELIZEPRODUCTS
#define GEN_PASS_DEF_SEQPARALLELIZELOOPS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// `op` as an scf.parallel over its parallel loops with the trailing
/// reduction as an inner scf.for that carries the accumulator in a register
/// (loaded from the output once, stored once): the outlined parallel body
/// then vectorizes its dot product, which an accumulator kept in memory
/// prevents. Fails (leaving `op`) unless the iterators are parallel loops
/// then one reduction, the single output does not depend on the reduction
/// and every indexing map is a projected permutation.
static LogicalResult toParallelReduction(RewriterBase &rewriter,
                                         linalg::GenericOp op) {
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  unsigned nLoops = iters.size();
  if (nLoops < 2 || iters.back() != utils::IteratorType::reduction ||
      op.getNumDpsInits() != 1)
    return failure();
  for (unsigned i = 0; i + 1 < nLoops; ++i)
    if (iters[i] != utils::IteratorType::parallel)
      return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap m : maps)
    if (!m.isProjectedPermutation())
      return failure();
  if (maps.back().isFunctionOfDim(nLoops - 1))
    return failure();

  Location loc = op.getLoc();
  SmallVector<Range, 4> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(rewriter, loc);
  auto value = [&](OpFoldResult r) {
    return getValueOrCreateConstantIndexOp(rewriter, loc, r);
  };
  SmallVector<Value> lbs, ubs, steps;
  for (unsigned i = 0; i + 1 < nLoops; ++i) {
    lbs.push_back(value(ranges[i].offset));
    ubs.push_back(value(ranges[i].size));
    steps.push_back(value(ranges[i].stride));
  }
  auto indices = [&](AffineMap m, ValueRange ivs) {
    SmallVector<Value> idx;
    for (AffineExpr e : m.getResults())
      idx.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
    return idx;
  };
  Value out = op.getDpsInits()[0];
  Block *body = op.getBody();
  scf::ParallelOp::create(
      rewriter, loc, lbs, ubs, steps,
      [&](OpBuilder &b, Location l, ValueRange par) {
        SmallVector<Value> outIvs(par.begin(), par.end());
        outIvs.push_back(Value()); // the reduction index: unused
        Value init =
            memref::LoadOp::create(b, l, out, indices(maps.back(), outIvs));
        auto red = scf::ForOp::create(
            b, l, value(ranges.back().offset), value(ranges.back().size),
            value(ranges.back().stride), ValueRange{init},
            [&](OpBuilder &fb, Location fl, Value k, ValueRange acc) {
              SmallVector<Value> ivs(par.begin(), par.end());
              ivs.push_back(k);
              IRMapping map;
              for (OpOperand *in : op.getDpsInputOperands())
                map.map(body->getArgument(in->getOperandNumber()),
                        memref::LoadOp::create(
                            fb, fl, in->get(),
                            indices(maps[in->getOperandNumber()], ivs)));
              map.map(body->getArguments().back(), acc[0]);
              for (Operation &inner : body->without_terminator())
                fb.clone(inner, map);
              Value result = map.lookupOrDefault(
                  cast<linalg::YieldOp>(body->getTerminator()).getOperand(0));
              scf::YieldOp::create(fb, fl, result);
            });
        memref::StoreOp::create(b, l, red.getResult(0), out,
                                indices(maps.back(), outIvs));
      });
  return success();
}

struct SeqParallelizeProductsPass
    : public seq::impl::SeqParallelizeProductsBase<SeqParallelizeProductsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> products;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op->hasAttr("seq.parallel") || !op.hasPureBufferSemantics())
        return;
      // A single-token product (decode) stays on one thread unless its
      // weight is large: measured on 2 cores, task dispatch costs more than
      // the second core gains for small weights.
      auto x = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
      if (x && x.getRank() == 2 && x.getDimSize(0) == 1) {
        auto w = op.getDpsInputs().size() > 1
                     ? dyn_cast<MemRefType>(op.getDpsInputs()[1].getType())
                     : MemRefType();
        if (minDecodeElements <= 0 || !w || !w.hasStaticShape() ||
            w.getNumElements() < minDecodeElements)
          return;
      }
      products.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : products) {
      rewriter.setInsertionPoint(op);
      if (failed(toParallelReduction(rewriter, op)) &&
          failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op.emitOpError("could not be lowered to parallel loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};
struct SeqParallelizeLoopsPass
    : public seq::impl::SeqParallelizeLoopsBase<SeqParallelizeLoopsPass> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp op) {
      if (op->hasAttr("seq.parallel") && op.getNumResults() == 0)
        loops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForOp op : loops) {
      rewriter.setInsertionPoint(op);
      auto par = scf::ParallelOp::create(
          rewriter, op.getLoc(), ValueRange{op.getLowerBound()},
          ValueRange{op.getUpperBound()}, ValueRange{op.getStep()});
      Block *body = op.getBody();
      rewriter.eraseOp(body->getTerminator());
      rewriter.inlineBlockBefore(body, par.getBody()->getTerminator(),
                                 par.getInductionVars());
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
