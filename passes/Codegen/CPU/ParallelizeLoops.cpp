//===- ParallelizeLoops.cpp - marked scf.for loops to scf.parallel --------===//

#include "passes/Codegen/CPU/Passes.h"

#include "dialects/Seq/IR/SeqDialect.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQPARALLELIZELOOPSPASS
#include "passes/Codegen/CPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {
struct SeqParallelizeLoopsPass
    : public seq::impl::SeqParallelizeLoopsPassBase<SeqParallelizeLoopsPass> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    seq::SeqDialect::ParallelAttrHelper parallel(&getContext());
    getOperation().walk([&](scf::ForOp op) {
      if (parallel.isAttrPresent(op) && op.getNumResults() == 0)
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
