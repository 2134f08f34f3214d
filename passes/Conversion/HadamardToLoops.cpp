//===- HadamardToLoops.cpp - seq.hadamard as a fast Walsh–Hadamard transform
//-===//
//
// H = H_{2^k} ⊗ H_m: channel i = p·m + r of a block. The base factor H_m
// (m > 1, Paley) is a small dense product over r; the power of two is the
// in-place butterfly over p (k stages of a + b, a - b), O(n log n).
//
// Power-of-two blocks of up to kMaxVectorOrder channels are transformed in
// registers: the block is one vector; a stage whose partners sit in one
// SIMD register is a shuffle that swaps them and a multiply-add by ±1, a
// stage between whole registers an add and a subtract (see butterflies()).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HadamardRow.h"
#include "passes/Conversion/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::seq {
#define GEN_PASS_DEF_CONVERTSEQHADAMARDTOLOOPSPASS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

/// Largest power-of-two block transformed as one vector.
constexpr int64_t kMaxVectorOrder = 256;
/// f32 lanes of a SIMD register (AVX2): butterfly partners this far apart
/// or farther sit in different registers.
constexpr int64_t kRegisterLanes = 8;

/// The butterflies of a power-of-two block `v` (vector<n x f32>). Stage h
/// maps v[j] to v[j] + v[j + h] (bit h of j clear) or v[j - h] - v[j] (set).
/// Partners at least a register apart (h >= kRegisterLanes): the a and b
/// halves (whole registers, which costs LLVM nothing to select), a + b and
/// a - b, and the interleave back. Nearer partners: one in-register shuffle
/// that swaps each element with its partner j ^ h and one multiply-add,
/// v·s + swapped with s = ±1 by bit h (exact: the product by ±1 rounds
/// nothing). The stages commute; the widest go first.
static Value butterflies(ImplicitLocOpBuilder &b, Value v, int64_t n) {
  auto type = cast<VectorType>(v.getType());
  auto fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                          arith::FastMathFlags::contract);
  // The stages commute (each is H_2 on one bit of the index): whole
  // registers first, then in-register partners, so that each register is
  // finished (and stored) by a short chain at the end.
  for (int64_t h = n / 2; h >= 1; h /= 2) {
    if (h >= kRegisterLanes) {
      // Whole registers: the a and b halves, a + b and a - b, and back.
      SmallVector<int64_t> lo, hi, back(n);
      for (int64_t i = 0; i < n; ++i)
        if ((i & h) == 0) {
          back[i] = lo.size();
          back[i + h] = n / 2 + lo.size();
          lo.push_back(i);
          hi.push_back(i + h);
        }
      Value a = vector::ShuffleOp::create(b, v, v, lo);
      Value d = vector::ShuffleOp::create(b, v, v, hi);
      Value sum = arith::AddFOp::create(b, a, d);
      Value diff = arith::SubFOp::create(b, a, d);
      v = vector::ShuffleOp::create(b, sum, diff, back);
      continue;
    }
    SmallVector<int64_t> partner(n);
    SmallVector<float> sign(n);
    for (int64_t j = 0; j < n; ++j) {
      partner[j] = j ^ h;
      sign[j] = (j & h) ? -1.0f : 1.0f;
    }
    Value swapped = vector::ShuffleOp::create(b, v, v, partner);
    Value s = arith::ConstantOp::create(
        b, type, DenseElementsAttr::get(type, ArrayRef<float>(sign)));
    v = arith::AddFOp::create(b, arith::MulFOp::create(b, v, s, fm), swapped,
                              fm);
  }
  return v;
}

} // namespace

void mlir::seq::emitRowHadamard(ImplicitLocOpBuilder &b, Value row, int64_t n,
                                bool transpose, bool normalized, Value tmp) {
  seqc::HadamardFactorization f = *seqc::factorizeHadamardOrder(n);
  int64_t m = f.baseOrder, P = n / m;
  Type f32 = b.getF32Type();
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  float scale = normalized ? 1.0f / std::sqrt(float(n)) : 1.0f;
  if (m == 1 && n <= kMaxVectorOrder) {
    auto vType = VectorType::get({n}, f32);
    Value v = vector::LoadOp::create(b, vType, row, ValueRange{idx(0)});
    v = butterflies(b, v, n);
    if (normalized)
      v = arith::MulFOp::create(
          b, v,
          vector::BroadcastOp::create(
              b, vType,
              arith::ConstantOp::create(b, b.getF32FloatAttr(scale))));
    vector::StoreOp::create(b, v, row, ValueRange{idx(0)});
    return;
  }
  auto loop = [&](Value lo, Value hi, Value step,
                  function_ref<void(Value)> body) {
    auto l = scf::ForOp::create(b, lo, hi, step);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(l.getBody());
    body(l.getInductionVar());
  };
  // Base factor: row[p·m + r] = sum_j B[r][j] row[p·m + j].
  if (m > 1) {
    std::vector<int8_t> hm = seqc::buildHadamardBase(f);
    SmallVector<float> values;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < m; ++j)
        values.push_back(transpose ? hm[j * m + r] : hm[r * m + j]);
    auto constType = RankedTensorType::get({m, m}, f32);
    Value cst = arith::ConstantOp::create(
        b, DenseElementsAttr::get(constType, ArrayRef<float>(values)));
    Value base = bufferization::ToBufferOp::create(
        b, MemRefType::get({m, m}, f32), cst, /*read_only=*/true);
    Value pLo = idx(0);
    Value pHi = idx(P);
    Value pStep = idx(1);
    loop(pLo, pHi, pStep, [&](Value p) {
      Value off = arith::MulIOp::create(b, p, idx(m));
      Value rLo = idx(0);
      Value rHi = idx(m);
      Value rStep = idx(1);
      loop(rLo, rHi, rStep, [&](Value r) {
        Value jLo = idx(0);
        Value jHi = idx(m);
        Value jStep = idx(1);
        auto sum = scf::ForOp::create(
            b, jLo, jHi, jStep,
            ValueRange{arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f))});
        {
          OpBuilder::InsertionGuard g(b);
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
      Value cLo = idx(0);
      Value cHi = idx(m);
      Value cStep = idx(1);
      loop(cLo, cHi, cStep, [&](Value r) {
        Value v = memref::LoadOp::create(b, tmp, ValueRange{r});
        memref::StoreOp::create(b, v, row,
                                ValueRange{arith::AddIOp::create(b, off, r)});
      });
    });
  }
  // Butterflies over p, stride m: k stages, unrolled.
  for (int64_t h = 1; h < P; h *= 2) {
    Value iLo = idx(0);
    Value iHi = idx(P);
    Value iStep = idx(2 * h);
    loop(iLo, iHi, iStep, [&](Value i) {
      Value jLo = idx(0);
      Value jHi = idx(h * m);
      Value jStep = idx(1);
      loop(jLo, jHi, jStep, [&](Value j) {
        Value lo =
            arith::AddIOp::create(b, arith::MulIOp::create(b, i, idx(m)), j);
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
  if (normalized) {
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(scale));
    Value lo = idx(0);
    Value hi = idx(n);
    Value step = idx(1);
    loop(lo, hi, step, [&](Value i) {
      Value v = memref::LoadOp::create(b, row, ValueRange{i});
      memref::StoreOp::create(b, arith::MulFOp::create(b, v, c), row,
                              ValueRange{i});
    });
  }
}

namespace {

/// seq.hadamard: loops over the blocks of its input, each transformed in
/// registers or in a scratch row, into a tensor carried through the loops.
struct HadamardLowering : OpConversionPattern<HadamardOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value input = adaptor.getInput();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    Type elt = type.getElementType(), f32 = b.getF32Type();
    int64_t rank = type.getRank(), last = type.getShape().back();
    int64_t n = op.getBlockOrder();
    seqc::HadamardFactorization f = *seqc::factorizeHadamardOrder(n);
    int64_t m = f.baseOrder;
    auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
    auto toF32 = [&](Value v) {
      return v.getType() == f32 ? v : arith::ExtFOp::create(b, f32, v);
    };

    bool inRegisters = m == 1 && n <= kMaxVectorOrder;
    int64_t dyn = ShapedType::kDynamic;
    auto inType = MemRefType::get(
        type.getShape(), elt,
        StridedLayoutAttr::get(b.getContext(), dyn,
                               SmallVector<int64_t>(rank, dyn)));
    Value in = bufferization::ToBufferOp::create(b, inType, input,
                                                 /*read_only=*/true);
    SmallVector<Value> dynSizes, ubs;
    for (int64_t d = 0; d < rank; ++d) {
      Value size = memref::DimOp::create(b, in, d);
      ubs.push_back(size);
      if (type.isDynamicDim(d))
        dynSizes.push_back(size);
    }
    // The result is built in a tensor carried through the loops (written
    // with vector.transfer_write / tensor.insert), so that bufferization
    // writes it in place, e.g. straight into the caller's buffer after
    // eliminate-empty-tensors.
    Value init = tensor::EmptyOp::create(b, type.getShape(), elt, dynSizes);
    Value row = memref::AllocOp::create(
        b, MemRefType::get({n}, inRegisters ? elt : f32));
    // The vector form loads a block straight from the input when its last
    // stride is 1 (the usual case), else through the scratch row.
    Value unitStride, baseBuffer, offset;
    SmallVector<Value> strides;
    if (inRegisters) {
      auto meta = memref::ExtractStridedMetadataOp::create(b, in);
      baseBuffer = meta.getBaseBuffer();
      offset = meta.getOffset();
      strides.assign(meta.getStrides().begin(), meta.getStrides().end());
      unitStride = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                         strides.back(), idx(1));
    }
    // The base factor's scratch (Paley orders).
    Value tmp;
    if (m > 1)
      tmp = memref::AllocOp::create(b, MemRefType::get({m}, f32));
    float scale = op.getNormalized() ? 1.0f / std::sqrt(float(n)) : 1.0f;
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(scale));

    // Loops over the leading dimensions and the blocks of the last one,
    // carrying the result tensor.
    SmallVector<Value> ivs;
    std::function<Value(int64_t, Value)> nest = [&](int64_t d,
                                                    Value out) -> Value {
      Value ub = d < rank - 1 ? ubs[d] : idx(last / n);
      Value lo = idx(0);
      Value step = idx(1);
      auto forOp = scf::ForOp::create(b, lo, ub, step, ValueRange{out});
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(forOp.getBody());
      ivs.push_back(forOp.getInductionVar());
      out = forOp.getRegionIterArgs()[0];
      if (d < rank - 1) {
        scf::YieldOp::create(b, nest(d + 1, out));
      } else {
        Value start = arith::MulIOp::create(b, ivs.back(), idx(n));
        auto at = [&](Value i) {
          SmallVector<Value> index(ivs.begin(), ivs.end() - 1);
          index.push_back(arith::AddIOp::create(b, start, i));
          return index;
        };
        if (inRegisters) {
          auto vType = VectorType::get({n}, elt);
          auto ifOp = scf::IfOp::create(b, TypeRange{vType}, unitStride,
                                        /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard g2(b);
            b.setInsertionPointToStart(&ifOp.getThenRegion().front());
            // offset + sum_d index_d * stride_d, the last stride being 1.
            SmallVector<Value> index = at(idx(0));
            Value off = offset;
            for (int64_t d = 0; d < rank; ++d)
              off = arith::AddIOp::create(
                  b, off,
                  d < rank - 1 ? arith::MulIOp::create(b, index[d], strides[d])
                                     .getResult()
                               : index[d]);
            auto viewType = MemRefType::get(
                {n}, elt,
                StridedLayoutAttr::get(b.getContext(), dyn, {int64_t(1)}));
            Value view = memref::ReinterpretCastOp::create(
                b, viewType, baseBuffer, off,
                ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
                ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
            scf::YieldOp::create(
                b, vector::LoadOp::create(b, vType, view, ValueRange{idx(0)})
                       .getResult());
            b.setInsertionPointToStart(&ifOp.getElseRegion().front());
            Value cLo = idx(0);
            Value cHi = idx(n);
            Value cStep = idx(1);
            auto copy = scf::ForOp::create(b, cLo, cHi, cStep);
            {
              OpBuilder::InsertionGuard g3(b);
              b.setInsertionPointToStart(copy.getBody());
              Value i = copy.getInductionVar();
              memref::StoreOp::create(b, memref::LoadOp::create(b, in, at(i)),
                                      row, ValueRange{i});
            }
            scf::YieldOp::create(
                b, vector::LoadOp::create(b, vType, row, ValueRange{idx(0)})
                       .getResult());
          }
          Value v = ifOp.getResult(0);
          auto vf32 = VectorType::get({n}, f32);
          if (elt != f32)
            v = arith::ExtFOp::create(b, vf32, v);
          v = butterflies(b, v, n);
          v = arith::MulFOp::create(b, v,
                                    vector::BroadcastOp::create(b, vf32, c));
          if (elt != f32)
            v = arith::TruncFOp::create(b, VectorType::get({n}, elt), v);
          scf::YieldOp::create(
              b, vector::TransferWriteOp::create(b, v, out, at(idx(0)),
                                                 ArrayRef<bool>{true})
                     .getResult());
          ivs.pop_back();
          return forOp.getResult(0);
        }
        Value iLo = idx(0);
        Value iHi = idx(n);
        Value iStep = idx(1);
        auto copyIn = scf::ForOp::create(b, iLo, iHi, iStep);
        {
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(copyIn.getBody());
          Value i = copyIn.getInductionVar();
          Value x = memref::LoadOp::create(b, in, at(i));
          memref::StoreOp::create(b, toF32(x), row, ValueRange{i});
        }
        emitRowHadamard(b, row, n, op.getTranspose(), op.getNormalized(), tmp);
        Value sLo = idx(0);
        Value sHi = idx(n);
        Value sStep = idx(1);
        auto store = scf::ForOp::create(b, sLo, sHi, sStep, ValueRange{out});
        {
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(store.getBody());
          Value i = store.getInductionVar();
          Value v = memref::LoadOp::create(b, row, ValueRange{i});
          if (elt != f32)
            v = arith::TruncFOp::create(b, elt, v);
          scf::YieldOp::create(b, tensor::InsertOp::create(
                                      b, v, store.getRegionIterArgs()[0], at(i))
                                      .getResult());
        }
        scf::YieldOp::create(b, store.getResult(0));
      }
      ivs.pop_back();
      return forOp.getResult(0);
    };
    rewriter.replaceOp(op, nest(0, init));
    return success();
  }
};

struct ConvertSeqHadamardToLoopsPass
    : mlir::seq::impl::ConvertSeqHadamardToLoopsPassBase<
          ConvertSeqHadamardToLoopsPass> {
  void runOnOperation() override {
    ConversionTarget target(getContext());
    configureSeqHadamardToLoopsTarget(target);
    // The rest of the module stays as it is.
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateSeqHadamardToLoopsPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::seq::populateSeqHadamardToLoopsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<HadamardLowering>(patterns.getContext());
}

void mlir::seq::configureSeqHadamardToLoopsTarget(ConversionTarget &target) {
  target.addIllegalOp<HadamardOp>();
  target
      .addLegalDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                       memref::MemRefDialect, scf::SCFDialect,
                       tensor::TensorDialect, vector::VectorDialect>();
}
