//===- X86Q4Kernels.cpp - x86 integer kernels of q4 products --------------===//
//
// A q4 product becomes: activation buffers (codes, per-lane corrections
// and scales), the quantization of the activations, then the outputs. The
// weight codes c are unsigned nibbles standing for c - 8, so each group's
// sum is Σ c·q - 8·Σ q: the dot-product instructions take the nibbles as
// their unsigned operand as they are (vpdpbusd, or vpmaddubsw whose pair
// sums stay far from saturating, 2 · 15 · 127), and start from -8 · Σ q of
// the lane's codes, which depends on the activations alone and is computed
// once per token.
//
// The kernels work on chunks of two groups (64 channels, 32 bytes of
// codes): the low nibbles of the 32 bytes are channels 0-15 of both groups,
// the high nibbles channels 16-31. The activation codes are stored in that
// order (per chunk: channels 0-15, 32-47, 16-31, 48-63), so that the two
// dot products of a chunk leave lanes 0-3 with the first group's sums and
// lanes 4-7 with the second's, and are scaled together by one vector of
// the two groups' scales. A last single group (K mod 64 = 32) is unpacked
// into channel order and multiplies codes stored in channel order.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/X86Q4Kernels.h"
#include "passes/Codegen/CPU/IntegerDot.h"

#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using mlir::seq::kQ4Group;
using mlir::seq::cpu::IntegerDot;
using seqc::Int8Kernel;

namespace {

/// Channels per chunk, and the vectors of the kernels: 32 bytes of codes,
/// eight 32-bit lanes.
constexpr int64_t kChunk = 2 * kQ4Group, kBytes = 32, kLanes = 8;

class Q4ProductLowering {
public:
  Q4ProductLowering(linalg::GenericOp op, Int8Kernel kernel)
      : kernel(kernel), loc(op.getLoc()), x(op.getDpsInputs()[0]),
        w(op.getDpsInputs()[1]), d(op.getDpsInputs()[2]),
        y(op.getDpsInits()[0]), xType(cast<MemRefType>(x.getType())),
        K(xType.getDimSize(1)), chunks(K / kChunk), tail(K % kChunk != 0) {}

  /// Whether the kernel applies: contiguous rows of codes and scales.
  bool applies() const {
    for (Value v : {w, d}) {
      SmallVector<int64_t> strides;
      int64_t offset;
      auto type = cast<MemRefType>(v.getType());
      if (failed(type.getStridesAndOffset(strides, offset)) || strides[1] != 1)
        return false;
    }
    return true;
  }

  void lower(RewriterBase &rewriter, bool parallel) {
    T = size(rewriter, x, 0);
    N = size(rewriter, w, 0);
    allocateActivations(rewriter);
    bool single = xType.getDimSize(0) == 1;
    if (chunks)
      seq::cpu::forEachTokenBlock(rewriter, loc, T, single, chunks, parallel,
                                  [&](OpBuilder &b, Location l, Value t,
                                      Value c) { quantizeChunk(b, l, t, c); });
    if (tail)
      seq::cpu::forEachTokenBlock(rewriter, loc, T, single, 1, parallel,
                                  [&](OpBuilder &b, Location l, Value t,
                                      Value) { quantizeTail(b, l, t); });
    auto staticSize = [](int64_t v) -> std::optional<int64_t> {
      if (ShapedType::isDynamic(v))
        return std::nullopt;
      return v;
    };
    seq::cpu::forEachOutputTile(
        rewriter, loc, N, T,
        staticSize(cast<MemRefType>(w.getType()).getDimSize(0)),
        staticSize(xType.getDimSize(0)), parallel,
        [&](OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
            int64_t tr) { computeTile(b, l, n0, t0, nr, tr); });
    for (Value buffer : {codes, corrections, scales})
      memref::DeallocOp::create(rewriter, loc, buffer);
  }

private:
  Value index(OpBuilder &b, int64_t v) const {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value size(RewriterBase &rewriter, Value m, unsigned dim) const {
    return getValueOrCreateConstantIndexOp(
        rewriter, loc, memref::getMixedSize(rewriter, loc, m, dim));
  }
  Value offset(OpBuilder &b, Location l, Value base, int64_t delta) const {
    return delta
               ? arith::AddIOp::create(b, l, base, index(b, delta)).getResult()
               : base;
  }
  Value times(OpBuilder &b, Location l, Value v, int64_t factor) const {
    return arith::MulIOp::create(b, l, v, index(b, factor));
  }

  void allocateActivations(RewriterBase &rewriter);
  Value quantizeGroup(OpBuilder &b, Location l, Value t, Value base,
                      function_ref<Value(OpBuilder &, Value)> position);
  void finishChunk(OpBuilder &b, Location l, Value t, Value c, int64_t groups,
                   ArrayRef<Value> groupScales);
  void quantizeChunk(OpBuilder &b, Location l, Value t, Value c);
  void quantizeTail(OpBuilder &b, Location l, Value t);
  void computeTile(OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
                   int64_t tr);

  Int8Kernel kernel;
  Location loc;
  Value x, w, d, y;
  MemRefType xType;
  int64_t K, chunks;
  bool tail;
  Value T, N;
  /// Per token: int8 codes ([T, K], in the kernels' order), and per chunk
  /// and 32-bit lane -8 · Σ q ([T, 8 · chunks (+ 8)] i32) and the scale of
  /// the lane's group ([T, 8 · chunks (+ 8)] f32).
  Value codes, corrections, scales;
};

void Q4ProductLowering::allocateActivations(RewriterBase &rewriter) {
  auto alloc = [&](int64_t cols, Type elt) -> Value {
    SmallVector<Value> dyn;
    if (xType.isDynamicDim(0))
      dyn.push_back(T);
    return memref::AllocOp::create(
        rewriter, loc, MemRefType::get({xType.getDimSize(0), cols}, elt), dyn,
        rewriter.getI64IntegerAttr(64));
  };
  int64_t lanes = kLanes * (chunks + (tail ? 1 : 0));
  codes = alloc(K, rewriter.getI8Type());
  corrections = alloc(lanes, rewriter.getI32Type());
  scales = alloc(lanes, rewriter.getF32Type());
}

/// The group of token `t` from channel `base`: its codes stored at
/// `position(j)` for channel base + j; returns its scale.
Value Q4ProductLowering::quantizeGroup(
    OpBuilder &b, Location l, Value t, Value base,
    function_ref<Value(OpBuilder &, Value)> position) {
  return seq::cpu::quantizeActivationBlock(
      b, l, x, t, base, kQ4Group, [&](OpBuilder &b, Value j, Value q) {
        memref::StoreOp::create(b, l, q, codes, ValueRange{t, position(b, j)});
      });
}

/// Chunk `c` of token `t` once its codes are stored: the lanes' -8 · Σ q
/// over the chunk's 32-byte halves (dot products with bytes of 8), and the
/// lanes' scales (`groups` 1: all eight the one group's; 2: four each).
void Q4ProductLowering::finishChunk(OpBuilder &b, Location l, Value t, Value c,
                                    int64_t groups,
                                    ArrayRef<Value> groupScales) {
  IntegerDot dot(b, l, kernel, kBytes);
  auto bytesType = dot.vec(kBytes, b.getI8Type());
  auto laneType = dot.vec(kLanes, b.getI32Type());
  Value zero = dot.splat(laneType, b.getI32IntegerAttr(0));
  Value eights = dot.splat(bytesType, b.getI8IntegerAttr(8));
  Value base = times(b, l, c, kChunk);
  Value sums = zero;
  for (int64_t h = 0; h < groups; ++h) {
    Value q = vector::LoadOp::create(
        b, l, bytesType, codes, ValueRange{t, offset(b, l, base, h * kBytes)});
    sums = dot.dotSmallUnsigned(sums, eights, q);
  }
  Value lane = times(b, l, c, kLanes);
  vector::StoreOp::create(b, l, arith::SubIOp::create(b, l, zero, sums),
                          corrections, ValueRange{t, lane});
  SmallVector<Value> laneScales;
  for (int64_t i = 0; i < kLanes; ++i)
    laneScales.push_back(groupScales[i * groups / kLanes]);
  Value v = vector::FromElementsOp::create(
      b, l, dot.vec(kLanes, b.getF32Type()), laneScales);
  vector::StoreOp::create(b, l, v, scales, ValueRange{t, lane});
}

/// Whole chunk `c`: channel 64c + 32h + j goes to 64c + 16h + j, plus 16
/// for j >= 16 (the order of the weights' nibbles).
void Q4ProductLowering::quantizeChunk(OpBuilder &b, Location l, Value t,
                                      Value c) {
  Value base = times(b, l, c, kChunk);
  Value groupScales[2];
  for (int64_t h = 0; h < 2; ++h)
    groupScales[h] = quantizeGroup(
        b, l, t, offset(b, l, base, h * kQ4Group),
        [&](OpBuilder &b, Value j) -> Value {
          Value high =
              times(b, l, arith::DivUIOp::create(b, l, j, index(b, 16)), 16);
          Value at = arith::AddIOp::create(b, l, j, high);
          return arith::AddIOp::create(b, l, offset(b, l, base, 16 * h), at);
        });
  finishChunk(b, l, t, c, 2, groupScales);
}

/// The last single group, in channel order.
void Q4ProductLowering::quantizeTail(OpBuilder &b, Location l, Value t) {
  Value c = index(b, chunks);
  Value base = index(b, chunks * kChunk);
  Value scale =
      quantizeGroup(b, l, t, base, [&](OpBuilder &b, Value j) -> Value {
        return arith::AddIOp::create(b, l, base, j);
      });
  finishChunk(b, l, t, c, 1, {scale});
}

/// A tile of `nr` outputs by `tr` tokens. Per chunk each row's 32 bytes
/// are loaded once and split into their nibbles for all the tile's tokens,
/// each token's codes, corrections and scales loaded once for all its
/// rows; per chunk and output two dot products (one per nibble), one
/// conversion to f32 and one multiply-add by the lanes' two scales. The
/// last single group follows the same steps on 16 bytes.
void Q4ProductLowering::computeTile(OpBuilder &b, Location l, Value n0,
                                    Value t0, int64_t nr, int64_t tr) {
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  Type f32 = b.getF32Type(), f16 = b.getF16Type(), i8 = b.getI8Type(),
       i32 = b.getI32Type();
  IntegerDot outer(b, l, kernel, kBytes);
  auto accType = outer.vec(kLanes, f32);
  auto bytesType = outer.vec(kBytes, i8);
  auto laneType = outer.vec(kLanes, i32);
  SmallVector<Value> ns, ts;
  for (int64_t r = 0; r < nr; ++r)
    ns.push_back(offset(b, l, n0, r));
  for (int64_t j = 0; j < tr; ++j)
    ts.push_back(offset(b, l, t0, j));

  // One chunk (`groups` 2) or the last group (1) at chunk index `c`.
  auto step = [&](OpBuilder &b, Value c, int64_t groups,
                  SmallVector<Value> accs) {
    IntegerDot dot(b, l, kernel, kBytes);
    Value byte = times(b, l, c, kBytes);
    Value group = times(b, l, c, 2);
    Value lane = times(b, l, c, kLanes);
    Value chunkBase = times(b, l, c, kChunk);
    // Per row: the nibbles as unsigned codes, and the lanes' scales.
    SmallVector<std::array<Value, 2>> wCodes;
    SmallVector<Value> wScales;
    for (Value n : ns) {
      int64_t width = groups * kQ4Group / 2;
      auto packedType = dot.vec(width, i8);
      Value packed =
          vector::LoadOp::create(b, l, packedType, w, ValueRange{n, byte});
      Value mask = dot.splat(packedType, b.getI8IntegerAttr(15));
      Value four = dot.splat(packedType, b.getI8IntegerAttr(4));
      Value shifted = arith::ShRUIOp::create(b, l, packed, four);
      Value low = arith::AndIOp::create(b, l, packed, mask);
      Value high = arith::AndIOp::create(b, l, shifted, mask);
      if (groups == 2) {
        wCodes.push_back({low, high});
      } else {
        SmallVector<int64_t> both;
        for (int64_t i = 0; i < kBytes; ++i)
          both.push_back(i);
        wCodes.push_back(
            {vector::ShuffleOp::create(b, l, low, high, both), Value()});
      }
      Value halves = vector::LoadOp::create(b, l, dot.vec(groups, f16), d,
                                            ValueRange{n, group});
      Value wide = arith::ExtFOp::create(b, l, dot.vec(groups, f32), halves);
      SmallVector<int64_t> spread;
      for (int64_t i = 0; i < kLanes; ++i)
        spread.push_back(i * groups / kLanes);
      wScales.push_back(vector::ShuffleOp::create(b, l, wide, wide, spread));
    }
    for (int64_t j = 0; j < tr; ++j) {
      Value q[2];
      for (int64_t h = 0; h < groups; ++h)
        q[h] = vector::LoadOp::create(
            b, l, bytesType, codes,
            ValueRange{ts[j], offset(b, l, chunkBase, h * kBytes)});
      Value corr = vector::LoadOp::create(b, l, laneType, corrections,
                                          ValueRange{ts[j], lane});
      Value a = vector::LoadOp::create(b, l, accType, scales,
                                       ValueRange{ts[j], lane});
      for (int64_t r = 0; r < nr; ++r) {
        Value sums = corr;
        for (int64_t h = 0; h < groups; ++h)
          sums = dot.dotSmallUnsigned(sums, wCodes[r][h], q[h]);
        Value f = arith::SIToFPOp::create(b, l, accType, sums);
        Value s = arith::MulFOp::create(b, l, a, wScales[r]);
        accs[r * tr + j] = math::FmaOp::create(b, l, f, s, accs[r * tr + j]);
      }
    }
    return accs;
  };

  Value zero = outer.splat(accType, b.getF32FloatAttr(0));
  SmallVector<Value> accs(nr * tr, zero);
  // A single output takes two chunks per iteration into two accumulators:
  // one multiply-add chain would bound it.
  int64_t unroll = nr * tr == 1 && chunks >= 2 ? 2 : 1;
  int64_t unrolledEnd = chunks / unroll * unroll;
  if (unrolledEnd) {
    auto loop = seq::cpu::forLoop(
        b, l, 0, unrolledEnd, unroll,
        SmallVector<Value>(unroll * nr * tr, zero),
        [&](OpBuilder &b, Value c, ValueRange in) {
          SmallVector<Value> out;
          for (int64_t u = 0; u < unroll; ++u) {
            SmallVector<Value> part(in.begin() + u * nr * tr,
                                    in.begin() + (u + 1) * nr * tr);
            llvm::append_range(out, step(b, offset(b, l, c, u), 2, part));
          }
          return out;
        });
    for (int64_t i = 0; i < nr * tr; ++i) {
      accs[i] = loop.getResult(i);
      for (int64_t u = 1; u < unroll; ++u)
        accs[i] = arith::AddFOp::create(b, l, accs[i],
                                        loop.getResult(u * nr * tr + i));
    }
  }
  if (unrolledEnd < chunks)
    accs = step(b, index(b, unrolledEnd), 2, accs);
  if (tail)
    accs = step(b, index(b, chunks), 1, accs);
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < tr; ++j) {
      Value sum = vector::ReductionOp::create(b, l, vector::CombiningKind::ADD,
                                              accs[r * tr + j], Value(), fm);
      Value init = memref::LoadOp::create(b, l, y, ValueRange{ts[j], ns[r]});
      memref::StoreOp::create(b, l, arith::AddFOp::create(b, l, init, sum), y,
                              ValueRange{ts[j], ns[r]});
    }
}

} // namespace

LogicalResult seq::cpu::lowerQ4Product(RewriterBase &rewriter,
                                       linalg::GenericOp op, Int8Kernel kernel,
                                       bool parallel) {
  Q4ProductLowering lowering(op, kernel);
  if (!lowering.applies())
    return failure();
  lowering.lower(rewriter, parallel);
  return success();
}
