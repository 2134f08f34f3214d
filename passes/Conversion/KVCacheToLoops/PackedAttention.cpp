//===- PackedAttention.cpp - attention over bit-packed rows ---------------===//
//
// The vectorized packed paths of seq.kv_attention (see KVPackedAttention.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KVCacheToLoops/KVPackedAttention.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::seq::kv;

bool KVPackedAttention::packedRows(bool keys) {
  if (!l.compressed || l.evicting || l.scored)
    return false;
  if (kt && (keys || kt->latent()))
    return false;
  return wholeRows(keys ? l.key : l.value);
}

Value KVPackedAttention::sum(Value v) {
  return vector::ReductionOp::create(b, vector::CombiningKind::ADD, v,
                                     fm.getValue());
}

Value KVPackedAttention::splat(Value x, int64_t n) {
  return vector::BroadcastOp::create(b, VectorType::get({n}, f32), x);
}

Value KVPackedAttention::groupRow(const KVLayout::Side &s, Value m, Value h,
                                  Value i) {
  return vector::LoadOp::create(b, VectorType::get({l.headDim / s.group}, f32),
                                m, ValueRange{h, i, idx(0)});
}

Value KVPackedAttention::spreadGroups(const KVLayout::Side &s, Value g,
                                      ArrayRef<int64_t> order) {
  int64_t NG = l.headDim / s.group;
  if (NG == 1)
    return splat(vector::ExtractOp::create(b, g, ArrayRef<int64_t>{0}),
                 l.headDim);
  SmallVector<int64_t> groupOf;
  for (int64_t c : order)
    groupOf.push_back(c / s.group);
  return permute(g, groupOf);
}

Value KVPackedAttention::sum4(ArrayRef<Value> p) {
  int64_t D = l.headDim, L = D % 16 == 0 ? 16 : 8;
  SmallVector<Value> a;
  for (Value v : p) {
    auto slice = [&](int64_t off) -> Value {
      return vector::ExtractStridedSliceOp::create(b, v, ArrayRef<int64_t>{off},
                                                   ArrayRef<int64_t>{L},
                                                   ArrayRef<int64_t>{1});
    };
    Value acc = slice(0);
    for (int64_t off = L; off < D; off += L)
      acc = addf(acc, slice(off));
    a.push_back(acc);
  }
  // x, y: L lanes of `segs` segments of m lanes each -> L lanes of 2 segs
  // segments of m / 2 (x's segments halved and summed, then y's).
  auto pair = [&](Value x, Value y, int64_t segs, int64_t m) -> Value {
    SmallVector<int64_t> lo, hi;
    for (int64_t src = 0; src < 2; ++src)
      for (int64_t sg = 0; sg < segs; ++sg)
        for (int64_t j = 0; j < m / 2; ++j) {
          lo.push_back(src * L + sg * m + j);
          hi.push_back(src * L + sg * m + m / 2 + j);
        }
    Value xl = vector::ShuffleOp::create(b, x, y, lo);
    Value xh = vector::ShuffleOp::create(b, x, y, hi);
    return addf(xl, xh);
  };
  Value p01 = pair(a[0], a[1], 1, L);
  Value p23 = pair(a[2], a[3], 1, L);
  Value v = pair(p01, p23, 2, L / 2);
  // Four segments of m lanes -> four of m / 2, until one lane each.
  for (int64_t m = L / 4; m > 1; m /= 2) {
    SmallVector<int64_t> lo, hi;
    for (int64_t sg = 0; sg < 4; ++sg)
      for (int64_t j = 0; j < m / 2; ++j) {
        lo.push_back(sg * m + j);
        hi.push_back(sg * m + m / 2 + j);
      }
    Value vl = vector::ShuffleOp::create(b, v, v, lo);
    Value vh = vector::ShuffleOp::create(b, v, v, hi);
    v = addf(vl, vh);
  }
  return v;
}

KVPackedAttention::PackedSide
KVPackedAttention::packedSide(const KVLayout::Side &s) {
  int64_t D = l.headDim;
  return {D,
          s.group,
          VectorType::get({D}, f32),
          laneChannels(s),
          laneWeights(s),
          codes(s),
          scales(s),
          s.asymmetric ? minima(s) : Value(),
          idx(l.sinks)};
}

std::pair<Value, Value> KVPackedAttention::groupScales(const KVLayout::Side &s,
                                                       const PackedSide &p,
                                                       Value kh, Value g) {
  Value sP =
      permute(vector::LoadOp::create(b, p.vD, p.sc, ValueRange{kh, g, idx(0)}),
              p.lanes);
  Value mP = p.mins ? permute(vector::LoadOp::create(b, p.vD, p.mins,
                                                     ValueRange{kh, g, idx(0)}),
                              p.lanes)
                    : symmetricMinimum(s, sP);
  return {sP, mP};
}

void KVPackedAttention::scorePacked(Value kh, Value nq, Value qbuf,
                                    Value scores, Value stats, int64_t rep) {
  const KVLayout::Side &s = l.key;
  // Named copies, not structured bindings: lambdas below capture them.
  PackedSide p = packedSide(s);
  int64_t D = p.D, G = p.G;
  VectorType vD = p.vD;
  SmallVector<int64_t> lanes = p.lanes;
  Value pw = p.pw, cd = p.cd, sc = p.sc, mins = p.mins, S = p.S;
  SmallVector<Value> qP, maxes;
  for (int64_t r = 0; r < rep; ++r) {
    Value q = vector::LoadOp::create(b, vD, qbuf, ValueRange{idx(r), idx(0)});
    qP.push_back(permute(q, lanes));
    maxes.push_back(memref::LoadOp::create(b, stats, ValueRange{idx(r)}));
  }
  // The token loops only store scores; their maximum is a separate
  // reduction over the stored row (a maximum carried from token to
  // token is a serial chain of compare-and-selects in every iteration).
  auto token = [&](Value i, ArrayRef<Value> qs, ArrayRef<Value> qm) {
    Value raw = unpackRow(s, cd, kh, i);
    Value j = add(S, i);
    for (int64_t r = 0; r < rep; ++r) {
      Value sv = addf(sum(mulf(qs[r], raw)), qm[r]);
      memref::StoreOp::create(b, sv, scores, ValueRange{idx(r), j});
    }
  };
  if (s.perChannel) {
    Value groups = arith::DivUIOp::create(b, nq, idx(G));
    // With splits, blocks of splitBlock / G groups.
    tokenLoop(
        idx(0), groups, tokenBase(0),
        [&](Value g) {
          auto [sP, mP] = groupScales(s, p, kh, g);
          Value spw = pw ? mulf(sP, pw) : sP;
          SmallVector<Value> qs, qm;
          for (int64_t r = 0; r < rep; ++r) {
            qs.push_back(mulf(qP[r], spw));
            qm.push_back(sum(mulf(qP[r], mP)));
          }
          Value i0 = mul(g, idx(G));
          if (G % 4) {
            loop(i0, add(i0, idx(G)), [&](Value i) { token(i, qs, qm); }, G);
            return;
          }
          // Four tokens at a time: their four sums share one reduction tree
          // and one vector store.
          Value end = add(i0, idx(G));
          Value four = idx(4);
          auto block = scf::ForOp::create(b, i0, end, four);
          boundTrips(block, G / 4);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(block.getBody());
          Value i = block.getInductionVar();
          SmallVector<Value> raw;
          for (int64_t t = 0; t < 4; ++t)
            raw.push_back(unpackRow(s, cd, kh, add(i, idx(t))));
          for (int64_t r = 0; r < rep; ++r) {
            SmallVector<Value> prod;
            for (Value x : raw)
              prod.push_back(mulf(qs[r], x));
            Value dots = sum4(prod);
            Value offs = splat(qm[r], 4);
            Value sv = addf(dots, offs);
            vector::StoreOp::create(b, sv, scores,
                                    ValueRange{idx(r), add(S, i)});
          }
        },
        splits > 1 ? splitBlock / G : 0);
  } else {
    // Per query: its lanes times 2^-(e bits), and its sum over each
    // channel group (for the minima).
    int64_t NG = D / G;
    SmallVector<Value> qPw, qSum;
    for (int64_t r = 0; r < rep; ++r) {
      qPw.push_back(pw ? mulf(qP[r], pw) : qP[r]);
      Value q = vector::LoadOp::create(b, vD, qbuf, ValueRange{idx(r), idx(0)});
      SmallVector<Value> parts;
      for (int64_t g = 0; g < NG; ++g)
        parts.push_back(sum(vector::ExtractStridedSliceOp::create(
            b, q, ArrayRef<int64_t>{g * G}, ArrayRef<int64_t>{G},
            ArrayRef<int64_t>{1})));
      qSum.push_back(
          vector::FromElementsOp::create(b, VectorType::get({NG}, f32), parts));
    }
    tokenLoop(idx(0), nq, tokenBase(0), [&](Value i) {
      Value srow = groupRow(s, sc, kh, i);
      Value mrow = mins ? groupRow(s, mins, kh, i) : symmetricMinimum(s, srow);
      Value sL = spreadGroups(s, srow, lanes);
      SmallVector<Value> qs, qm;
      for (int64_t r = 0; r < rep; ++r) {
        qs.push_back(mulf(qPw[r], sL));
        qm.push_back(sum(mulf(qSum[r], mrow)));
      }
      token(i, qs, qm);
    });
  }
  for (int64_t r = 0; r < rep; ++r) {
    Value m = tokenReduce(S, add(S, nq), S, maxes[r], [&](Value j, Value a) {
      Value sv = memref::LoadOp::create(b, scores, ValueRange{idx(r), j});
      return arith::MaximumFOp::create(b, a, sv);
    });
    memref::StoreOp::create(b, m, stats, ValueRange{idx(r)});
  }
}

void KVPackedAttention::accumulatePacked(Value kh, Value nq, Value scores,
                                         Value stats, Value acc, int64_t rep) {
  const KVLayout::Side &s = l.value;
  // Named copies, not structured bindings: lambdas below capture them.
  PackedSide p = packedSide(s);
  int64_t D = p.D, G = p.G;
  VectorType vD = p.vD;
  SmallVector<int64_t> lanes = p.lanes;
  Value pw = p.pw, cd = p.cd, sc = p.sc, mins = p.mins, S = p.S;
  Value zeroD =
      arith::ConstantOp::create(b, vD, DenseElementsAttr::get(vD, 0.0f));
  auto weight = [&](int64_t r, Value i) -> Value {
    return memref::LoadOp::create(b, scores, ValueRange{idx(r), add(S, i)});
  };
  // Per query, the sum in channel order.
  SmallVector<Value> total;
  if (s.perChannel) {
    SmallVector<Value> init(2 * rep, zeroD);
    Value groups = arith::DivUIOp::create(b, nq, idx(G));
    SmallVector<Value> res = tokenCarry(
        idx(0), groups, tokenBase(0), init, splits > 1 ? splitBlock / G : 0,
        [&](Value g, ValueRange a) -> SmallVector<Value> {
          SmallVector<Value> inner(rep, zeroD);
          inner.append(rep, f(0.0f));
          Value i0 = mul(g, idx(G));
          SmallVector<Value> in = carry(
              i0, add(i0, idx(G)), inner,
              [&](Value i, ValueRange c) -> SmallVector<Value> {
                Value raw = unpackRow(s, cd, kh, i);
                SmallVector<Value> out;
                SmallVector<Value> ws;
                for (int64_t r = 0; r < rep; ++r) {
                  Value e = weight(r, i);
                  out.push_back(fma(splat(e, D), raw, c[r]));
                  ws.push_back(addf(c[rep + r], e));
                }
                out.append(ws);
                return out;
              },
              G);
          auto [sP, mP] = groupScales(s, p, kh, g);
          SmallVector<Value> out;
          for (int64_t r = 0; r < rep; ++r)
            out.push_back(fma(sP, in[r], a[r]));
          for (int64_t r = 0; r < rep; ++r)
            out.push_back(fma(mP, splat(in[rep + r], D), a[rep + r]));
          return out;
        });
    for (int64_t r = 0; r < rep; ++r) {
      Value codesPart = pw ? mulf(res[r], pw) : res[r];
      total.push_back(permute(addf(codesPart, res[rep + r]), channelLanes(s)));
    }
  } else {
    int64_t NG = D / G;
    auto vG = VectorType::get({NG}, f32);
    Value zeroG =
        arith::ConstantOp::create(b, vG, DenseElementsAttr::get(vG, 0.0f));
    SmallVector<Value> init(rep, zeroD);
    init.append(rep, zeroG);
    SmallVector<Value> res =
        tokenCarry(idx(0), nq, tokenBase(0), init, 0,
                   [&](Value i, ValueRange a) -> SmallVector<Value> {
                     Value raw = unpackRow(s, cd, kh, i);
                     Value srow = groupRow(s, sc, kh, i);
                     Value mrow = mins ? groupRow(s, mins, kh, i)
                                       : symmetricMinimum(s, srow);
                     SmallVector<Value> out, outM;
                     for (int64_t r = 0; r < rep; ++r) {
                       Value e = splat(weight(r, i), NG);
                       out.push_back(fma(spreadGroups(s, mulf(e, srow), lanes),
                                         raw, a[r]));
                       outM.push_back(fma(e, mrow, a[rep + r]));
                     }
                     out.append(outM);
                     return out;
                   });
    SmallVector<int64_t> channels;
    for (int64_t c = 0; c < D; ++c)
      channels.push_back(c);
    for (int64_t r = 0; r < rep; ++r) {
      Value codesPart = pw ? mulf(res[r], pw) : res[r];
      Value codesSum = permute(codesPart, channelLanes(s));
      Value minsSum = spreadGroups(s, res[rep + r], channels);
      total.push_back(addf(codesSum, minsSum));
    }
  }
  for (int64_t r = 0; r < rep; ++r) {
    Value inv = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
    Value a = vector::LoadOp::create(b, vD, acc, ValueRange{idx(r), idx(0)});
    Value sumv = fma(total[r], splat(inv, D), a);
    vector::StoreOp::create(b, sumv, acc, ValueRange{idx(r), idx(0)});
  }
}
