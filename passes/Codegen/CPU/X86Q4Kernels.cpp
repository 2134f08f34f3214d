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
// The kernels work on units of W groups (16 W bytes of codes): W = 4 with
// 64-byte vectors (avx512vnni), 2 with 32-byte ones, and 1 for a last
// single group. The low nibbles of a unit's bytes are channels 0-15 of its
// groups, the high nibbles channels 16-31; the activation codes are stored
// in that order (per unit: channels 0-15 of each group, then 16-31 of
// each), so that a unit's two dot products leave each group's exact sums
// in four lanes of its own, scaled together by one vector of the groups'
// scales. A single group is unpacked into channel order (its codes are
// then in channel order too) for one 32-byte dot product.
//
// A q4k product (GGML Q4_K's values: W = d sc c - dmin m per sub-block of
// 32) uses the same units: its codes are unsigned as they are, so the dot
// products start from zero, and the lanes' scales are d sc; the minima's
// share, -dmin m a Σ q per lane, is one more multiply-add by a vector of
// -a Σ q per lane that each token computes once (a unit never straddles a
// super-block: W divides its 8 sub-blocks).
//
// q5 and q6 products (codes of 5 and 6 bits standing for c - 16, c - 32)
// take q4's units and corrections (-16 Σ q, -32 Σ q): a unit's high bits,
// 4 bytes a group and plane, are spread over the nibbles' 16 W bytes by one
// byte shuffle per plane and half (bytes 0-1 of a group for channels 0-15,
// 2-3 for 16-31), tested against each byte's bit (1 << j % 8) and or-ed in
// as 16 or 32; the codes stay below 64, so pairs of products stay far from
// saturating.
//
// q5k products (GGML Q5_K's values) are q4k's with q5's plane of bit 4 or-ed
// into the codes as 16 (codes below 32: pairs of products stay far from
// saturating).
//
// q6k products (GGML Q6_K's values: W = d sc (c - 32) per sub-block of 16)
// take q6's codes and units, but a unit's two dot products (channels 0-15
// of each group, then 16-31) are sub-blocks with scales of their own: each
// keeps its own sums, from its own -32 Σ q, converted and scaled by its
// own lanes' d sc (a single group's one dot product has sub-block 0 in
// lanes 0-3 and sub-block 1 in lanes 4-7).
//
// q8 products (GGML Q8_0's signed codes) take units of one vector of
// groups in channel order (W = 2 with 64-byte vectors, else 1; one dot
// product each). With VNNI the codes are made unsigned by flipping their
// sign bit (c + 128) and the sums start from -128 Σ q; vpmaddubsw's pairs
// of 255 · 127 would saturate, so AVX2 multiplies |c| by q with c's sign
// (vpsignb), from zero.
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

/// Consecutive units of `width` groups, from group `first`; their lanes in
/// the activation buffers start at `lane`. A group's codes take
/// `groupBytes` bytes (16 packed, 32 for q8).
struct Region {
  int64_t first, units, width, lane, groupBytes;
  /// Bytes of a unit's codes in a weight row.
  int64_t codeBytes() const { return groupBytes * width; }
  /// Bytes of a unit's dot-product vectors, and 32-bit lanes.
  int64_t bytes() const { return std::max<int64_t>(32, codeBytes()); }
  int64_t lanes() const { return bytes() / 4; }
};

class Q4ProductLowering {
public:
  Q4ProductLowering(linalg::GenericOp op, seq::GroupFormat format,
                    Int8Kernel kernel)
      : kernel(kernel), loc(op.getLoc()),
        q4k(format == seq::GroupFormat::Q4K || format == seq::GroupFormat::Q5K),
        q6k(format == seq::GroupFormat::Q6K),
        q8(format == seq::GroupFormat::Q8),
        planes(q8 ? 0 : seq::codeBits(format) - 4), x(op.getDpsInputs()[0]),
        w(op.getDpsInputs()[1]), y(op.getDpsInits()[0]),
        xType(cast<MemRefType>(x.getType())), K(xType.getDimSize(1)) {
    for (int64_t i = 0; i < planes; ++i)
      bits.push_back(op.getDpsInputs()[2 + i]);
    if (q4k) {
      sc = op.getDpsInputs()[2 + planes];
      mins = op.getDpsInputs()[3 + planes];
      d = op.getDpsInputs()[4 + planes];
      dmin = op.getDpsInputs()[5 + planes];
    } else {
      if (q6k)
        sc = op.getDpsInputs()[2 + planes];
      d = op.getDpsInputs()[2 + planes + q6k];
    }
    int64_t groups = K / kQ4Group, next = 0;
    bool wide = kernel == Int8Kernel::AVX512VNNI;
    SmallVector<int64_t, 3> widths = {wide ? 4 : 2, 2, 1};
    if (q8) // one vector of groups a unit
      widths = {wide ? 2 : 1, 1};
    for (int64_t width : widths) {
      int64_t units = (groups - next) / width;
      if (!units)
        continue;
      regions.push_back({next, units, width, lanes, q8 ? 32 : 16});
      next += units * width;
      lanes += units * regions.back().lanes();
    }
  }

  /// Whether the kernel applies: contiguous rows of codes and scales.
  bool applies() const {
    SmallVector<Value> operands = {w, d, sc, mins, dmin};
    llvm::append_range(operands, bits);
    for (Value v : operands) {
      if (!v)
        continue;
      SmallVector<int64_t> strides;
      int64_t offset;
      auto type = cast<MemRefType>(v.getType());
      if (failed(type.getStridesAndOffset(strides, offset)) || strides[1] != 1)
        return false;
    }
    return true;
  }

  void lower(RewriterBase &rewriter, bool parallel) {
    T = seq::cpu::memrefDim(rewriter, loc, x, 0);
    N = seq::cpu::memrefDim(rewriter, loc, w, 0);
    allocateActivations(rewriter);
    bool single = xType.getDimSize(0) == 1;
    for (const Region &region : regions)
      seq::cpu::forEachTokenBlock(
          rewriter, loc, T, single, region.units, parallel,
          [&](OpBuilder &b, Location l, Value t, Value u) {
            quantizeUnit(b, l, region, t, u);
          });
    seq::cpu::forEachOutputTile(
        rewriter, loc, N, T, cast<MemRefType>(w.getType()).getDimSize(0),
        xType.getDimSize(0), parallel,
        [&](OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
            int64_t tr) { computeTile(b, l, n0, t0, nr, tr); });
    for (Value buffer : {codes, corrections, scales})
      memref::DeallocOp::create(rewriter, loc, buffer);
  }

private:
  Value index(OpBuilder &b, int64_t v) const {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value offset(OpBuilder &b, Location l, Value base, int64_t delta) const {
    return delta
               ? arith::AddIOp::create(b, l, base, index(b, delta)).getResult()
               : base;
  }
  /// base + v · factor.
  Value affine(OpBuilder &b, Location l, int64_t base, Value v,
               int64_t factor) const {
    Value scaled = arith::MulIOp::create(b, l, v, index(b, factor));
    return offset(b, l, scaled, base);
  }

  void allocateActivations(RewriterBase &rewriter);
  void quantizeUnit(OpBuilder &b, Location l, const Region &region, Value t,
                    Value u);
  SmallVector<Value> unitStep(OpBuilder &b, Location l, const Region &region,
                              Value u, ArrayRef<Value> ns, ArrayRef<Value> ts,
                              SmallVector<Value> accs);
  void computeTile(OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
                   int64_t tr);

  /// The lanes' weight scales of row `n`'s unit at `group`: d, or d sc
  /// (q6k: one vector per dot product, the sub-blocks' d sc), and for q4k
  /// the lanes' minima (dmin m).
  struct RowScales {
    SmallVector<Value, 2> scales;
    Value mins;
  };
  RowScales rowScales(OpBuilder &b, Location l, const Region &region, Value n,
                      Value group);

  /// The unsigned codes of row `n`'s unit at `byte` for each of the unit's
  /// dot products (q8 on AVX2: |c|, with `sign` set to c).
  SmallVector<Value, 2> rowCodes(OpBuilder &b, Location l, const Region &region,
                                 Value n, Value byte, Value group, Value &sign);

  /// Whether the codes are signed, multiplied as |c| by q with c's sign.
  bool signTrick() const { return q8 && kernel == Int8Kernel::AVX2; }
  /// Whether the integer sums start from the per-lane corrections (codes
  /// standing for c - middle).
  bool centered() const { return !q4k && !signTrick(); }
  /// Dot products per unit of `region`: 2 (the halves of the groups), or
  /// 1 (a single group in channel order, or q8's groups).
  int64_t parts(const Region &region) const {
    return kQ4Group * region.width / region.bytes();
  }
  /// Whether a unit's dot products keep sums of their own (q6k's
  /// sub-blocks of 16 in the two halves).
  bool splitParts(const Region &region) const {
    return q6k && parts(region) == 2;
  }
  /// Correction lanes a unit's lane takes: q6k keeps one per half.
  int64_t correctionsPerLane() const { return q6k ? 2 : 1; }

  Int8Kernel kernel;
  Location loc;
  /// q4k: q4k or q5k (codes unsigned as they are, minima).
  bool q4k, q6k, q8;
  /// Bit planes of the codes (q5, q5k: 1; q6, q6k: 2).
  int64_t planes;
  /// The operands: for q4k, also the sub-blocks' scales and minima and the
  /// super-blocks' factors; for q5 and q6 the bit planes.
  Value x, w, d, y, sc, mins, dmin;
  SmallVector<Value, 2> bits;
  MemRefType xType;
  int64_t K, lanes = 0;
  SmallVector<Region> regions;
  Value T, N;
  /// Per token: int8 codes ([T, K], in the kernels' order), and per unit
  /// and 32-bit lane -middle · Σ q ([T, lanes] i32; q4k: -a · Σ q, f32;
  /// q6k: [T, 2 lanes], each unit's lanes for each half) and the scale a of
  /// the lane's group ([T, lanes] f32).
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
  codes = alloc(K, rewriter.getI8Type());
  corrections =
      alloc(lanes * correctionsPerLane(),
            q4k ? Type(rewriter.getF32Type()) : Type(rewriter.getI32Type()));
  scales = alloc(lanes, rewriter.getF32Type());
}

/// Unit `u` of `region` for token `t`: each group's codes
/// (quantizeActivationBlock; channel 32 i + j of the unit goes to 16 i + j,
/// plus 16 (W - 1) for j >= 16; q8: kept in place), the lanes' -middle · Σ q
/// (dot products of the unit's codes with bytes of the middle code) and the
/// lanes' scales.
void Q4ProductLowering::quantizeUnit(OpBuilder &b, Location l,
                                     const Region &region, Value t, Value u) {
  int64_t W = region.width, bytes = region.bytes(), unitLanes = region.lanes();
  Value base = affine(b, l, region.first * kQ4Group, u, W * kQ4Group);
  SmallVector<Value> groupScales;
  for (int64_t i = 0; i < W; ++i)
    groupScales.push_back(seq::cpu::quantizeActivationBlock(
        b, l, x, t, offset(b, l, base, i * kQ4Group), kQ4Group,
        [&](OpBuilder &b, Value j, Value q) {
          if (q8) {
            Value at = offset(b, l, base, i * kQ4Group);
            Value position = arith::AddIOp::create(b, l, at, j);
            memref::StoreOp::create(b, l, q, codes, ValueRange{t, position});
            return;
          }
          Value high = arith::DivUIOp::create(b, l, j, index(b, 16));
          Value at = arith::AddIOp::create(
              b, l, j,
              arith::MulIOp::create(b, l, high, index(b, 16 * (W - 1))));
          Value position =
              arith::AddIOp::create(b, l, offset(b, l, base, 16 * i), at);
          memref::StoreOp::create(b, l, q, codes, ValueRange{t, position});
        }));
  IntegerDot dot(b, l, kernel, bytes);
  auto bytesType = dot.vec(bytes, b.getI8Type());
  auto laneType = dot.vec(unitLanes, b.getI32Type());
  Value zero = dot.splat(laneType, b.getI32IntegerAttr(0));
  // Σ q per lane, times the middle code for codes standing for c - middle.
  int64_t middle = q4k || signTrick() ? 1 : q8 ? 128 : 8 << planes;
  Value factors =
      dot.splat(bytesType, b.getI8IntegerAttr(static_cast<int8_t>(middle)));
  // One sum per dot product where they are kept apart (q6k), else one.
  SmallVector<Value, 2> sums = {zero};
  for (int64_t h = 0; h < parts(region) && (q4k || centered()); ++h) {
    Value q = vector::LoadOp::create(
        b, l, bytesType, codes, ValueRange{t, offset(b, l, base, h * bytes)});
    if (h && splitParts(region))
      sums.push_back(zero);
    sums.back() = dot.dotSmallUnsigned(sums.back(), factors, q);
  }
  Value lane = affine(b, l, region.lane, u, unitLanes);
  SmallVector<Value> laneScales;
  for (int64_t i = 0; i < unitLanes; ++i)
    laneScales.push_back(groupScales[i * W / unitLanes]);
  auto floats = dot.vec(unitLanes, b.getF32Type());
  Value v, correction;
  if (q4k) { // -a Σ q
    v = vector::FromElementsOp::create(b, l, floats, laneScales);
    Value f = arith::SIToFPOp::create(b, l, floats, sums[0]);
    Value scaled = arith::MulFOp::create(b, l, f, v);
    correction = arith::NegFOp::create(b, l, scaled);
  } else { // -8 Σ q
    correction = arith::SubIOp::create(b, l, zero, sums[0]);
  }
  // q6k: the unit's lanes at 2 lane, each half's unitLanes apart.
  Value correctionLane =
      q6k ? affine(b, l, 2 * region.lane, u, 2 * unitLanes) : lane;
  vector::StoreOp::create(b, l, correction, corrections,
                          ValueRange{t, correctionLane});
  if (sums.size() == 2) {
    Value second = arith::SubIOp::create(b, l, zero, sums[1]);
    vector::StoreOp::create(
        b, l, second, corrections,
        ValueRange{t, offset(b, l, correctionLane, unitLanes)});
  }
  if (!v)
    v = vector::FromElementsOp::create(b, l, floats, laneScales);
  vector::StoreOp::create(b, l, v, scales, ValueRange{t, lane});
}

Q4ProductLowering::RowScales
Q4ProductLowering::rowScales(OpBuilder &b, Location l, const Region &region,
                             Value n, Value group) {
  int64_t W = region.width, unitLanes = region.lanes();
  Type f32 = b.getF32Type(), f16 = b.getF16Type(), i8 = b.getI8Type();
  IntegerDot dot(b, l, kernel, region.bytes());
  SmallVector<int64_t> spread;
  for (int64_t i = 0; i < unitLanes; ++i)
    spread.push_back(i * W / unitLanes);
  auto toLanes = [&](Value wide) -> Value {
    return vector::ShuffleOp::create(b, l, wide, wide, spread);
  };
  if (!q4k && !q6k) {
    Value halves =
        vector::LoadOp::create(b, l, dot.vec(W, f16), d, ValueRange{n, group});
    return {{toLanes(arith::ExtFOp::create(b, l, dot.vec(W, f32), halves))},
            Value()};
  }
  // factor[n, group / 8] · table[n, group .. group + W).
  Value super = arith::DivUIOp::create(
      b, l, group, index(b, seq::kQ4KSuperBlock / kQ4Group));
  if (q6k) {
    // d[n, group / 8] · sc[n, 2 group .. 2 group + 2 W): the lanes of half
    // h of group g take sub-block 2 g + h; a single group's lane i, i / 4.
    Value factor = memref::LoadOp::create(b, l, d, ValueRange{n, super});
    Value wide = arith::ExtFOp::create(b, l, f32, factor);
    Value at = arith::MulIOp::create(b, l, group, index(b, 2));
    Value counts =
        vector::LoadOp::create(b, l, dot.vec(2 * W, i8), sc, ValueRange{n, at});
    Value countsF = arith::SIToFPOp::create(b, l, dot.vec(2 * W, f32), counts);
    Value splat = vector::BroadcastOp::create(b, l, dot.vec(2 * W, f32), wide);
    Value scaled = arith::MulFOp::create(b, l, countsF, splat);
    RowScales out;
    for (int64_t h = 0; h < parts(region); ++h) {
      SmallVector<int64_t> subOf;
      for (int64_t i = 0; i < unitLanes; ++i)
        subOf.push_back(splitParts(region) ? 2 * (i * W / unitLanes) + h
                                           : i * 2 / unitLanes);
      out.scales.push_back(
          vector::ShuffleOp::create(b, l, scaled, scaled, subOf));
    }
    return out;
  }
  auto scaled = [&](Value factors, Value table) -> Value {
    Value factor = memref::LoadOp::create(b, l, factors, ValueRange{n, super});
    Value wide = arith::ExtFOp::create(b, l, f32, factor);
    Value counts = vector::LoadOp::create(b, l, dot.vec(W, i8), table,
                                          ValueRange{n, group});
    Value countsF = arith::UIToFPOp::create(b, l, dot.vec(W, f32), counts);
    Value splat = vector::BroadcastOp::create(b, l, dot.vec(W, f32), wide);
    return toLanes(arith::MulFOp::create(b, l, countsF, splat));
  };
  return {{scaled(d, sc)}, scaled(dmin, mins)};
}

SmallVector<Value, 2> Q4ProductLowering::rowCodes(OpBuilder &b, Location l,
                                                  const Region &region, Value n,
                                                  Value byte, Value group,
                                                  Value &sign) {
  int64_t W = region.width, bytes = region.bytes();
  Type i8 = b.getI8Type();
  IntegerDot dot(b, l, kernel, bytes);
  if (q8) {
    Value c = vector::LoadOp::create(b, l, dot.vec(bytes, i8), w,
                                     ValueRange{n, byte});
    if (signTrick()) {
      sign = c;
      return {math::AbsIOp::create(b, l, c)};
    }
    Value flip = dot.splat(dot.vec(bytes, i8), b.getI8IntegerAttr(-128));
    return {arith::XOrIOp::create(b, l, c, flip)};
  }
  auto packedType = dot.vec(16 * W, i8);
  Value packed =
      vector::LoadOp::create(b, l, packedType, w, ValueRange{n, byte});
  Value mask = dot.splat(packedType, b.getI8IntegerAttr(15));
  Value four = dot.splat(packedType, b.getI8IntegerAttr(4));
  Value shifted = arith::ShRUIOp::create(b, l, packed, four);
  Value halves[2] = {arith::AndIOp::create(b, l, packed, mask),
                     arith::AndIOp::create(b, l, shifted, mask)};
  // The planes' bits: byte 16 g + j of half h takes bit j % 8 of the
  // plane's byte 4 g + 2 h + j / 8.
  for (auto [p, plane] : llvm::enumerate(bits)) {
    Value at = arith::MulIOp::create(b, l, group, index(b, 4));
    Value high = vector::LoadOp::create(b, l, dot.vec(4 * W, i8), plane,
                                        ValueRange{n, at});
    SmallVector<int8_t> bitOf;
    for (int64_t i = 0; i < 16 * W; ++i)
      bitOf.push_back(static_cast<int8_t>(1 << (i % 8)));
    Value bitMask = arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(packedType, ArrayRef<int8_t>(bitOf)));
    Value zero = dot.splat(packedType, b.getI8IntegerAttr(0));
    Value value = dot.splat(packedType, b.getI8IntegerAttr(16 << p));
    for (int64_t h = 0; h < 2; ++h) {
      SmallVector<int64_t> spread;
      for (int64_t i = 0; i < 16 * W; ++i)
        spread.push_back(4 * (i / 16) + 2 * h + i % 16 / 8);
      Value spreadBytes = vector::ShuffleOp::create(b, l, high, high, spread);
      Value tested = arith::AndIOp::create(b, l, spreadBytes, bitMask);
      Value set =
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, tested, zero);
      Value add = arith::SelectOp::create(b, l, set, value, zero);
      halves[h] = arith::OrIOp::create(b, l, halves[h], add);
    }
  }
  if (16 * W * 2 == bytes) {
    // A single group: back into channel order, one dot product.
    SmallVector<int64_t> both;
    for (int64_t i = 0; i < bytes; ++i)
      both.push_back(i);
    return {vector::ShuffleOp::create(b, l, halves[0], halves[1], both)};
  }
  return {halves[0], halves[1]};
}

/// Unit `u` of `region` for the tile's rows `ns` and tokens `ts`: each
/// row's codes unpacked once for all the tokens (rowCodes), each token's
/// codes, corrections and scales loaded once for all the rows; per output
/// the dot products, one conversion to f32 and one multiply-add by the
/// lanes' activation times weight scales.
SmallVector<Value> Q4ProductLowering::unitStep(OpBuilder &b, Location l,
                                               const Region &region, Value u,
                                               ArrayRef<Value> ns,
                                               ArrayRef<Value> ts,
                                               SmallVector<Value> accs) {
  int64_t W = region.width, bytes = region.bytes(), unitLanes = region.lanes();
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  IntegerDot dot(b, l, kernel, bytes);
  auto accType = dot.vec(unitLanes, f32);
  auto bytesType = dot.vec(bytes, i8);
  Value group = affine(b, l, region.first, u, W);
  Value byte =
      affine(b, l, region.first * region.groupBytes, u, region.codeBytes());
  Value base = affine(b, l, region.first * kQ4Group, u, W * kQ4Group);
  Value lane = affine(b, l, region.lane, u, unitLanes);
  int64_t parts = this->parts(region);
  bool split = splitParts(region);
  // Per row: the unsigned codes of each dot product (and for the sign
  // trick the signed ones), and the lanes' scales.
  SmallVector<SmallVector<Value, 2>> wCodes;
  SmallVector<Value> wSigns;
  SmallVector<RowScales> wScales;
  for (Value n : ns) {
    Value sign;
    wCodes.push_back(rowCodes(b, l, region, n, byte, group, sign));
    wSigns.push_back(sign);
    wScales.push_back(rowScales(b, l, region, n, group));
  }
  int64_t nr = ns.size(), tr = ts.size();
  for (int64_t j = 0; j < tr; ++j) {
    SmallVector<Value, 2> q;
    for (int64_t h = 0; h < parts; ++h)
      q.push_back(vector::LoadOp::create(
          b, l, bytesType, codes,
          ValueRange{ts[j], offset(b, l, base, h * bytes)}));
    // q6k: the halves' corrections, unitLanes apart from 2 lane.
    Value correctionLane =
        q6k ? affine(b, l, 2 * region.lane, u, 2 * unitLanes) : lane;
    SmallVector<Value, 2> corr;
    for (int64_t h = 0; h < (split ? 2 : 1); ++h)
      corr.push_back(vector::LoadOp::create(
          b, l, dot.vec(unitLanes, q4k ? f32 : i32), corrections,
          ValueRange{ts[j], offset(b, l, correctionLane, h * unitLanes)}));
    Value a =
        vector::LoadOp::create(b, l, accType, scales, ValueRange{ts[j], lane});
    // q4k's sums (and the sign trick's) start from zero, the others' from
    // -middle Σ q.
    Value zero = dot.splat(dot.vec(unitLanes, i32), b.getI32IntegerAttr(0));
    for (int64_t r = 0; r < nr; ++r) {
      Value acc = accs[r * tr + j];
      // One sum for the unit, or (q6k) one per dot product, each scaled.
      for (int64_t first = 0; first < parts; first += split ? 1 : parts) {
        Value sums = centered() ? corr[split ? first : 0] : zero;
        for (int64_t h = first; h < (split ? first + 1 : parts); ++h) {
          Value s = q[h];
          if (signTrick())
            s = dot.intrinsic("llvm.x86.avx2.psign.b", bytesType,
                              {s, wSigns[r]});
          sums = dot.dotSmallUnsigned(sums, wCodes[r][h], s);
        }
        Value f = arith::SIToFPOp::create(b, l, accType, sums);
        Value s = arith::MulFOp::create(b, l, a,
                                        wScales[r].scales[split ? first : 0]);
        acc = math::FmaOp::create(b, l, f, s, acc);
      }
      if (q4k) // - dmin m · a Σ q
        acc = math::FmaOp::create(b, l, corr[0], wScales[r].mins, acc);
      accs[r * tr + j] = acc;
    }
  }
  return accs;
}

/// A tile of `nr` outputs by `tr` tokens: each region's units in a loop
/// (a single output takes two units per iteration into two accumulators:
/// one multiply-add chain would bound it), the regions' accumulators
/// summed at the end.
void Q4ProductLowering::computeTile(OpBuilder &b, Location l, Value n0,
                                    Value t0, int64_t nr, int64_t tr) {
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  SmallVector<Value> ns, ts;
  for (int64_t r = 0; r < nr; ++r)
    ns.push_back(offset(b, l, n0, r));
  for (int64_t j = 0; j < tr; ++j)
    ts.push_back(offset(b, l, t0, j));
  SmallVector<Value> sums(nr * tr);
  if (nr * tr == 1) {
    SmallVector<Value> weights = {w};
    llvm::append_range(weights, bits);
    for (Value v : {sc, mins, d, dmin})
      if (v)
        weights.push_back(v);
    seq::cpu::prefetchRowsAhead(b, l, weights, n0);
  }
  for (const Region &region : regions) {
    IntegerDot dot(b, l, kernel, region.bytes());
    auto accType = dot.vec(region.lanes(), b.getF32Type());
    Value zero = dot.splat(accType, b.getF32FloatAttr(0));
    SmallVector<Value> accs(nr * tr, zero);
    int64_t unroll = nr * tr == 1 && region.units >= 2 ? 2 : 1;
    int64_t unrolledEnd = region.units / unroll * unroll;
    if (unrolledEnd) {
      auto loop = seq::cpu::forLoop(
          b, l, 0, unrolledEnd, unroll,
          SmallVector<Value>(unroll * nr * tr, zero),
          [&](OpBuilder &b, Value u, ValueRange in) {
            SmallVector<Value> out;
            for (int64_t k = 0; k < unroll; ++k) {
              SmallVector<Value> part(in.begin() + k * nr * tr,
                                      in.begin() + (k + 1) * nr * tr);
              llvm::append_range(out, unitStep(b, l, region, offset(b, l, u, k),
                                               ns, ts, part));
            }
            return out;
          });
      for (int64_t i = 0; i < nr * tr; ++i) {
        accs[i] = loop.getResult(i);
        for (int64_t k = 1; k < unroll; ++k)
          accs[i] = arith::AddFOp::create(b, l, accs[i],
                                          loop.getResult(k * nr * tr + i));
      }
    }
    if (unrolledEnd < region.units)
      accs = unitStep(b, l, region, index(b, unrolledEnd), ns, ts, accs);
    for (int64_t i = 0; i < nr * tr; ++i) {
      Value sum = vector::ReductionOp::create(b, l, vector::CombiningKind::ADD,
                                              accs[i], Value(), fm);
      sums[i] = sums[i] ? arith::AddFOp::create(b, l, sums[i], sum) : sum;
    }
  }
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < tr; ++j) {
      Value init = memref::LoadOp::create(b, l, y, ValueRange{ts[j], ns[r]});
      Value sum = arith::AddFOp::create(b, l, init, sums[r * tr + j]);
      memref::StoreOp::create(b, l, sum, y, ValueRange{ts[j], ns[r]});
    }
}

} // namespace

LogicalResult seq::cpu::lowerQ4Product(RewriterBase &rewriter,
                                       linalg::GenericOp op, Int8Kernel kernel,
                                       bool parallel) {
  std::optional<seq::GroupFormat> format = seq::matchGroupProduct(op);
  assert(format && "a group product");
  Q4ProductLowering lowering(op, *format, kernel);
  if (!lowering.applies())
    return failure();
  lowering.lower(rewriter, parallel);
  return success();
}
