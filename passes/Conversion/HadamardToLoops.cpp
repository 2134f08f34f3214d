//===- HadamardToLoops.cpp - seq.hadamard as a fast Walsh–Hadamard transform
//-===//
//
// H = H_{2^k} ⊗ H_m: channel i = p·m + r of a block. The base factor H_m
// (m > 1, Paley) is a small dense product over r; the power of two is the
// in-place butterfly over p (k stages of a + b, a - b), O(n log n).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seq {
#define GEN_PASS_DEF_CONVERTSEQHADAMARDTOLOOPS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

struct ConvertSeqHadamardToLoopsPass
    : mlir::seq::impl::ConvertSeqHadamardToLoopsBase<
          ConvertSeqHadamardToLoopsPass> {
  void runOnOperation() override {
    SmallVector<HadamardOp> ops;
    getOperation()->walk([&](HadamardOp op) { ops.push_back(op); });
    for (HadamardOp op : ops)
      lower(op);
  }

  static void lower(HadamardOp op) {
    ImplicitLocOpBuilder b(op.getLoc(), op);
    auto type = cast<RankedTensorType>(op.getInput().getType());
    Type elt = type.getElementType(), f32 = b.getF32Type();
    int64_t rank = type.getRank(), last = type.getShape().back();
    int64_t n = op.getBlockOrder();
    seqc::HadamardFactorization f = *seqc::factorizeHadamardOrder(n);
    int64_t m = f.baseOrder, P = n / m;
    auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
    auto toF32 = [&](Value v) {
      return v.getType() == f32 ? v : arith::ExtFOp::create(b, f32, v);
    };

    int64_t dyn = ShapedType::kDynamic;
    auto inType = MemRefType::get(
        type.getShape(), elt,
        StridedLayoutAttr::get(b.getContext(), dyn,
                               SmallVector<int64_t>(rank, dyn)));
    Value in = bufferization::ToBufferOp::create(b, inType, op.getInput(),
                                                 /*read_only=*/true);
    SmallVector<Value> dynSizes, ubs;
    for (int64_t d = 0; d < rank; ++d) {
      Value size = memref::DimOp::create(b, in, d);
      ubs.push_back(size);
      if (type.isDynamicDim(d))
        dynSizes.push_back(size);
    }
    Value out = memref::AllocOp::create(
        b, MemRefType::get(type.getShape(), elt), dynSizes);
    Value row = memref::AllocOp::create(b, MemRefType::get({n}, f32));
    Value tmp, base;
    if (m > 1) {
      tmp = memref::AllocOp::create(b, MemRefType::get({m}, f32));
      std::vector<int8_t> hm = seqc::buildHadamardBase(f);
      SmallVector<float> values;
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < m; ++j)
          values.push_back(op.getTranspose() ? hm[j * m + r] : hm[r * m + j]);
      auto constType = RankedTensorType::get({m, m}, f32);
      Value cst = arith::ConstantOp::create(
          b, DenseElementsAttr::get(constType, ArrayRef<float>(values)));
      base = bufferization::ToBufferOp::create(b, MemRefType::get({m, m}, f32),
                                               cst, /*read_only=*/true);
    }
    float scale = op.getNormalized() ? 1.0f / std::sqrt(float(n)) : 1.0f;
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(scale));

    // Loops over the leading dimensions and the blocks of the last one.
    SmallVector<Value> ivs;
    std::function<void(int64_t)> nest = [&](int64_t d) {
      Value ub = d < rank - 1 ? ubs[d] : idx(last / n);
      auto forOp = scf::ForOp::create(b, idx(0), ub, idx(1));
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(forOp.getBody());
      ivs.push_back(forOp.getInductionVar());
      if (d < rank - 1) {
        nest(d + 1);
      } else {
        Value start = arith::MulIOp::create(b, ivs.back(), idx(n));
        auto at = [&](Value i) {
          SmallVector<Value> index(ivs.begin(), ivs.end() - 1);
          index.push_back(arith::AddIOp::create(b, start, i));
          return index;
        };
        auto loop = [&](Value lo, Value hi, Value step,
                        function_ref<void(Value)> body) {
          auto l = scf::ForOp::create(b, lo, hi, step);
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(l.getBody());
          body(l.getInductionVar());
        };
        loop(idx(0), idx(n), idx(1), [&](Value i) {
          Value x = memref::LoadOp::create(b, in, at(i));
          memref::StoreOp::create(b, toF32(x), row, ValueRange{i});
        });
        // Base factor: row[p·m + r] = sum_j B[r][j] row[p·m + j].
        if (m > 1)
          loop(idx(0), idx(P), idx(1), [&](Value p) {
            Value off = arith::MulIOp::create(b, p, idx(m));
            loop(idx(0), idx(m), idx(1), [&](Value r) {
              auto sum =
                  scf::ForOp::create(b, idx(0), idx(m), idx(1),
                                     ValueRange{arith::ConstantOp::create(
                                         b, b.getF32FloatAttr(0.0f))});
              {
                OpBuilder::InsertionGuard g2(b);
                b.setInsertionPointToStart(sum.getBody());
                Value j = sum.getInductionVar();
                Value h = memref::LoadOp::create(b, base, ValueRange{r, j});
                Value x = memref::LoadOp::create(
                    b, row, ValueRange{arith::AddIOp::create(b, off, j)});
                scf::YieldOp::create(b, ValueRange{arith::AddFOp::create(
                                            b, sum.getRegionIterArgs()[0],
                                            arith::MulFOp::create(b, h, x))});
              }
              memref::StoreOp::create(b, sum.getResult(0), tmp, ValueRange{r});
            });
            loop(idx(0), idx(m), idx(1), [&](Value r) {
              Value v = memref::LoadOp::create(b, tmp, ValueRange{r});
              memref::StoreOp::create(
                  b, v, row, ValueRange{arith::AddIOp::create(b, off, r)});
            });
          });
        // Butterflies over p, stride m: k stages, unrolled.
        for (int64_t h = 1; h < P; h *= 2) {
          loop(idx(0), idx(P), idx(2 * h), [&](Value i) {
            loop(idx(0), idx(h * m), idx(1), [&](Value j) {
              Value lo = arith::AddIOp::create(
                  b, arith::MulIOp::create(b, i, idx(m)), j);
              Value hi = arith::AddIOp::create(b, lo, idx(h * m));
              Value a = memref::LoadOp::create(b, row, ValueRange{lo});
              Value d = memref::LoadOp::create(b, row, ValueRange{hi});
              memref::StoreOp::create(b, arith::AddFOp::create(b, a, d), row,
                                      ValueRange{lo});
              memref::StoreOp::create(b, arith::SubFOp::create(b, a, d), row,
                                      ValueRange{hi});
            });
          });
        }
        loop(idx(0), idx(n), idx(1), [&](Value i) {
          Value v = memref::LoadOp::create(b, row, ValueRange{i});
          v = arith::MulFOp::create(b, v, c);
          if (elt != f32)
            v = arith::TruncFOp::create(b, elt, v);
          memref::StoreOp::create(b, v, out, at(i));
        });
      }
      ivs.pop_back();
    };
    nest(0);
    Value result = bufferization::ToTensorOp::create(
        b, type, out, /*restrict=*/true, /*writable=*/true);
    op.getOutput().replaceAllUsesWith(result);
    op.erase();
  }
};

} // namespace
