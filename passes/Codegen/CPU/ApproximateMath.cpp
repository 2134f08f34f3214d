//===- ApproximateMath.cpp - exp and tanh as polynomials on the CPU -------===//
//
// math.exp and math.tanh on f32 become MLIR's polynomial approximations, so
// that the loops computing them vectorize: the LLVM lowering otherwise calls
// libm once per element (expf, tanhf), and a loop with a call stays scalar.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQAPPROXIMATEMATHPASS
#include "passes/Codegen/CPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {
struct SeqApproximateMathPass
    : public seq::impl::SeqApproximateMathPassBase<SeqApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return name == math::ExpOp::getOperationName() ||
             name == math::TanhOp::getOperationName();
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
