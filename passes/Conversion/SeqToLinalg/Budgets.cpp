//===- Budgets.cpp - lower seq.kv_budgets to loops
//--------------------------===//
//
// DynamicKV's cross-layer allocator as scalar loops: it runs once per
// prompt over L x H x m scores. Each re-normalization counts, per layer,
// the entries among the base*H*j largest of the layers so far (the radix
// selection of RadixSelect.h over the flattened scores, equal ones taken in
// flattened order), then replays the official arithmetic: integer
// divisions, float32 ratios, float64 sigma and CPython's float floor
// division.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Buffers.h"
#include "passes/Conversion/RadixSelect.h"
#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seq;

namespace {

class BudgetEmitter {
public:
  BudgetEmitter(ImplicitLocOpBuilder &b) : b(b) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value load(Value m, ValueRange i) { return memref::LoadOp::create(b, m, i); }
  void store(Value v, Value m, ValueRange i) {
    memref::StoreOp::create(b, v, m, i);
  }
  /// for (i = lo; i < hi; ++i) body(i).
  void loop(Value lo, Value hi, function_ref<void(Value)> body) {
    auto f = scf::ForOp::create(b, lo, hi, idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  /// The sum of memref v [0, n) (index).
  Value sum(Value v, Value n) {
    auto f = scf::ForOp::create(b, idx(0), n, idx(1), ValueRange{idx(0)});
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(f.getBody());
    scf::YieldOp::create(b, ValueRange{add(f.getRegionIterArgs()[0],
                                           load(v, f.getInductionVar()))});
    b.setInsertionPointAfter(f);
    return f.getResult(0);
  }
  Value toF64(Value i) {
    return arith::SIToFPOp::create(
        b, b.getF64Type(), arith::IndexCastOp::create(b, b.getI64Type(), i));
  }
  Value toF32(Value i) {
    return arith::SIToFPOp::create(
        b, b.getF32Type(), arith::IndexCastOp::create(b, b.getI64Type(), i));
  }
  /// int(x) of a float (truncation toward zero), as an index.
  Value truncToIndex(Value x) {
    return arith::IndexCastOp::create(
        b, b.getIndexType(), arith::FPToSIOp::create(b, b.getI64Type(), x));
  }
  /// CPython's float floor division a // s for a >= 0 and s > 0:
  /// div = (a - fmod(a, s)) / s, floor(div), plus 1 when div - floor(div)
  /// > 0.5.
  Value pyFloorDiv(Value a, Value s) {
    Value mod = arith::RemFOp::create(b, a, s);
    Value div = arith::DivFOp::create(b, arith::SubFOp::create(b, a, mod), s);
    Value fl = math::FloorOp::create(b, div);
    Value half = arith::ConstantOp::create(b, b.getF64FloatAttr(0.5));
    Value up = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT,
                                     arith::SubFOp::create(b, div, fl), half);
    Value one = arith::ConstantOp::create(b, b.getF64FloatAttr(1.0));
    return arith::SelectOp::create(b, up, arith::AddFOp::create(b, fl, one),
                                   fl);
  }

  ImplicitLocOpBuilder &b;
};

struct KVBudgetsLowering : OpConversionPattern<KVBudgetsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVBudgetsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    BudgetEmitter e(b);
    auto type = cast<RankedTensorType>(adaptor.getScores().getType());
    int64_t L = type.getDimSize(0), H = type.getDimSize(1);
    int64_t ws = op.getWindow(), base = op.getCapacity() - ws;
    int64_t interval = op.getInterval();
    Value scores = readBuffer(b, adaptor.getScores());
    Value m = memref::DimOp::create(b, scores, 2);
    auto vec = MemRefType::get({L}, b.getIndexType());
    Value held = memref::AllocOp::create(b, vec);
    // Scratch of L entries: on the stack.
    Value count = memref::AllocaOp::create(b, vec);
    Value fix = memref::AllocaOp::create(b, vec);
    // b_max = min(int(ratio_max * base), m), as Python computes it.
    int64_t first = static_cast<int64_t>(op.getRatioMax().convertToDouble() *
                                         static_cast<double>(base));
    Value bMax = e.min(e.idx(first), m);
    e.loop(e.idx(0), e.idx(L), [&](Value i) { e.store(bMax, held, i); });
    Value Hm = e.mul(e.idx(H), m);
    for (int64_t l = interval - 1; l < L; l += interval) {
      int64_t j = l + 1;
      // The base*H*j largest of layers 0 .. l, flattened (layer, head,
      // token), counted per layer.
      Value n = e.mul(e.idx(j), Hm);
      Value k = e.min(e.idx(base * H * j), n);
      auto bitsAt = [&](Value f) {
        Value layer = arith::DivUIOp::create(b, f, Hm);
        Value rest = arith::RemUIOp::create(b, f, Hm);
        Value head = arith::DivUIOp::create(b, rest, m);
        Value tok = arith::RemUIOp::create(b, rest, m);
        return orderedScoreBits(b, e.load(scores, {layer, head, tok}));
      };
      RadixSelection sel = radixSelect(b, n, k, bitsAt);
      e.loop(e.idx(0), e.idx(j), [&](Value i) { e.store(e.idx(0), count, i); });
      auto walk = scf::ForOp::create(
          b, e.idx(0), n, e.idx(1),
          ValueRange{arith::ConstantIntOp::create(b, b.getI32Type(), 0)});
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(walk.getBody());
        Value f = walk.getInductionVar();
        auto [taken, tie] =
            radixTakes(b, sel, bitsAt(f), walk.getRegionIterArgs()[0]);
        Value layer = arith::DivUIOp::create(b, f, Hm);
        Value one = arith::IndexCastOp::create(
            b, b.getIndexType(),
            arith::ExtUIOp::create(b, b.getI32Type(), taken));
        e.store(e.add(e.load(count, layer), one), count, layer);
        scf::YieldOp::create(
            b, ValueRange{arith::AddIOp::create(
                   b, walk.getRegionIterArgs()[0],
                   arith::ExtUIOp::create(b, b.getI32Type(), tie))});
      }
      // c_i // j.
      e.loop(e.idx(0), e.idx(j), [&](Value i) {
        e.store(arith::DivUIOp::create(b, e.load(count, i), e.idx(j)), count,
                i);
      });
      if (l == L - 1) {
        // At the model's last layer, the fix-up of the last count.
        Value total = e.sum(count, e.idx(j));
        Value off =
            arith::CmpIOp::create(b, arith::CmpIPredicate::ne, total, Hm);
        Value last = e.idx(j - 1);
        Value fixed =
            e.sub(e.add(e.load(count, last), e.idx(base * H * j / L)), total);
        e.store(arith::SelectOp::create(b, off, fixed, e.load(count, last)),
                count, last);
      }
      Value total = e.toF32(e.sum(count, e.idx(j)));
      Value bMaxF = e.toF32(bMax);
      e.loop(e.idx(0), e.idx(j), [&](Value i) {
        Value rho = arith::DivFOp::create(b, e.toF32(e.load(count, i)), total);
        e.store(e.truncToIndex(arith::MulFOp::create(b, bMaxF, rho)), fix, i);
      });
      int64_t need = base * L;
      Value sigma = arith::DivFOp::create(b, e.toF64(e.sum(fix, e.idx(j))),
                                          e.toF64(e.idx(need)));
      // A sigma of 0 (every budget rounds to zero) leaves the budgets as
      // they are (the official code would divide by zero).
      Value usable = arith::CmpFOp::create(
          b, arith::CmpFPredicate::OGT, sigma,
          arith::ConstantOp::create(b, b.getF64FloatAttr(0.0)));
      auto ifOp = scf::IfOp::create(b, usable, /*withElseRegion=*/false);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        e.loop(e.idx(0), e.idx(j), [&](Value i) {
          e.store(e.truncToIndex(e.pyFloorDiv(e.toF64(e.load(fix, i)), sigma)),
                  fix, i);
        });
        Value last = e.idx(j - 1);
        e.store(
            e.sub(e.add(e.load(fix, last), e.idx(need)), e.sum(fix, e.idx(j))),
            fix, last);
        // A budget never grows back.
        e.loop(e.idx(0), e.idx(j), [&](Value i) {
          Value bi =
              arith::MaxSIOp::create(b, e.min(e.load(fix, i), m), e.idx(0));
          e.store(e.min(bi, e.load(held, i)), held, i);
        });
      }
    }
    // The window is kept too.
    e.loop(e.idx(0), e.idx(L), [&](Value i) {
      e.store(e.add(e.load(held, i), e.idx(ws)), held, i);
    });
    Value result = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({L}, b.getIndexType()), held,
        /*restrict=*/true, /*writable=*/true);
    if (result.getType() != op.getType())
      result = tensor::CastOp::create(b, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::seq::tolinalg::addKVBudgetsLowering(RewritePatternSet &patterns) {
  patterns.add<KVBudgetsLowering>(patterns.getContext());
}
