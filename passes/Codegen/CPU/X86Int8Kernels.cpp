//===- X86Int8Kernels.cpp - x86 integer kernels of int8 products ----------===//
//
// An int8 product becomes, in this order: activation buffers (codes,
// scales and, for VNNI decode, per-lane corrections), the quantization of
// the activations, then the outputs, each a sum of integer dot products
// over prepared weight vectors plus scalar products for the channels left
// over.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/X86Int8Kernels.h"
#include "passes/Codegen/CPU/IntegerDot.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using mlir::seq::cpu::forLoop;
using seqc::Int8Kernel;

namespace {

/// Weight bytes one dot-product step consumes (32-bit sums: a quarter).
int64_t vectorBytes(Int8Kernel kernel) {
  return kernel == Int8Kernel::AVX512VNNI ? 64 : 32;
}

/// Which operand a kernel biases to unsigned bytes (x + 128, a flip of the
/// sign bit): the VNNI instructions multiply unsigned by signed bytes with
/// exact 32-bit sums, so a bias comes off exactly as 128 times the sum of
/// the other operand, per 32-bit lane.
/// - Codes (VNNI prefill): the activation codes are stored biased, and each
///   weight vector's -128 · Σ w (one vpdpbusd of 0x80 bytes and a
///   subtraction) starts the sums of every token of its tile.
/// - Weights (VNNI decode): each weight vector is biased as it is loaded
///   (one vpxor), and its sum starts from the token's -128 · Σ q, computed
///   once when the token is quantized. Decode multiplies each weight vector
///   by one token, so this saves a vpdpbusd and a subtraction per vector;
///   a prefill tile would load the correction once per token and step
///   instead, and ran 15% slower so.
/// - None (AVX2): vpmaddubsw's 16-bit pair sums would saturate with a bias
///   (2 · 255 · 127), so it multiplies |w| by q with w's sign.
enum class Bias { None, Codes, Weights };

/// The int8 code `q` biased (q + 128 as an unsigned byte), or a biased code
/// back: the same flip of the sign bit.
Value flipBias(OpBuilder &b, Location l, Value q) {
  return arith::XOrIOp::create(
      b, l, q, arith::ConstantIntOp::create(b, l, b.getI8Type(), -128));
}

//===----------------------------------------------------------------------===//
// The x86 instructions
//===----------------------------------------------------------------------===//

/// The weight side of an int8 dot product, computed once per weight
/// vector and shared by every token that multiplies it: the bytes and the
/// negated bias term -128 · Σ w per 32-bit lane (Bias::Codes), the biased
/// bytes w + 128 (Bias::Weights), or |w| and w (AVX2).
struct PreparedWeight {
  Value first, second;
};

/// The int8 kernels' dot products: signed weights by activation codes.
struct Int8Ops : seq::cpu::IntegerDot {
  Int8Ops(OpBuilder &b, Location l, Int8Kernel kernel, Bias bias)
      : IntegerDot(b, l, kernel, vectorBytes(kernel)), bias(bias) {}
  Bias bias;

  /// Prepares the weight vector `w` (bytes int8 weights of one row).
  PreparedWeight prepare(Value w) {
    if (bias == Bias::None)
      return {math::AbsIOp::create(b, l, w), w};
    Value flip = splat(vec(bytes, b.getI8Type()), b.getI8IntegerAttr(-128));
    if (bias == Bias::Codes) {
      Value zeros = splat(vec(lanes, b.getI32Type()), b.getI32IntegerAttr(0));
      Value sum = vpdpbusd(zeros, flip, w); // 128 · Σ w, as unsigned 0x80
      return {w, arith::SubIOp::create(b, l, zeros, sum)};
    }
    return {arith::XOrIOp::create(b, l, w, flip), Value()};
  }
  /// 32-bit sums of four adjacent products w · q, exact: VNNI adds the
  /// products of the biased operand to the negated bias term (the weight
  /// vector's, or the token's `correction`); AVX2 multiplies |w|
  /// (unsigned, as vpmaddubsw wants its first operand) by q with w's sign
  /// (no pair of products overflows its 16-bit sums, 2 · 127 · 127).
  Value dot(const PreparedWeight &w, Value q, Value correction) {
    if (bias == Bias::Codes)
      return vpdpbusd(w.second, q, w.first);
    if (bias == Bias::Weights)
      return vpdpbusd(correction, w.first, q);
    Value signedQ = intrinsic("llvm.x86.avx2.psign.b",
                              vec(bytes, b.getI8Type()), {q, w.second});
    return pairSums(w.first, signedQ);
  }
};

//===----------------------------------------------------------------------===//
// The lowering of one product
//===----------------------------------------------------------------------===//

/// The lowering of one int8 product y[t, n] += x[t, k] * w[n, k] (T tokens,
/// N rows, K channels) by an integer kernel.
class Int8ProductLowering {
public:
  Int8ProductLowering(linalg::GenericOp op, Int8Kernel kernel, int64_t block)
      : kernel(kernel), block(block), loc(op.getLoc()), x(op.getDpsInputs()[0]),
        w(op.getDpsInputs()[1]), y(op.getDpsInits()[0]),
        xType(cast<MemRefType>(x.getType())),
        wType(cast<MemRefType>(w.getType())), K(xType.getDimSize(1)),
        bytes(vectorBytes(kernel)), lanes(bytes / 4),
        bias(kernel == Int8Kernel::AVX2 ? Bias::None
             : xType.getDimSize(0) == 1 ? Bias::Weights
                                        : Bias::Codes) {}

  /// Whether the kernel applies: a static reduction length that the block
  /// divides, and contiguous weight rows.
  bool applies() const {
    SmallVector<int64_t> strides;
    int64_t offset;
    return !ShapedType::isDynamic(K) && wType.getDimSize(1) == K &&
           K % block == 0 &&
           succeeded(wType.getStridesAndOffset(strides, offset)) &&
           strides[1] == 1;
  }

  void lower(RewriterBase &rewriter, bool parallel) {
    f32 = rewriter.getF32Type();
    i8 = rewriter.getI8Type();
    i32 = rewriter.getI32Type();
    T = seq::cpu::memrefDim(rewriter, loc, x, 0);
    N = seq::cpu::memrefDim(rewriter, loc, w, 0);
    allocateActivations(rewriter);
    quantizeActivations(rewriter, parallel);
    computeOutputs(rewriter, parallel);
    for (Value buffer : {codes, scales, corrections})
      if (buffer)
        memref::DeallocOp::create(rewriter, loc, buffer);
  }

private:
  Value index(OpBuilder &b, int64_t v) const {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  void allocateActivations(RewriterBase &rewriter);
  void quantizeActivations(RewriterBase &rewriter, bool parallel);
  void quantizeBlock(OpBuilder &b, Location l, Value t, Value blk);
  void computeOutputs(RewriterBase &rewriter, bool parallel);
  void computeTile(OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
                   int64_t tr);
  SmallVector<Value> tileStep(OpBuilder &b, Location l, Int8Ops &ops,
                              ArrayRef<Value> ns, ArrayRef<Value> ts, Value k,
                              ValueRange accs, int64_t u);
  Value addLeftovers(OpBuilder &b, Location l, Value n, Value t, Value sum);

  Int8Kernel kernel;
  int64_t block;
  Location loc;
  Value x, w, y;
  MemRefType xType, wType;
  int64_t K, bytes, lanes;
  Bias bias;
  Type f32, i8, i32;
  Value T, N;
  /// Per token: int8 codes ([T, K]), and each code's scale repeated for
  /// its 32-bit lane (k / 4: [T, K / 4]); with Bias::Weights, each lane's
  /// -128 · Σ q ([T, K / 4]).
  Value codes, scales, corrections;
};

void Int8ProductLowering::allocateActivations(RewriterBase &rewriter) {
  auto alloc = [&](SmallVector<int64_t> shape, Type elt) -> Value {
    shape.insert(shape.begin(), xType.getDimSize(0));
    SmallVector<Value> dyn;
    if (xType.isDynamicDim(0))
      dyn.push_back(T);
    return memref::AllocOp::create(rewriter, loc, MemRefType::get(shape, elt),
                                   dyn, rewriter.getI64IntegerAttr(64));
  };
  codes = alloc({K}, i8);
  scales = alloc({K / 4}, f32);
  if (bias == Bias::Weights)
    corrections = alloc({K / 4}, i32);
}

/// Each token's activations, per block of `block` channels: over (t, block)
/// on all threads when the product runs there (prefill: thousands of
/// blocks), in loops otherwise.
void Int8ProductLowering::quantizeActivations(RewriterBase &rewriter,
                                              bool parallel) {
  seq::cpu::forEachTokenBlock(rewriter, loc, T, xType.getDimSize(0) == 1,
                              K / block, parallel,
                              [&](OpBuilder &b, Location l, Value t,
                                  Value blk) { quantizeBlock(b, l, t, blk); });
}

/// Block `blk` of token `t` (quantizeActivationBlock): codes (biased with
/// Bias::Codes), the scale once per 32-bit lane and, with Bias::Weights,
/// each lane's -128 · Σ q.
void Int8ProductLowering::quantizeBlock(OpBuilder &b, Location l, Value t,
                                        Value blk) {
  Value base = arith::MulIOp::create(b, l, blk, index(b, block));
  Value scale = seq::cpu::quantizeActivationBlock(
      b, l, x, t, base, block, [&](OpBuilder &b, Value j, Value q) {
        if (bias == Bias::Codes)
          q = flipBias(b, l, q);
        memref::StoreOp::create(
            b, l, q, codes,
            ValueRange{t, arith::AddIOp::create(b, l, base, j)});
      });
  Value laneBase = arith::MulIOp::create(b, l, blk, index(b, block / 4));
  forLoop(b, l, 0, block / 4, 1, {}, [&](OpBuilder &b, Value j, ValueRange) {
    Value lane = arith::AddIOp::create(b, l, laneBase, j);
    memref::StoreOp::create(b, l, scale, scales, ValueRange{t, lane});
    if (corrections) {
      Value sum = arith::ConstantIntOp::create(b, l, i32, 0);
      Value first = arith::MulIOp::create(b, l, lane, index(b, 4));
      for (int64_t i = 0; i < 4; ++i) {
        Value q = memref::LoadOp::create(
            b, l, codes,
            ValueRange{t, arith::AddIOp::create(b, l, first, index(b, i))});
        sum = arith::AddIOp::create(b, l, sum,
                                    arith::ExtSIOp::create(b, l, i32, q));
      }
      Value correction = arith::MulIOp::create(
          b, l, sum, arith::ConstantIntOp::create(b, l, i32, -128));
      memref::StoreOp::create(b, l, correction, corrections,
                              ValueRange{t, lane});
    }
    return SmallVector<Value>{};
  });
}

/// Prefill (more than one token, or a dynamic count): tiles. Decode keeps
/// one output per iteration, so that its rows still split into tasks
/// (async-parallel-for's minimum task size counts iterations).
void Int8ProductLowering::computeOutputs(RewriterBase &rewriter,
                                         bool parallel) {
  seq::cpu::forEachOutputTile(
      rewriter, loc, N, T, wType.getDimSize(0), xType.getDimSize(0), parallel,
      [&](OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
          int64_t tr) { computeTile(b, l, n0, t0, nr, tr); });
}

/// A tile of `nr` outputs by `tr` tokens: each weight vector is loaded and
/// prepared once for the tile's tokens, each token's codes and scales once
/// for its rows (prefill is bound by these loads and the weight side's
/// work, not by memory, once a weight row sits in cache). A single output
/// keeps two accumulators where the length allows (the multiply-add chain,
/// not the loads, bounds one). Then single vectors, then scalar products
/// for the last K % bytes channels.
void Int8ProductLowering::computeTile(OpBuilder &b, Location l, Value n0,
                                      Value t0, int64_t nr, int64_t tr) {
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  int64_t vectorEnd = K / bytes * bytes;
  Int8Ops ops(b, l, kernel, bias);
  int64_t unroll = nr * tr == 1 && K >= 2 * bytes ? 2 : 1;
  int64_t unrolledEnd = K / (unroll * bytes) * (unroll * bytes);
  auto accType = VectorType::get({lanes}, f32);
  Value zero = arith::ConstantOp::create(
      b, l, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
  auto offset = [&](Value base, int64_t d) -> Value {
    return d ? arith::AddIOp::create(b, l, base, index(b, d)).getResult()
             : base;
  };
  if (nr * tr == 1)
    seq::cpu::prefetchRowsAhead(b, l, w, n0);
  SmallVector<Value> ns, ts;
  for (int64_t r = 0; r < nr; ++r)
    ns.push_back(offset(n0, r));
  for (int64_t j = 0; j < tr; ++j)
    ts.push_back(offset(t0, j));
  SmallVector<Value> accs(nr * tr, zero);
  if (unrolledEnd > 0) {
    auto loop = forLoop(b, l, 0, unrolledEnd, unroll * bytes,
                        SmallVector<Value>(unroll * nr * tr, zero),
                        [&](OpBuilder &b, Value k0, ValueRange in) {
                          SmallVector<Value> out(in.begin(), in.end());
                          for (int64_t u = 0; u < unroll; ++u)
                            out = tileStep(b, l, ops, ns, ts,
                                           offset(k0, u * bytes), out, u);
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
                          return tileStep(b, l, ops, ns, ts, k, in, 0);
                        });
    accs.assign(loop.getResults().begin(), loop.getResults().end());
  }
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < tr; ++j) {
      Value n = ns[r], t = ts[j];
      Value sum = vector::ReductionOp::create(b, l, vector::CombiningKind::ADD,
                                              accs[r * tr + j], Value(), fm);
      if (K > vectorEnd)
        sum = addLeftovers(b, l, n, t, sum);
      Value init = memref::LoadOp::create(b, l, y, ValueRange{t, n});
      memref::StoreOp::create(b, l, arith::AddFOp::create(b, l, init, sum), y,
                              ValueRange{t, n});
    }
}

/// One vector step at channel `k` of a tile (rows `ns`, tokens `ts`):
/// accs[(u * nr + r) * tr + j] += dot(w[n_r, k..], q[t_j, k..]) * scales.
SmallVector<Value> Int8ProductLowering::tileStep(OpBuilder &b, Location l,
                                                 Int8Ops &ops,
                                                 ArrayRef<Value> ns,
                                                 ArrayRef<Value> ts, Value k,
                                                 ValueRange accs, int64_t u) {
  auto accType = VectorType::get({lanes}, f32);
  auto bytesType = VectorType::get({bytes}, i8);
  int64_t nr = ns.size(), tr = ts.size();
  SmallVector<Value> next(accs.begin(), accs.end());
  SmallVector<PreparedWeight> ws;
  for (Value n : ns)
    ws.push_back(ops.prepare(
        vector::LoadOp::create(b, l, bytesType, w, ValueRange{n, k})));
  Value lane = arith::DivUIOp::create(b, l, k, index(b, 4));
  for (int64_t j = 0; j < tr; ++j) {
    Value qv =
        vector::LoadOp::create(b, l, bytesType, codes, ValueRange{ts[j], k});
    Value sv =
        vector::LoadOp::create(b, l, accType, scales, ValueRange{ts[j], lane});
    Value cv;
    if (corrections)
      cv = vector::LoadOp::create(b, l, VectorType::get({lanes}, i32),
                                  corrections, ValueRange{ts[j], lane});
    for (int64_t r = 0; r < nr; ++r) {
      Value dot =
          arith::SIToFPOp::create(b, l, accType, ops.dot(ws[r], qv, cv));
      int64_t at = (u * nr + r) * tr + j;
      next[at] = math::FmaOp::create(b, l, dot, sv, next[at]);
    }
  }
  return next;
}

/// `sum` plus the scalar integer products of output (n, t) over the last
/// K % bytes channels, which no whole vector covers.
Value Int8ProductLowering::addLeftovers(OpBuilder &b, Location l, Value n,
                                        Value t, Value sum) {
  int64_t vectorEnd = K / bytes * bytes;
  return forLoop(
             b, l, vectorEnd, K, 1, {sum},
             [&](OpBuilder &b, Value k, ValueRange s) {
               auto wide = [&](Value v) {
                 return arith::ExtSIOp::create(b, l, i32, v).getResult();
               };
               Value q = memref::LoadOp::create(b, l, codes, ValueRange{t, k});
               if (bias == Bias::Codes)
                 q = flipBias(b, l, q);
               Value wk =
                   wide(memref::LoadOp::create(b, l, w, ValueRange{n, k}));
               Value qk = wide(q);
               Value p = arith::MulIOp::create(b, l, wk, qk);
               Value a = memref::LoadOp::create(
                   b, l, scales,
                   ValueRange{t, arith::DivUIOp::create(b, l, k, index(b, 4))});
               Value term = arith::MulFOp::create(
                   b, l, arith::SIToFPOp::create(b, l, f32, p), a);
               return SmallVector<Value>{
                   arith::AddFOp::create(b, l, s[0], term)};
             })
      .getResult(0);
}

} // namespace

bool seq::cpu::isInt8Product(linalg::GenericOp op) {
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

LogicalResult seq::cpu::lowerInt8Product(RewriterBase &rewriter,
                                         linalg::GenericOp op,
                                         Int8Kernel kernel, int64_t block,
                                         bool parallel) {
  Int8ProductLowering lowering(op, kernel, block);
  if (!lowering.applies())
    return failure();
  lowering.lower(rewriter, parallel);
  return success();
}
