//===- ParallelizeProducts.cpp - marked linalg products to scf.parallel ---===//

#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQPARALLELIZEPRODUCTS
#define GEN_PASS_DEF_SEQPARALLELIZELOOPS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// `op` as loops over its parallel dimensions — one scf.parallel when
/// `parallel`, nested scf.for otherwise — with the trailing reduction as an
/// inner scf.for that carries the accumulator in a register (loaded from the
/// output once, stored once): LLVM then vectorizes the dot product (given
/// reassociation), which an accumulator kept in memory prevents. Fails
/// (leaving `op`) unless the iterators are parallel loops then one
/// reduction, the single output does not depend on the reduction and every
/// indexing map is a projected permutation.
static LogicalResult toReductionLoops(RewriterBase &rewriter,
                                      linalg::GenericOp op, bool parallel) {
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
  auto reduce = [&](OpBuilder &b, Location l, ValueRange par) {
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
  };
  if (parallel) {
    scf::ParallelOp::create(rewriter, loc, lbs, ubs, steps, reduce);
    return success();
  }
  scf::buildLoopNest(
      rewriter, loc, lbs, ubs, steps,
      [&](OpBuilder &b, Location l, ValueRange ivs) { reduce(b, l, ivs); });
  return success();
}

//===----------------------------------------------------------------------===//
// Integer dot-product kernels for int8 weights
//===----------------------------------------------------------------------===//

enum class Int8Isa { None, Avx2, AvxVnni, Avx512Vnni };

static std::optional<Int8Isa> parseInt8Isa(StringRef name) {
  return llvm::StringSwitch<std::optional<Int8Isa>>(name)
      .Case("none", Int8Isa::None)
      .Case("avx2", Int8Isa::Avx2)
      .Case("avxvnni", Int8Isa::AvxVnni)
      .Case("avx512vnni", Int8Isa::Avx512Vnni)
      .Default(std::nullopt);
}

/// Weight bytes one dot-product step consumes (32-bit sums: a quarter).
static int64_t vectorBytes(Int8Isa isa) {
  return isa == Int8Isa::Avx512Vnni ? 64 : 32;
}

/// Whether `op` is y[t, n] += x[t, k] * sitofp(w[n, k]) with f32 x and y
/// and int8 w, as the model builders write an int8 projection.
static bool isInt8Product(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return false;
  MLIRContext *c = op.getContext();
  AffineExpr n = getAffineDimExpr(0, c), t = getAffineDimExpr(1, c),
             k = getAffineDimExpr(2, c);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps[0] != AffineMap::get(3, 0, {t, k}, c) ||
      maps[1] != AffineMap::get(3, 0, {n, k}, c) ||
      maps[2] != AffineMap::get(3, 0, {t, n}, c))
    return false;
  auto x = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto w = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto y = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!x || !w || !y || !x.getElementType().isF32() ||
      !w.getElementType().isInteger(8) || !y.getElementType().isF32())
    return false;
  Block *body = op.getBody();
  if (body->getOperations().size() != 4)
    return false;
  auto add = cast<linalg::YieldOp>(body->getTerminator())
                 .getOperand(0)
                 .getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value xArg = body->getArgument(0), wArg = body->getArgument(1),
        acc = body->getArgument(2);
  Value term = add.getLhs() == acc   ? add.getRhs()
               : add.getRhs() == acc ? add.getLhs()
                                     : Value();
  auto mul = term ? term.getDefiningOp<arith::MulFOp>() : arith::MulFOp();
  if (!mul)
    return false;
  auto isWeight = [&](Value v) {
    auto cvt = v.getDefiningOp<arith::SIToFPOp>();
    return cvt && cvt.getIn() == wArg;
  };
  return (mul.getLhs() == xArg && isWeight(mul.getRhs())) ||
         (mul.getRhs() == xArg && isWeight(mul.getLhs()));
}

/// 32-bit sums of four adjacent products of the int8 vectors `w` and `q`
/// (`vectorBytes(isa)` lanes each), by the instruction set's dot product:
/// |w| (unsigned, as the instructions want their first operand) times q
/// with w's sign. Every product and sum is exact: no pair of products
/// overflows vpmaddubsw's 16-bit sums (2 * 127 * 127).
static Value dotInt8(OpBuilder &b, Location l, Int8Isa isa, Value w, Value q) {
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  auto splat = [&](VectorType type, Attribute value) -> Value {
    return arith::ConstantOp::create(b, l, type,
                                     DenseElementsAttr::get(type, value));
  };
  auto intrinsic = [&](StringRef name, Type result, ValueRange args) {
    return LLVM::CallIntrinsicOp::create(b, l, result, b.getStringAttr(name),
                                         args)
        .getResult(0);
  };
  Type i8 = b.getI8Type(), i16 = b.getI16Type(), i32 = b.getI32Type();
  int64_t bytes = vectorBytes(isa), lanes = bytes / 4;
  Value absW = math::AbsIOp::create(b, l, w);
  Value zeros = splat(vec(lanes, i32), b.getI32IntegerAttr(0));
  if (isa == Int8Isa::Avx512Vnni) {
    // No vpsignb on 64 bytes: negate q where w < 0 (a mask compare and a
    // masked subtract).
    Value zero = splat(vec(bytes, i8), b.getI8IntegerAttr(0));
    Value negative =
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, w, zero);
    Value signedQ = arith::SelectOp::create(
        b, l, negative, arith::SubIOp::create(b, l, zero, q), q);
    return intrinsic("llvm.x86.avx512.vpdpbusd.512", vec(lanes, i32),
                     {zeros, absW, signedQ});
  }
  Value signedQ = intrinsic("llvm.x86.avx2.psign.b", vec(bytes, i8), {q, w});
  if (isa == Int8Isa::AvxVnni)
    return intrinsic("llvm.x86.avx512.vpdpbusd.256", vec(lanes, i32),
                     {zeros, absW, signedQ});
  Value pairs = intrinsic("llvm.x86.avx2.pmadd.ub.sw", vec(bytes / 2, i16),
                          {absW, signedQ});
  return intrinsic("llvm.x86.avx2.pmadd.wd", vec(lanes, i32),
                   {pairs, splat(vec(bytes / 2, i16), b.getI16IntegerAttr(1))});
}

/// Replaces the int8 product `op` (isInt8Product holds) by an integer kernel:
/// the activations quantized per token and block of `block` channels,
/// then one dot product per output over the whole row, as an scf.parallel
/// over (n, t) when `parallel`, nested scf.for loops otherwise; a length
/// that is not a multiple of the vector ends with scalar integer products.
/// Fails (leaving `op`) for a dynamic reduction length or one the block
/// does not divide, or weight rows that are not contiguous.
static LogicalResult toInt8DotProduct(RewriterBase &rewriter,
                                      linalg::GenericOp op, Int8Isa isa,
                                      int64_t block, bool parallel) {
  Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1],
        y = op.getDpsInits()[0];
  auto xType = cast<MemRefType>(x.getType());
  auto wType = cast<MemRefType>(w.getType());
  int64_t K = xType.getDimSize(1), bytes = vectorBytes(isa), lanes = bytes / 4;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (ShapedType::isDynamic(K) || wType.getDimSize(1) != K || K % block ||
      failed(wType.getStridesAndOffset(strides, offset)) || strides[1] != 1)
    return failure();

  Location loc = op.getLoc();
  Type f32 = rewriter.getF32Type(), i8 = rewriter.getI8Type(),
       i32 = rewriter.getI32Type();
  auto index = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto f32Const = [&](OpBuilder &b, float v) -> Value {
    return arith::ConstantFloatOp::create(b, loc, cast<FloatType>(f32),
                                          APFloat(v));
  };
  auto size = [&](Value m, unsigned d) {
    return getValueOrCreateConstantIndexOp(
        rewriter, loc, memref::getMixedSize(rewriter, loc, m, d));
  };
  Value c0 = index(rewriter, 0), c1 = index(rewriter, 1);
  Value T = size(x, 0), N = size(w, 0);

  // Per token: int8 codes, and each code's scale repeated for its 32-bit
  // lane (k / 4).
  auto alloc = [&](SmallVector<int64_t> shape, Type elt) -> Value {
    shape.insert(shape.begin(), xType.getDimSize(0));
    SmallVector<Value> dyn;
    if (xType.isDynamicDim(0))
      dyn.push_back(T);
    return memref::AllocOp::create(rewriter, loc, MemRefType::get(shape, elt),
                                   dyn, rewriter.getI64IntegerAttr(64));
  };
  Value codes = alloc({K}, i8), scales = alloc({K / 4}, f32);
  auto forLoop =
      [&](OpBuilder &b, Location l, int64_t lb, int64_t ub, int64_t step,
          ValueRange inits,
          function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>
              body) {
        return scf::ForOp::create(
            b, l, index(b, lb), index(b, ub), index(b, step), inits,
            [&](OpBuilder &b, Location l, Value iv, ValueRange args) {
              scf::YieldOp::create(b, l, body(b, iv, args));
            });
      };
  scf::ForOp::create(
      rewriter, loc, c0, T, c1, ValueRange{},
      [&](OpBuilder &b, Location l, Value t, ValueRange) {
        forLoop(
            b, l, 0, K / block, 1, {},
            [&](OpBuilder &b, Value blk, ValueRange) {
              Value base = arith::MulIOp::create(b, l, blk, index(b, block));
              auto element = [&](OpBuilder &b, Value j) -> Value {
                Value k = arith::AddIOp::create(b, l, base, j);
                return memref::LoadOp::create(b, l, x, ValueRange{t, k});
              };
              // maximumf: a NaN activation makes its block's scale NaN, and
              // the outputs it feeds NaN, as with f32 activations.
              Value amax =
                  forLoop(b, l, 0, block, 1, {f32Const(b, 0)},
                          [&](OpBuilder &b, Value j, ValueRange m) {
                            Value a = math::AbsFOp::create(b, l, element(b, j));
                            return SmallVector<Value>{
                                arith::MaximumFOp::create(b, l, m[0], a)};
                          })
                      .getResult(0);
              Value scale = arith::DivFOp::create(b, l, amax, f32Const(b, 127));
              Value positive = arith::CmpFOp::create(
                  b, l, arith::CmpFPredicate::OGT, amax, f32Const(b, 0));
              Value inverse = arith::SelectOp::create(
                  b, l, positive,
                  arith::DivFOp::create(b, l, f32Const(b, 127), amax),
                  f32Const(b, 0));
              forLoop(
                  b, l, 0, block, 1, {},
                  [&](OpBuilder &b, Value j, ValueRange) {
                    Value r = math::RoundEvenOp::create(
                        b, l,
                        arith::MulFOp::create(b, l, element(b, j), inverse));
                    r = arith::MinNumFOp::create(
                        b, l,
                        arith::MaxNumFOp::create(b, l, r, f32Const(b, -127)),
                        f32Const(b, 127));
                    Value q = arith::FPToSIOp::create(b, l, i8, r);
                    memref::StoreOp::create(
                        b, l, q, codes,
                        ValueRange{t, arith::AddIOp::create(b, l, base, j)});
                    return SmallVector<Value>{};
                  });
              Value laneBase =
                  arith::MulIOp::create(b, l, blk, index(b, block / 4));
              forLoop(b, l, 0, block / 4, 1, {},
                      [&](OpBuilder &b, Value j, ValueRange) {
                        memref::StoreOp::create(
                            b, l, scale, scales,
                            ValueRange{
                                t, arith::AddIOp::create(b, l, laneBase, j)});
                        return SmallVector<Value>{};
                      });
              return SmallVector<Value>{};
            });
        scf::YieldOp::create(b, l);
      });

  // One output: the row's dot product, with two accumulators where the
  // length allows (the multiply-add chain, not the loads, bounds one), then
  // single vectors, then scalar products for the last K % bytes channels.
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  int64_t unroll = K >= 2 * bytes ? 2 : 1;
  int64_t unrolledEnd = K / (unroll * bytes) * (unroll * bytes),
          vectorEnd = K / bytes * bytes;
  auto output = [&](OpBuilder &b, Location l, Value n, Value t) {
    auto accType = VectorType::get({lanes}, f32);
    auto bytesType = VectorType::get({bytes}, i8);
    Value zero = arith::ConstantOp::create(
        b, l, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
    // acc + dot(w[n, k:k+bytes], q[t, k:k+bytes]) * scales[t, k/4 ...]
    auto step = [&](OpBuilder &b, Value k, Value acc) -> Value {
      Value wv = vector::LoadOp::create(b, l, bytesType, w, ValueRange{n, k});
      Value qv =
          vector::LoadOp::create(b, l, bytesType, codes, ValueRange{t, k});
      Value lane = arith::DivUIOp::create(b, l, k, index(b, 4));
      Value sv =
          vector::LoadOp::create(b, l, accType, scales, ValueRange{t, lane});
      Value dot =
          arith::SIToFPOp::create(b, l, accType, dotInt8(b, l, isa, wv, qv));
      return math::FmaOp::create(b, l, dot, sv, acc);
    };
    Value acc = zero;
    if (unrolledEnd > 0) {
      auto loop = forLoop(
          b, l, 0, unrolledEnd, unroll * bytes,
          SmallVector<Value>(unroll, zero),
          [&](OpBuilder &b, Value k0, ValueRange accs) {
            SmallVector<Value> next;
            for (int64_t u = 0; u < unroll; ++u)
              next.push_back(
                  step(b, arith::AddIOp::create(b, l, k0, index(b, u * bytes)),
                       accs[u]));
            return next;
          });
      acc = loop.getResult(0);
      if (unroll == 2)
        acc = arith::AddFOp::create(b, l, acc, loop.getResult(1));
    }
    if (vectorEnd > unrolledEnd)
      acc = forLoop(b, l, unrolledEnd, vectorEnd, bytes, {acc},
                    [&](OpBuilder &b, Value k, ValueRange a) {
                      return SmallVector<Value>{step(b, k, a[0])};
                    })
                .getResult(0);
    Value sum = vector::ReductionOp::create(b, l, vector::CombiningKind::ADD,
                                            acc, Value(), fm);
    if (K > vectorEnd)
      sum =
          forLoop(b, l, vectorEnd, K, 1, {sum},
                  [&](OpBuilder &b, Value k, ValueRange s) {
                    auto wide = [&](Value v) {
                      return arith::ExtSIOp::create(b, l, i32, v).getResult();
                    };
                    Value p = arith::MulIOp::create(
                        b, l,
                        wide(memref::LoadOp::create(b, l, w, ValueRange{n, k})),
                        wide(memref::LoadOp::create(b, l, codes,
                                                    ValueRange{t, k})));
                    Value a = memref::LoadOp::create(
                        b, l, scales,
                        ValueRange{
                            t, arith::DivUIOp::create(b, l, k, index(b, 4))});
                    Value term = arith::MulFOp::create(
                        b, l, arith::SIToFPOp::create(b, l, f32, p), a);
                    return SmallVector<Value>{
                        arith::AddFOp::create(b, l, s[0], term)};
                  })
              .getResult(0);
    Value init = memref::LoadOp::create(b, l, y, ValueRange{t, n});
    memref::StoreOp::create(b, l, arith::AddFOp::create(b, l, init, sum), y,
                            ValueRange{t, n});
  };
  if (parallel) {
    scf::ParallelOp::create(rewriter, loc, ValueRange{c0, c0}, ValueRange{N, T},
                            ValueRange{c1, c1},
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              output(b, l, ivs[0], ivs[1]);
                            });
  } else {
    scf::ForOp::create(rewriter, loc, c0, N, c1, ValueRange{},
                       [&](OpBuilder &b, Location l, Value n, ValueRange) {
                         scf::ForOp::create(b, l, c0, T, c1, ValueRange{},
                                            [&](OpBuilder &b, Location l,
                                                Value t, ValueRange) {
                                              output(b, l, n, t);
                                              scf::YieldOp::create(b, l);
                                            });
                         scf::YieldOp::create(b, l);
                       });
  }
  for (Value buffer : {codes, scales})
    memref::DeallocOp::create(rewriter, loc, buffer);
  return success();
}

struct SeqParallelizeProductsPass
    : public seq::impl::SeqParallelizeProductsBase<SeqParallelizeProductsPass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<Int8Isa> isa = parseInt8Isa(int8Dot);
    if (!isa) {
      getOperation().emitError()
          << "seq-parallelize-products: int8-dot=" << int8Dot
          << ": expected none, avx2, avxvnni or avx512vnni";
      return signalPassFailure();
    }
    if (activationBlock <= 0 || activationBlock % 4) {
      getOperation().emitError()
          << "seq-parallelize-products: activation-block="
          << static_cast<int64_t>(activationBlock)
          << ": expected a positive multiple of 4";
      return signalPassFailure();
    }
    // Each marked product, and whether it is worth all threads; dot
    // products marked seq.dot stay on one thread.
    SmallVector<std::pair<linalg::GenericOp, bool>> products;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      if (op->hasAttr("seq.dot")) {
        products.push_back({op, false});
        return;
      }
      if (!op->hasAttr("seq.parallel"))
        return;
      // A single-token product (decode) stays on one thread unless its
      // weight is large: measured on 2 cores, task dispatch costs more than
      // the second core gains for small weights.
      bool parallel = true;
      auto x = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
      if (x && x.getRank() == 2 && x.getDimSize(0) == 1) {
        auto w = op.getDpsInputs().size() > 1
                     ? dyn_cast<MemRefType>(op.getDpsInputs()[1].getType())
                     : MemRefType();
        parallel = minDecodeElements > 0 && w && w.hasStaticShape() &&
                   w.getNumElements() >= minDecodeElements;
      }
      products.push_back({op, parallel});
    });
    IRRewriter rewriter(&getContext());
    for (auto [op, parallel] : products) {
      rewriter.setInsertionPoint(op);
      if (*isa != Int8Isa::None && isInt8Product(op)) {
        if (succeeded(toInt8DotProduct(rewriter, op, *isa, activationBlock,
                                       parallel))) {
          rewriter.eraseOp(op);
          continue;
        }
        op.emitWarning() << "int8 product left with f32 activations (int8-dot="
                         << int8Dot
                         << "): its reduction length is dynamic or not a "
                         << "multiple of activation-block="
                         << static_cast<int64_t>(activationBlock)
                         << ", or its weight rows are not contiguous";
      }
      if (succeeded(toReductionLoops(rewriter, op, parallel))) {
        rewriter.eraseOp(op);
        continue;
      }
      // Sequential ones that are not a reduction into registers are left
      // for convert-linalg-to-loops.
      if (!parallel)
        continue;
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
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
