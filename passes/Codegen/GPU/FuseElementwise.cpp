//===- FuseElementwise.cpp - elementwise fusion that stops at products ----===//
//
// Described in Passes.td (seq-gpu-fuse-elementwise).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUFUSEELEMENTWISEPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// linalg-fuse-elementwise-ops, but never into a product (an op with a
/// reduction): the producer would be recomputed for every output element.
struct GPUFuseElementwisePass
    : public seq::impl::SeqGPUFuseElementwisePassBase<GPUFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(
        patterns, [](OpOperand *fused) {
          auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
          Operation *producer = fused->get().getDefiningOp();
          // A producer that reads nothing (a broadcast scalar, such as a
          // KV cache's position) is fused into every consumer: it costs
          // nothing to recompute, and its buffer would be one of index
          // elements, whose size is the target's.
          auto generator = dyn_cast_or_null<linalg::LinalgOp>(producer);
          bool free = generator && generator.getNumDpsInputs() == 0;
          return consumer && producer && (producer->hasOneUse() || free) &&
                 consumer.getNumReductionLoops() == 0;
        });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
