//===- F64Math.cpp - f64 exp, sin and cos in f64 arithmetic ---------------===//
//
// Described in Passes.td (seq-gpu-expand-f64-math).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUEXPANDF64MATHPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// f64 arithmetic at one location.
struct F64 {
  OpBuilder &b;
  Location loc;
  Value c(double v) {
    return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value i64(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  }
  Value toI64(Value x) {
    return arith::FPToSIOp::create(b, loc, b.getI64Type(), x);
  }
  /// The nearest integer (ties away from zero; any tie rule would do).
  Value round(Value x) { return math::RoundOp::create(b, loc, x); }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  /// sum of coefficients[i] * x^i, by Horner's rule.
  Value poly(Value x, ArrayRef<double> coefficients) {
    Value acc = c(coefficients.back());
    for (double k : llvm::reverse(coefficients.drop_back()))
      acc = add(mul(acc, x), c(k));
    return acc;
  }
  /// 1/i! (sign (-1)^(i/2) with `alternate`) for the terms from `first`
  /// in steps of two, up to `last`: the Taylor coefficients of sin or cos.
  static SmallVector<double> taylor(int first, int last, bool alternate) {
    SmallVector<double> out;
    double factorial = 1.0;
    for (int i = 1; i <= first; ++i)
      factorial *= i;
    for (int i = first, sign = 1; i <= last; i += 2, sign = -sign) {
      out.push_back((alternate ? sign : 1) / factorial);
      factorial *= (i + 1.0) * (i + 2.0);
    }
    return out;
  }
};

/// exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 (in two parts,
/// so r is exact), |r| <= ln(2)/2: a degree-14 Taylor polynomial (error
/// below 1e-18 relative), then 2^k built as the bits of a double. k is
/// clamped to the normal range: exp of x below -708 or above 709 is not
/// the IEEE result (0 or inf) but a finite bound.
Value expandExp(F64 &f, Value x) {
  Value k = f.round(f.mul(x, f.c(1.4426950408889634)));
  k = arith::MaximumFOp::create(f.b, f.loc, k, f.c(-1022.0));
  k = arith::MinimumFOp::create(f.b, f.loc, k, f.c(1023.0));
  Value r = f.sub(f.sub(x, f.mul(k, f.c(6.93147180369123816490e-01))),
                  f.mul(k, f.c(1.90821492927058770002e-10)));
  SmallVector<double> coefficients;
  double factorial = 1.0;
  for (int i = 0; i <= 14; ++i) {
    if (i)
      factorial *= i;
    coefficients.push_back(1.0 / factorial);
  }
  Value bits = arith::AddIOp::create(f.b, f.loc, f.toI64(k), f.i64(1023));
  bits = arith::ShLIOp::create(f.b, f.loc, bits, f.i64(52));
  Value scale = arith::BitcastOp::create(f.b, f.loc, f.b.getF64Type(), bits);
  return f.mul(f.poly(r, coefficients), scale);
}

/// sin and cos: x = k pi/2 + r, k = round(x 2/pi), r by Cody and Waite's
/// reduction with pi/2 in three parts of 33 bits (r keeps full precision
/// while k < 2^20, |x| < 1.6e6), |r| <= pi/4: Taylor polynomials to degree
/// 19 and 20 (error below 1e-17), then the quadrant k mod 4 picks sin or
/// cos of r and the sign.
template <bool isSin> Value expandSinCos(F64 &f, Value x) {
  Value k = f.round(f.mul(x, f.c(6.36619772367581382433e-01)));
  Value r = f.sub(x, f.mul(k, f.c(1.57079632673412561417e+00)));
  r = f.sub(r, f.mul(k, f.c(6.07710050630396597660e-11)));
  r = f.sub(r, f.mul(k, f.c(2.02226624871116645580e-21)));
  Value r2 = f.mul(r, r);
  Value s = f.mul(r, f.poly(r2, F64::taylor(1, 19, true)));
  Value c = f.poly(r2, F64::taylor(0, 20, true));
  // The quadrant: k mod 4, in 0..3.
  Value q = arith::AndIOp::create(f.b, f.loc, f.toI64(k), f.i64(3));
  auto is = [&](int64_t n) {
    return arith::CmpIOp::create(f.b, f.loc, arith::CmpIPredicate::eq, q,
                                 f.i64(n));
  };
  // sin(x) by quadrant: s, c, -s, -c; cos(x): c, -s, -c, s.
  Value first = isSin ? s : c, second = isSin ? c : f.neg(s);
  return f.select(
      is(0), first,
      f.select(is(1), second, f.select(is(2), f.neg(first), f.neg(second))));
}

/// `Op` on f64 replaced by `expand` of its operand.
template <typename Op, Value (*expand)(F64 &, Value)>
struct ExpandF64 : OpRewritePattern<Op> {
  using OpRewritePattern<Op>::OpRewritePattern;
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF64())
      return failure();
    F64 f{rewriter, op.getLoc()};
    rewriter.replaceOp(op, expand(f, op.getOperand()));
    return success();
  }
};

struct GPUExpandF64MathPass
    : public seq::impl::SeqGPUExpandF64MathPassBase<GPUExpandF64MathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandF64<math::ExpOp, expandExp>,
                 ExpandF64<math::SinOp, expandSinCos<true>>,
                 ExpandF64<math::CosOp, expandSinCos<false>>>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // What is left has no f64 expansion here.
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (op->getDialect() &&
          op->getDialect()->getNamespace() ==
              math::MathDialect::getDialectNamespace() &&
          llvm::any_of(
              op->getResultTypes(),
              [](Type t) { return getElementTypeOrSelf(t).isF64(); }) &&
          !isa<math::FloorOp, math::CeilOp, math::RoundOp, math::AbsFOp,
               math::FmaOp, math::SqrtOp>(op)) {
        op->emitError("'") << op->getName()
                           << "' on f64 has no SPIR-V instruction and no "
                              "expansion in f64 arithmetic (exp, sin and cos "
                              "have one)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
