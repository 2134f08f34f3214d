//===- ParallelizeProducts.cpp - marked linalg products to scf.parallel ---===//

#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQPARALLELIZEPRODUCTS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {
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
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op.emitOpError("could not be lowered to parallel loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
