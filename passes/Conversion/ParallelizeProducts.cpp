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

/// Prefill products compute tiles of kTileRows outputs x kTileTokens tokens.
constexpr int64_t kTileRows = 2, kTileTokens = 4;

/// Computes one tile: `nr` rows from `n0` by `tr` tokens from `t0`.
using TileFn = function_ref<void(OpBuilder &, Location, Value n0, Value t0,
                                 int64_t nr, int64_t tr)>;

/// Whether a product of `rows` outputs over `tokens` tokens (nullopt:
/// dynamic) is computed in tiles: a static row count of at least a tile,
/// and a dynamic token count or one of at least a tile (prefill).
static bool isTiled(std::optional<int64_t> rows,
                    std::optional<int64_t> tokens) {
  return rows && *rows >= kTileRows && (!tokens || *tokens >= kTileTokens);
}

/// The scf.parallel loops covering outputs [0, rows) x tokens [0, T) when
/// isTiled holds: the whole tiles, then the tokens beyond a multiple of
/// kTileTokens and the rows beyond a multiple of kTileRows, one output per
/// iteration.
static void parallelTiles(RewriterBase &rewriter, Location loc, int64_t rows,
                          Value T, TileFn tile) {
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  auto loops = [&](Value n0, Value n1, Value t0, Value t1, int64_t nr,
                   int64_t tr) {
    scf::ParallelOp::create(rewriter, loc, ValueRange{n0, t0},
                            ValueRange{n1, t1}, ValueRange{cst(nr), cst(tr)},
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              tile(b, l, ivs[0], ivs[1], nr, tr);
                            });
  };
  Value tileT = arith::SubIOp::create(
      rewriter, loc, T,
      arith::RemUIOp::create(rewriter, loc, T, cst(kTileTokens)));
  int64_t tileN = rows / kTileRows * kTileRows;
  loops(cst(0), cst(tileN), cst(0), tileT, kTileRows, kTileTokens);
  loops(cst(0), cst(rows), tileT, T, 1, 1);
  if (tileN < rows)
    loops(cst(tileN), cst(rows), cst(0), tileT, 1, 1);
}

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
  // The outputs at `par` plus (r, j) for r < nr along the first parallel
  // dimension and j < tr along the last: one reduction loop carrying all
  // their accumulators, so that each input element the outputs share is
  // loaded once (a prefill product's weight element serves `tr` tokens,
  // a token's activation `nr` rows).
  auto reduceTile = [&](OpBuilder &b, Location l, ValueRange par, int64_t nr,
                        int64_t tr) {
    unsigned last = par.size() - 1;
    SmallVector<SmallVector<Value>> outIvs;
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t j = 0; j < tr; ++j) {
        SmallVector<Value> ivs(par.begin(), par.end());
        if (r)
          ivs[0] = arith::AddIOp::create(
              b, l, ivs[0], arith::ConstantIndexOp::create(b, l, r));
        if (j)
          ivs[last] = arith::AddIOp::create(
              b, l, ivs[last], arith::ConstantIndexOp::create(b, l, j));
        ivs.push_back(Value()); // the reduction index: unused
        outIvs.push_back(ivs);
      }
    SmallVector<Value> inits;
    for (auto &ivs : outIvs)
      inits.push_back(
          memref::LoadOp::create(b, l, out, indices(maps.back(), ivs)));
    auto red = scf::ForOp::create(
        b, l, value(ranges.back().offset), value(ranges.back().size),
        value(ranges.back().stride), inits,
        [&](OpBuilder &fb, Location fl, Value k, ValueRange acc) {
          SmallVector<Value> results;
          for (auto [i, outIv] : llvm::enumerate(outIvs)) {
            SmallVector<Value> ivs(outIv.begin(), outIv.end());
            ivs.back() = k;
            IRMapping map;
            for (OpOperand *in : op.getDpsInputOperands())
              map.map(body->getArgument(in->getOperandNumber()),
                      memref::LoadOp::create(
                          fb, fl, in->get(),
                          indices(maps[in->getOperandNumber()], ivs)));
            map.map(body->getArguments().back(), acc[i]);
            for (Operation &inner : body->without_terminator())
              fb.clone(inner, map);
            results.push_back(map.lookupOrDefault(
                cast<linalg::YieldOp>(body->getTerminator()).getOperand(0)));
          }
          scf::YieldOp::create(fb, fl, results);
        });
    for (auto [i, ivs] : llvm::enumerate(outIvs))
      memref::StoreOp::create(b, l, red.getResult(i), out,
                              indices(maps.back(), ivs));
  };
  auto reduce = [&](OpBuilder &b, Location l, ValueRange par) {
    reduceTile(b, l, par, 1, 1);
  };
  if (!parallel) {
    scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps,
        [&](OpBuilder &b, Location l, ValueRange ivs) { reduce(b, l, ivs); });
    return success();
  }
  // Prefill products (two parallel dimensions from 0 in unit steps): tiles.
  std::optional<int64_t> rows = getConstantIntValue(ranges[0].size);
  bool unitRanges =
      llvm::all_of(ArrayRef(ranges).take_front(2), [](const Range &r) {
        return isConstantIntValue(r.offset, 0) &&
               isConstantIntValue(r.stride, 1);
      });
  if (nLoops != 3 || !unitRanges ||
      !isTiled(rows, getConstantIntValue(ranges[1].size))) {
    scf::ParallelOp::create(rewriter, loc, lbs, ubs, steps, reduce);
    return success();
  }
  parallelTiles(
      rewriter, loc, *rows, ubs[1],
      [&](OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
          int64_t tr) { reduceTile(b, l, ValueRange{n0, t0}, nr, tr); });
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

/// Whether the kernel stores the activation codes biased to unsigned bytes
/// (q + 128): the VNNI instructions multiply unsigned by signed bytes with
/// 32-bit sums, so the bias is exact and comes off as 128 · Σ w, which
/// depends on the weights alone. vpmaddubsw's 16-bit pair sums would
/// saturate with it (2 · 255 · 127), so AVX2 keeps signed codes.
static bool biasedCodes(Int8Isa isa) { return isa != Int8Isa::Avx2; }

/// The int8 code `q` biased (q + 128 as an unsigned byte), or a biased code
/// back: the same flip of the sign bit.
static Value flipBias(OpBuilder &b, Location l, Value q) {
  return arith::XOrIOp::create(
      b, l, q, arith::ConstantIntOp::create(b, l, b.getI8Type(), -128));
}

/// The weight side of an int8 dot product, computed once per weight
/// vector and shared by every token that multiplies it: the bytes and the
/// negated bias term -128 · Σ w per 32-bit lane (VNNI), or |w| and w (AVX2).
struct PreparedWeight {
  Value first, second;
};

/// Helpers for the x86 intrinsics of the int8 kernels.
struct Int8Ops {
  OpBuilder &b;
  Location l;
  Int8Isa isa;
  int64_t bytes, lanes;
  Int8Ops(OpBuilder &b, Location l, Int8Isa isa)
      : b(b), l(l), isa(isa), bytes(vectorBytes(isa)), lanes(bytes / 4) {}

  VectorType vec(int64_t n, Type t) { return VectorType::get({n}, t); }
  Value splat(VectorType type, Attribute value) {
    return arith::ConstantOp::create(b, l, type,
                                     DenseElementsAttr::get(type, value));
  }
  Value intrinsic(StringRef name, Type result, ValueRange args) {
    return LLVM::CallIntrinsicOp::create(b, l, result, b.getStringAttr(name),
                                         args)
        .getResult(0);
  }
  /// acc + four-byte sums of unsigned `u` times signed `s` (VNNI).
  Value vpdpbusd(Value acc, Value u, Value s) {
    return intrinsic(isa == Int8Isa::Avx512Vnni
                         ? "llvm.x86.avx512.vpdpbusd.512"
                         : "llvm.x86.avx512.vpdpbusd.256",
                     vec(lanes, b.getI32Type()), {acc, u, s});
  }
  PreparedWeight prepare(Value w) {
    if (biasedCodes(isa)) {
      Value zeros = splat(vec(lanes, b.getI32Type()), b.getI32IntegerAttr(0));
      Value bias = splat(vec(bytes, b.getI8Type()), b.getI8IntegerAttr(-128));
      Value sum = vpdpbusd(zeros, bias, w); // 128 · Σ w, as unsigned 0x80
      return {w, arith::SubIOp::create(b, l, zeros, sum)};
    }
    return {math::AbsIOp::create(b, l, w), w};
  }
  /// 32-bit sums of four adjacent products w · q, exact: VNNI adds the
  /// biased codes' products to the negated bias term; AVX2 multiplies |w|
  /// (unsigned, as vpmaddubsw wants its first operand) by q with w's sign
  /// (no pair of products overflows its 16-bit sums, 2 · 127 · 127).
  Value dot(const PreparedWeight &w, Value q) {
    if (biasedCodes(isa))
      return vpdpbusd(w.second, q, w.first);
    Type i8 = b.getI8Type(), i16 = b.getI16Type(), i32 = b.getI32Type();
    Value signedQ =
        intrinsic("llvm.x86.avx2.psign.b", vec(bytes, i8), {q, w.second});
    Value pairs = intrinsic("llvm.x86.avx2.pmadd.ub.sw", vec(bytes / 2, i16),
                            {w.first, signedQ});
    return intrinsic(
        "llvm.x86.avx2.pmadd.wd", vec(lanes, i32),
        {pairs, splat(vec(bytes / 2, i16), b.getI16IntegerAttr(1))});
  }
};

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
  // One block of one token's channels; over (t, block) on all threads when
  // the product runs there (prefill: thousands of blocks), in loops
  // otherwise.
  auto quantize = [&](OpBuilder &b, Location l, Value t, Value blk) {
    Value base = arith::MulIOp::create(b, l, blk, index(b, block));
    auto element = [&](OpBuilder &b, Value j) -> Value {
      Value k = arith::AddIOp::create(b, l, base, j);
      return memref::LoadOp::create(b, l, x, ValueRange{t, k});
    };
    // maximumf: a NaN activation makes its block's scale NaN, and
    // the outputs it feeds NaN, as with f32 activations.
    Value amax = forLoop(b, l, 0, block, 1, {f32Const(b, 0)},
                         [&](OpBuilder &b, Value j, ValueRange m) {
                           Value a = math::AbsFOp::create(b, l, element(b, j));
                           return SmallVector<Value>{
                               arith::MaximumFOp::create(b, l, m[0], a)};
                         })
                     .getResult(0);
    Value scale = arith::DivFOp::create(b, l, amax, f32Const(b, 127));
    Value positive = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                           amax, f32Const(b, 0));
    Value inverse = arith::SelectOp::create(
        b, l, positive, arith::DivFOp::create(b, l, f32Const(b, 127), amax),
        f32Const(b, 0));
    forLoop(b, l, 0, block, 1, {}, [&](OpBuilder &b, Value j, ValueRange) {
      Value r = math::RoundEvenOp::create(
          b, l, arith::MulFOp::create(b, l, element(b, j), inverse));
      r = arith::MinNumFOp::create(
          b, l, arith::MaxNumFOp::create(b, l, r, f32Const(b, -127)),
          f32Const(b, 127));
      Value q = arith::FPToSIOp::create(b, l, i8, r);
      if (biasedCodes(isa))
        q = flipBias(b, l, q);
      memref::StoreOp::create(
          b, l, q, codes, ValueRange{t, arith::AddIOp::create(b, l, base, j)});
      return SmallVector<Value>{};
    });
    Value laneBase = arith::MulIOp::create(b, l, blk, index(b, block / 4));
    forLoop(b, l, 0, block / 4, 1, {}, [&](OpBuilder &b, Value j, ValueRange) {
      memref::StoreOp::create(
          b, l, scale, scales,
          ValueRange{t, arith::AddIOp::create(b, l, laneBase, j)});
      return SmallVector<Value>{};
    });
  };
  Value blocks = index(rewriter, K / block);
  if (parallel && xType.getDimSize(0) != 1) {
    scf::ParallelOp::create(rewriter, loc, ValueRange{c0, c0},
                            ValueRange{T, blocks}, ValueRange{c1, c1},
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              quantize(b, l, ivs[0], ivs[1]);
                            });
  } else {
    scf::buildLoopNest(rewriter, loc, ValueRange{c0, c0}, ValueRange{T, blocks},
                       ValueRange{c1, c1},
                       [&](OpBuilder &b, Location l, ValueRange ivs) {
                         quantize(b, l, ivs[0], ivs[1]);
                       });
  }

  // A tile of `nr` outputs by `tr` tokens: each weight vector is loaded
  // and prepared once for the tile's tokens, each token's codes and scales
  // once for its rows (prefill is bound by these loads and the weight
  // side's work, not by memory, once a weight row sits in cache). A single
  // output keeps two accumulators where the length allows (the
  // multiply-add chain, not the loads, bounds one). Then single vectors,
  // then scalar products for the last K % bytes channels.
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  int64_t vectorEnd = K / bytes * bytes;
  auto tile = [&](OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
                  int64_t tr) {
    Int8Ops ops(b, l, isa);
    int64_t unroll = nr * tr == 1 && K >= 2 * bytes ? 2 : 1;
    int64_t unrolledEnd = K / (unroll * bytes) * (unroll * bytes);
    auto accType = VectorType::get({lanes}, f32);
    auto bytesType = VectorType::get({bytes}, i8);
    Value zero = arith::ConstantOp::create(
        b, l, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
    auto offset = [&](Value base, int64_t d) -> Value {
      return d ? arith::AddIOp::create(b, l, base, index(b, d)).getResult()
               : base;
    };
    SmallVector<Value> ns, ts;
    for (int64_t r = 0; r < nr; ++r)
      ns.push_back(offset(n0, r));
    for (int64_t j = 0; j < tr; ++j)
      ts.push_back(offset(t0, j));
    // accs[(u * nr + r) * tr + j] += dot(w[n_r, k..], q[t_j, k..]) * scales
    auto step = [&](OpBuilder &b, Value k, ValueRange accs, int64_t u) {
      SmallVector<Value> next(accs.begin(), accs.end());
      SmallVector<PreparedWeight> ws;
      for (Value n : ns)
        ws.push_back(ops.prepare(
            vector::LoadOp::create(b, l, bytesType, w, ValueRange{n, k})));
      Value lane = arith::DivUIOp::create(b, l, k, index(b, 4));
      for (int64_t j = 0; j < tr; ++j) {
        Value qv = vector::LoadOp::create(b, l, bytesType, codes,
                                          ValueRange{ts[j], k});
        Value sv = vector::LoadOp::create(b, l, accType, scales,
                                          ValueRange{ts[j], lane});
        for (int64_t r = 0; r < nr; ++r) {
          Value dot =
              arith::SIToFPOp::create(b, l, accType, ops.dot(ws[r], qv));
          int64_t at = (u * nr + r) * tr + j;
          next[at] = math::FmaOp::create(b, l, dot, sv, next[at]);
        }
      }
      return next;
    };
    SmallVector<Value> accs(nr * tr, zero);
    if (unrolledEnd > 0) {
      auto loop = forLoop(b, l, 0, unrolledEnd, unroll * bytes,
                          SmallVector<Value>(unroll * nr * tr, zero),
                          [&](OpBuilder &b, Value k0, ValueRange in) {
                            SmallVector<Value> out(in.begin(), in.end());
                            for (int64_t u = 0; u < unroll; ++u)
                              out = step(b, offset(k0, u * bytes), out, u);
                            return out;
                          });
      for (int64_t i = 0; i < nr * tr; ++i) {
        accs[i] = loop.getResult(i);
        for (int64_t u = 1; u < unroll; ++u)
          accs[i] = arith::AddFOp::create(b, l, accs[i],
                                          loop.getResult(u * nr * tr + i));
      }
    }
    if (vectorEnd > unrolledEnd) {
      auto loop = forLoop(b, l, unrolledEnd, vectorEnd, bytes, accs,
                          [&](OpBuilder &b, Value k, ValueRange in) {
                            return step(b, k, in, 0);
                          });
      accs.assign(loop.getResults().begin(), loop.getResults().end());
    }
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t j = 0; j < tr; ++j) {
        Value n = ns[r], t = ts[j];
        Value sum = vector::ReductionOp::create(
            b, l, vector::CombiningKind::ADD, accs[r * tr + j], Value(), fm);
        if (K > vectorEnd)
          sum =
              forLoop(
                  b, l, vectorEnd, K, 1, {sum},
                  [&](OpBuilder &b, Value k, ValueRange s) {
                    auto wide = [&](Value v) {
                      return arith::ExtSIOp::create(b, l, i32, v).getResult();
                    };
                    Value q =
                        memref::LoadOp::create(b, l, codes, ValueRange{t, k});
                    if (biasedCodes(isa))
                      q = flipBias(b, l, q);
                    Value p = arith::MulIOp::create(
                        b, l,
                        wide(memref::LoadOp::create(b, l, w, ValueRange{n, k})),
                        wide(q));
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
      }
  };
  // Prefill (more than one token, or a dynamic count): tiles. Decode keeps
  // one output per iteration, so that its rows still split into tasks
  // (async-parallel-for's minimum task size counts iterations).
  auto staticSize = [](int64_t d) -> std::optional<int64_t> {
    if (ShapedType::isDynamic(d))
      return std::nullopt;
    return d;
  };
  std::optional<int64_t> rows = staticSize(wType.getDimSize(0));
  if (parallel && isTiled(rows, staticSize(xType.getDimSize(0)))) {
    parallelTiles(rewriter, loc, *rows, T, tile);
  } else if (parallel) {
    scf::ParallelOp::create(rewriter, loc, ValueRange{c0, c0}, ValueRange{N, T},
                            ValueRange{c1, c1},
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              tile(b, l, ivs[0], ivs[1], 1, 1);
                            });
  } else {
    scf::ForOp::create(rewriter, loc, c0, N, c1, ValueRange{},
                       [&](OpBuilder &b, Location l, Value n, ValueRange) {
                         scf::ForOp::create(b, l, c0, T, c1, ValueRange{},
                                            [&](OpBuilder &b, Location l,
                                                Value t, ValueRange) {
                                              tile(b, l, n, t, 1, 1);
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
    // Elementwise ops over a dynamic extent (prefill: [T, C] activations,
    // tens of them per layer, with exp, log and divisions) on all threads
    // as well; decode's single rows stay sequential (too small to pay for
    // a dispatch).
    SmallVector<linalg::GenericOp> elementwise;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op.hasPureBufferSemantics() || op->hasAttr("seq.dot") ||
          op->hasAttr("seq.parallel") || op.getNumDpsInits() == 0 ||
          op.getNumReductionLoops() != 0 ||
          !llvm::is_contained(op.getStaticLoopRanges(), ShapedType::kDynamic))
        return;
      if (llvm::all_of(op.getIndexingMapsArray(),
                       [](AffineMap m) { return m.isProjectedPermutation(); }))
        elementwise.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : elementwise) {
      rewriter.setInsertionPoint(op);
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op.emitOpError("could not be lowered to parallel loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
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
