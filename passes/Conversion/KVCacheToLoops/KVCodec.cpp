//===- KVCodec.cpp - quantize, pack and dequantize KV rows ----------------===//
//
// KIVI grids and bit packing of one cache side (see KVCodec.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KVCacheToLoops/KVCodec.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seq::kv;

Value KVCodec::codes(const KVLayout::Side &s) {
  return view(s.codes, {l.heads, l.quantCapacity, s.rowBytes}, b.getI8Type());
}

Value KVCodec::scales(const KVLayout::Side &s) {
  return view(s.scales, {l.heads, s.scaleRows, s.scaleCols}, f32);
}

Value KVCodec::minima(const KVLayout::Side &s) {
  return view(s.minima, {l.heads, s.scaleRows, s.scaleCols}, f32);
}

Type KVCodec::wordType(const KVLayout::Side &s) {
  return s.bits <= 4 ? b.getI32Type() : b.getI64Type();
}

std::pair<Value, Value> KVCodec::scaleAt(const KVLayout::Side &s, Value i,
                                         Value c) {
  if (s.perChannel)
    return {arith::DivUIOp::create(b, i, idx(s.group)), c};
  return {i, arith::DivUIOp::create(b, c, idx(s.group))};
}

Value KVCodec::symmetricMinimum(const KVLayout::Side &s, Value scale) {
  Value k = f(-float(1u << (s.bits - 1)));
  if (auto vt = dyn_cast<VectorType>(scale.getType()))
    k = vector::BroadcastOp::create(b, vt, k);
  return arith::MulFOp::create(b, scale, k);
}

std::pair<Value, Value> KVCodec::groupParams(const KVLayout::Side &s, Value sc,
                                             Value mins, Value h, Value i,
                                             Value c) {
  auto [row, col] = scaleAt(s, i, c);
  Value scale = memref::LoadOp::create(b, sc, ValueRange{h, row, col});
  Value minimum = mins
                      ? memref::LoadOp::create(b, mins, ValueRange{h, row, col})
                      : symmetricMinimum(s, scale);
  return {scale, minimum};
}

std::pair<Value, Value> KVCodec::params(const KVLayout::Side &s, Value mn,
                                        Value mx) {
  Value scale, minimum;
  if (s.asymmetric) {
    Value span = arith::SubFOp::create(b, mx, mn);
    Value levels = f(float((1u << s.bits) - 1));
    scale = arith::DivFOp::create(b, span, levels);
    minimum = mn;
  } else {
    Value amn = math::AbsFOp::create(b, mn);
    Value amx = math::AbsFOp::create(b, mx);
    Value amax = arith::MaximumFOp::create(b, amn, amx);
    scale = arith::DivFOp::create(b, amax, f(float((1u << (s.bits - 1)) - 1)));
  }
  Value zero =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, scale, f(0.0f));
  scale = arith::SelectOp::create(b, zero, f(1.0f), scale);
  if (!s.asymmetric)
    minimum = symmetricMinimum(s, scale);
  return {scale, minimum};
}

Value KVCodec::code(const KVLayout::Side &s, Value x, Value scale,
                    Value minimum) {
  Value q, lo, hi;
  if (s.asymmetric) {
    q = arith::DivFOp::create(b, arith::SubFOp::create(b, x, minimum), scale);
    lo = f(0.0f);
    hi = f(float((1u << s.bits) - 1));
  } else {
    q = arith::DivFOp::create(b, x, scale);
    float m = float((1u << (s.bits - 1)) - 1);
    lo = f(-m);
    hi = f(m);
  }
  q = math::RoundOp::create(b, q); // ties away from zero
  q = arith::MinimumFOp::create(b, arith::MaximumFOp::create(b, q, lo), hi);
  if (!s.asymmetric)
    q = arith::AddFOp::create(b, q, f(float(1u << (s.bits - 1))));
  return arith::FPToUIOp::create(b, wordType(s), q);
}

std::pair<Value, Value> KVCodec::minMax(function_ref<Value(Value)> at,
                                        int64_t n) {
  Value lo = idx(0);
  Value hi = idx(n);
  Value step = idx(1);
  auto forOp = scf::ForOp::create(b, lo, hi, step,
                                  ValueRange{f(INFINITY), f(-INFINITY)});
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(forOp.getBody());
  Value x = at(forOp.getInductionVar());
  Value mn = arith::MinimumFOp::create(b, forOp.getRegionIterArgs()[0], x);
  Value mx = arith::MaximumFOp::create(b, forOp.getRegionIterArgs()[1], x);
  scf::YieldOp::create(b, ValueRange{mn, mx});
  return {forOp.getResult(0), forOp.getResult(1)};
}

void KVCodec::storeParams(const KVLayout::Side &s, Value h, Value row,
                          Value col, Value mn, Value mx) {
  auto [scale, minimum] = params(s, mn, mx);
  memref::StoreOp::create(b, scale, scales(s), ValueRange{h, row, col});
  if (s.asymmetric)
    memref::StoreOp::create(b, minimum, minima(s), ValueRange{h, row, col});
}

void KVCodec::packCodes(const KVLayout::Side &s, Value h, Value i,
                        function_ref<Value(Value)> at) {
  Value sc = scales(s), mins = s.asymmetric ? minima(s) : Value();
  Value cd = codes(s);
  loop(l.headDim / 8, [&](Value u) {
    Value word = arith::ConstantIntOp::create(b, wordType(s), 0);
    for (int64_t j = 0; j < 8; ++j) {
      Value word0 = mul(u, idx(8));
      Value lane = idx(j);
      Value c = add(word0, lane);
      auto [scale, minimum] = groupParams(s, sc, mins, h, i, c);
      Value q = code(s, at(c), scale, minimum);
      Value shifted = arith::ShLIOp::create(
          b, q, arith::ConstantIntOp::create(b, wordType(s), j * s.bits));
      word = arith::OrIOp::create(b, word, shifted);
    }
    for (unsigned byte = 0; byte < s.bits; ++byte) {
      Value v = arith::ShRUIOp::create(
          b, word, arith::ConstantIntOp::create(b, wordType(s), 8 * byte));
      v = arith::TruncIOp::create(b, b.getI8Type(), v);
      Value word0 = mul(u, idx(s.bits));
      Value off = idx(byte);
      Value pos = add(word0, off);
      memref::StoreOp::create(b, v, cd, ValueRange{h, i, pos});
    }
  });
}

void KVCodec::quantizeToken(const KVLayout::Side &s, Value h, Value i,
                            function_ref<Value(Value)> at) {
  loop(l.headDim / s.group, [&](Value g) {
    Value c0 = mul(g, idx(s.group));
    auto [mn, mx] = minMax([&](Value c) { return at(add(c0, c)); }, s.group);
    storeParams(s, h, i, g, mn, mx);
  });
  packCodes(s, h, i, at);
}

void KVCodec::quantizeChunk(Value ring, const KVLayout::Side &s, Value nq) {
  int64_t D = l.headDim, R = l.ringSlots;
  auto ringAt = [&](Value h, Value i, Value c) {
    Value slot = arith::RemUIOp::create(b, i, idx(R));
    return toF32(memref::LoadOp::create(b, ring, ValueRange{h, slot, c}));
  };
  loop(l.heads, [&](Value h) {
    if (!s.perChannel) {
      loop(l.chunk, [&](Value k) {
        Value i = add(nq, k);
        quantizeToken(s, h, i, [&](Value c) { return ringAt(h, i, c); });
      });
      return;
    }
    // Per-channel groups: the parameters of each channel over the
    // group's tokens first, then the codes token by token.
    loop(l.chunk / s.group, [&](Value sub) {
      Value i0 = add(nq, mul(sub, idx(s.group)));
      Value row = arith::DivUIOp::create(b, i0, idx(s.group));
      loop(D, [&](Value c) {
        auto [mn, mx] =
            minMax([&](Value i) { return ringAt(h, add(i0, i), c); }, s.group);
        storeParams(s, h, row, c, mn, mx);
      });
    });
    loop(l.chunk, [&](Value k) {
      Value i = add(nq, k);
      packCodes(s, h, i, [&](Value c) { return ringAt(h, i, c); });
    });
  });
}

void KVCodec::dequantRow(const KVLayout::Side &s, Value h, Value i, Value row,
                         bool codesOnly) {
  Value sc = scales(s), mins = s.asymmetric ? minima(s) : Value();
  Value cd = codes(s);
  Type word = wordType(s);
  auto wordVec = VectorType::get({8}, word);
  auto fVec = VectorType::get({8}, f32);
  SmallVector<int64_t> shifts, masks(8, (1 << s.bits) - 1);
  for (int64_t j = 0; j < 8; ++j)
    shifts.push_back(j * s.bits);
  auto intVec = [&](ArrayRef<int64_t> v) -> Value {
    SmallVector<APInt> bitsVals;
    for (int64_t x : v)
      bitsVals.push_back(APInt(word.getIntOrFloatBitWidth(), x));
    return arith::ConstantOp::create(b, wordVec,
                                     DenseElementsAttr::get(wordVec, bitsVals));
  };
  Value shiftV = intVec(shifts), maskV = intVec(masks);
  // A per-token group covers whole 8-channel words when it is a multiple
  // of 8; otherwise each channel reads its own group's parameters.
  bool perToken = !s.perChannel;
  bool wordInGroup = perToken && s.group % 8 == 0;
  loop(l.headDim / 8, [&](Value u) {
    Value w = arith::ConstantIntOp::create(b, word, 0);
    for (unsigned byte = 0; byte < s.bits; ++byte) {
      Value word0 = mul(u, idx(s.bits));
      Value off = idx(byte);
      Value at = add(word0, off);
      Value v = memref::LoadOp::create(b, cd, ValueRange{h, i, at});
      v = arith::ExtUIOp::create(b, word, v);
      v = arith::ShLIOp::create(
          b, v, arith::ConstantIntOp::create(b, word, 8 * byte));
      w = arith::OrIOp::create(b, w, v);
    }
    Value q = vector::BroadcastOp::create(b, wordVec, w);
    q = arith::AndIOp::create(b, arith::ShRUIOp::create(b, q, shiftV), maskV);
    Value x = arith::UIToFPOp::create(b, fVec, q);
    Value c0 = mul(u, idx(8));
    if (!codesOnly) {
      Value scale, minimum;
      if (s.perChannel || wordInGroup) {
        // Named, not structured bindings: the lambda captures them.
        std::pair<Value, Value> at = scaleAt(s, i, c0);
        Value rowIdx = at.first, col = at.second;
        auto load = [&](Value m) -> Value {
          if (wordInGroup)
            return vector::BroadcastOp::create(
                b, fVec,
                memref::LoadOp::create(b, m, ValueRange{h, rowIdx, col}));
          return vector::LoadOp::create(b, fVec, m, ValueRange{h, rowIdx, col});
        };
        scale = load(sc);
        minimum = mins ? load(mins) : symmetricMinimum(s, scale);
      } else {
        // Small per-token groups: gather each lane's parameters.
        Value sv = arith::ConstantOp::create(
            b, fVec, DenseElementsAttr::get(fVec, 0.0f));
        Value mv = sv;
        for (int64_t j = 0; j < 8; ++j) {
          auto [sj, mj] = groupParams(s, sc, mins, h, i, add(c0, idx(j)));
          sv = vector::InsertOp::create(b, sj, sv, j);
          mv = vector::InsertOp::create(b, mj, mv, j);
        }
        scale = sv;
        minimum = mv;
      }
      x = arith::AddFOp::create(b, arith::MulFOp::create(b, x, scale), minimum);
    }
    vector::StoreOp::create(b, x, row, ValueRange{c0});
  });
}

bool KVCodec::wholeRows(const KVLayout::Side &s) const {
  return s.bits > 0 && 8 % s.bits == 0 && l.headDim % 8 == 0 &&
         l.headDim <= 512;
}

SmallVector<int64_t> KVCodec::laneChannels(const KVLayout::Side &s) const {
  int64_t P = 8 / s.bits, R = s.rowBytes;
  SmallVector<int64_t> order;
  for (int64_t e = 0; e < P; ++e)
    for (int64_t k = 0; k < R; ++k)
      order.push_back(P * k + e);
  return order;
}

SmallVector<int64_t> KVCodec::channelLanes(const KVLayout::Side &s) const {
  SmallVector<int64_t> channels = laneChannels(s), lanes(channels.size());
  for (auto [lane, c] : llvm::enumerate(channels))
    lanes[c] = lane;
  return lanes;
}

Value KVCodec::laneWeights(const KVLayout::Side &s) {
  int64_t P = 8 / s.bits, R = s.rowBytes;
  if (P == 1)
    return {};
  auto vt = VectorType::get({l.headDim}, f32);
  SmallVector<float> w;
  for (int64_t e = 0; e < P; ++e)
    for (int64_t k = 0; k < R; ++k)
      w.push_back(std::ldexp(1.0f, -int(e * s.bits)));
  return arith::ConstantOp::create(b, vt,
                                   DenseElementsAttr::get(vt, ArrayRef(w)));
}

Value KVCodec::unpackRow(const KVLayout::Side &s, Value cd, Value h, Value i) {
  int64_t D = l.headDim, R = s.rowBytes, P = 8 / s.bits;
  Type i8 = b.getI8Type();
  Value bytes = vector::LoadOp::create(b, VectorType::get({R}, i8), cd,
                                       ValueRange{h, i, idx(0)});
  if (P > 1) {
    SmallVector<int64_t> repeat;
    SmallVector<APInt> masks;
    for (int64_t e = 0; e < P; ++e)
      for (int64_t k = 0; k < R; ++k) {
        repeat.push_back(k);
        masks.push_back(APInt(8, ((1u << s.bits) - 1) << (e * s.bits)));
      }
    auto wide = VectorType::get({D}, i8);
    bytes = vector::ShuffleOp::create(b, bytes, bytes, repeat);
    bytes = arith::AndIOp::create(
        b, bytes,
        arith::ConstantOp::create(b, wide,
                                  DenseElementsAttr::get(wide, masks)));
  }
  return arith::UIToFPOp::create(b, VectorType::get({D}, f32), bytes);
}

Value KVCodec::permute(Value v, ArrayRef<int64_t> order) {
  return vector::ShuffleOp::create(b, v, v, order);
}
