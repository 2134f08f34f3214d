//===- RWKV567.cpp - RWKV-5, -6 and -7 blocks -----------------------------===//
//
// The RWKV-5, -6 and -7 blocks of the RWKV builder: the time mixing with a
// matrix-valued state per head (decay, LoRA, group norm), then the
// channel mixing every version shares (RWKV.cpp).
//
//===----------------------------------------------------------------------===//

#include "RWKVBuilder.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace seqc;
using namespace seqc::import;
using namespace mlir;
using llvm::StringRef;

/// exp(-exp(v)): a decay in (0, 1) from a log-log parameter.
Value RWKVBuilder::decay(OpBuilder &nb, Location nl, Value v) {
  Value e = math::ExpOp::create(nb, nl, v);
  return math::ExpOp::create(nb, nl, arith::NegFOp::create(nb, nl, e));
}

/// A low-rank product act(x · A) · B with A, B stored [out, in].
Value RWKVBuilder::lora(Value x, StringRef a, StringRef bName, BodyFn act) {
  Value h = matmulT(x, weight(a));
  if (act)
    h = elementwise({h}, act);
  return matmulT(h, weight(bName));
}

/// Per-head sum of f(x3, ...) over the head's N channels: [T, H].
Value RWKVBuilder::headSum(ValueRange ins, ArrayRef<AffineMap> maps, BodyFn f) {
  Value x3 = ins.front();
  Value out = zeros({dim(x3, 0), b.getIndexAttr(cfg.heads)});
  SmallVector<AffineMap> all(maps.begin(), maps.end());
  all.push_back(map3({0, 1}));
  return linalg::GenericOp::create(
             b, loc, TypeRange{out.getType()}, ins, ValueRange{out}, all,
             SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                              utils::IteratorType::parallel,
                                              utils::IteratorType::reduction},
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               Value v = f(nb, nl, a.drop_back());
               linalg::YieldOp::create(
                   nb, nl,
                   arith::AddFOp::create(nb, nl, a.back(), v).getResult());
             })
      .getResult(0);
}

/// An elementwise generic over [T, H, N].
Value RWKVBuilder::heads3(ValueRange ins, ArrayRef<AffineMap> maps, BodyFn f) {
  Value x3 = ins.front();
  Value out = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{dim(x3, 0), b.getIndexAttr(cfg.heads),
                             b.getIndexAttr(cfg.headSize)},
      f32);
  SmallVector<AffineMap> all(maps.begin(), maps.end());
  all.push_back(map3({0, 1, 2}));
  return linalg::GenericOp::create(
             b, loc, TypeRange{out.getType()}, ins, ValueRange{out}, all,
             SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               linalg::YieldOp::create(nb, nl, f(nb, nl, a.drop_back()));
             })
      .getResult(0);
}

/// Group norm with one group per head (eps cfg.lnXEps), weight and bias
/// [H, N].
Value RWKVBuilder::groupNorm(Value y, StringRef prefix) {
  float invN = 1.0f / cfg.headSize;
  Value y3 = splitHeads(y);
  AffineMap id = map3({0, 1, 2}), th = map3({0, 1}), hn = map3({1, 2});
  Value sum = headSum({y3}, {id},
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  Value sq = headSum({y3, sum}, {id, th},
                     [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                       Value mean = arith::MulFOp::create(nb, nl, a[1],
                                                          cst(nb, nl, invN));
                       Value d = arith::SubFOp::create(nb, nl, a[0], mean);
                       return arith::MulFOp::create(nb, nl, d, d);
                     });
  Value out = heads3(
      {y3, sum, sq, weight((prefix + ".w").str()),
       weight((prefix + ".b").str())},
      {id, th, th, hn, hn},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Value mean = arith::MulFOp::create(nb, nl, a[1], cst(nb, nl, invN));
        Value var = arith::MulFOp::create(nb, nl, a[2], cst(nb, nl, invN));
        Value inv = math::RsqrtOp::create(
            nb, nl,
            arith::AddFOp::create(nb, nl, var, cst(nb, nl, cfg.lnXEps)));
        Value v = arith::MulFOp::create(
            nb, nl, arith::SubFOp::create(nb, nl, a[0], mean), inv);
        return arith::AddFOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, v, a[3]), a[4]);
      });
  return joinHeads(out);
}

/// state[l] rows 2 .. 2+N as the [H, N, N] matrix state, and back (or,
/// quantized, rows 2 .. 2 + wkvRows() as the [H, W] words).
Value RWKVBuilder::matrixState(Value state, int64_t l) {
  if (cfg.stateBits)
    return wkvStateWords(state, 2);
  int64_t C = cfg.embd, N = cfg.headSize;
  Value rows = stateRows(state, 0, 2, N);
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({N * C}, f32), rows,
      ArrayRef<ReassociationIndices>{{0, 1}});
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({cfg.heads, N, N}, f32), flat,
      ArrayRef<ReassociationIndices>{{0, 1, 2}});
}

Value RWKVBuilder::setMatrixState(Value newState, Value matrix, int64_t l) {
  if (cfg.stateBits)
    return setWkvStateWords(newState, matrix, 2);
  int64_t C = cfg.embd, N = cfg.headSize;
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({N * C}, f32), matrix,
      ArrayRef<ReassociationIndices>{{0, 1, 2}});
  Value rows = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({N, C}, f32), flat,
      ArrayRef<ReassociationIndices>{{0, 1}});
  return setStateRows(newState, rows, 0, 2);
}

/// One RWKV-5, -6 or -7 block.
Value RWKVBuilder::layer567(Value x, Value &state, Value &vFirst, int64_t l) {
  int64_t C = cfg.embd;
  int version = cfg.version;
  auto seqType = cast<RankedTensorType>(x.getType());
  auto rowType = RankedTensorType::get({C}, f32);
  std::string p = "blocks." + std::to_string(l) + ".att.";
  auto w = [&](const std::string &name) { return weight(p + name); };
  auto sigmoidFn = [](OpBuilder &nb, Location nl, ValueRange a) {
    return sigmoid(nb, nl, a[0]);
  };
  auto tanhFn = [](OpBuilder &nb, Location nl, ValueRange a) {
    return math::TanhOp::create(nb, nl, a[0]).getResult();
  };

  Value xx = layerNorm(x, "blocks." + std::to_string(l) + ".ln1");
  auto shift =
      seq::TokenShiftOp::create(b, loc, TypeRange{seqType, rowType},
                                ValueRange{xx, stateRows(state, 0, 0, 1)});
  Value sx = shift.getResult(0);
  state = setStateRows(state, shift.getResult(1), 0, 0);
  Value matrix = matrixState(state, 0);

  Value y, gate, next;
  if (version == 5 || version == 6) {
    Value xr, xk, xv, xg, decayT;
    if (version == 5) {
      xr = lerp(xx, sx, w("mix_r"));
      xk = lerp(xx, sx, w("mix_k"));
      xv = lerp(xx, sx, w("mix_v"));
      if (cfg.minor > 0) // RWKV-5.0 has no gate.
        xg = lerp(xx, sx, w("mix_g"));
    } else {
      // Data-dependent token shift (ddlerp) with a shared low-rank head.
      Value xxx = lerp(xx, sx, w("maa_x"));
      auto part = [&](const char *n) {
        Value mix = w(std::string("maa_") + n);
        Value offset = lora(xxx, p + "maa_w1_" + n, p + "maa_w2_" + n, tanhFn);
        return lerp(xx, sx, mix, offset);
      };
      Value xw = part("w");
      xk = part("k");
      xv = part("v");
      xr = part("r");
      xg = part("g");
      Value dl = lora(xw, p + "decay_w1", p + "decay_w2", tanhFn);
      Value d0 = w("decay");
      Value d = add(dl, d0);
      decayT = elementwise({d}, [](OpBuilder &nb, Location nl, ValueRange a) {
        return decay(nb, nl, a[0]);
      });
    }
    Value r = linear(xr, p + "Wr");
    Value k = linear(xk, p + "Wk");
    Value v = linear(xv, p + "Wv");
    if (xg)
      gate = elementwise({linear(xg, p + "Wg")},
                         [](OpBuilder &nb, Location nl, ValueRange a) {
                           return silu(nb, nl, a[0]);
                         });
    Type stateType = matrix.getType();
    Value vState = rotateValues(v, /*undo=*/false);
    if (version == 5) {
      auto op =
          seq::WKV5Op::create(b, loc, TypeRange{seqType, stateType},
                              ValueRange{r, k, vState, w("w"), w("u"), matrix});
      if (seq::QuantEncodingAttr q = stateQuant())
        op.setStateQuantAttr(q);
      y = op.getResult(0);
      next = op.getResult(1);
    } else {
      auto op =
          seq::WKV6Op::create(b, loc, TypeRange{seqType, stateType},
                              ValueRange{r, k, vState, decayT, w("u"), matrix});
      if (seq::QuantEncodingAttr q = stateQuant())
        op.setStateQuantAttr(q);
      y = op.getResult(0);
      next = op.getResult(1);
    }
    y = groupNorm(rotateValues(y, /*undo=*/true), p + "ln_x");
  } else {
    Value xr = lerp(xx, sx, w("x_r")), xw = lerp(xx, sx, w("x_w")),
          xk = lerp(xx, sx, w("x_k")), xv = lerp(xx, sx, w("x_v")),
          xa = lerp(xx, sx, w("x_a")), xg = lerp(xx, sx, w("x_g"));
    Value r = linear(xr, p + "Wr");
    // w = -softplus(-(w0 + lora)) - 0.5, decay = exp(-exp(w)).
    Value decayT = elementwise(
        {lora(xw, p + "w1", p + "w2", tanhFn), w("w0")},
        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value z = arith::AddFOp::create(nb, nl, a[0], a[1]);
          // -softplus(-z) = min(z, 0) - log1p(exp(-|z|)).
          Value absz = math::AbsFOp::create(nb, nl, z);
          Value l1p = math::Log1pOp::create(
              nb, nl,
              math::ExpOp::create(nb, nl, arith::NegFOp::create(nb, nl, absz)));
          Value mn = arith::MinimumFOp::create(nb, nl, z, cst(nb, nl, 0.0f));
          Value sp = arith::SubFOp::create(nb, nl, mn, l1p);
          Value half = cst(nb, nl, 0.5f);
          Value wv = arith::SubFOp::create(nb, nl, sp, half);
          return decay(nb, nl, wv);
        });
    Value k = linear(xk, p + "Wk");
    Value v = linear(xv, p + "Wv");
    Value a = elementwise(
        {lora(xa, p + "a1", p + "a2", BodyFn()), w("a0")},
        [](OpBuilder &nb, Location nl, ValueRange s) {
          return sigmoid(nb, nl, arith::AddFOp::create(nb, nl, s[0], s[1]));
        });
    gate = lora(xg, p + "g1", p + "g2", sigmoidFn);
    // kk = normalize(k * k_k) within each head.
    Value kk3 = splitHeads(mul(k, w("k_k")));
    AffineMap id = map3({0, 1, 2}), th = map3({0, 1}), hn = map3({1, 2});
    Value norm2 =
        headSum({kk3}, {id}, [](OpBuilder &nb, Location nl, ValueRange s) {
          return arith::MulFOp::create(nb, nl, s[0], s[0]).getResult();
        });
    Value kk = joinHeads(
        heads3({kk3, norm2}, {id, th},
               [](OpBuilder &nb, Location nl, ValueRange s) -> Value {
                 Value n = math::SqrtOp::create(nb, nl, s[1]);
                 n = arith::MaximumFOp::create(nb, nl, n, cst(nb, nl, 1e-12f));
                 return arith::DivFOp::create(nb, nl, s[0], n);
               }));
    // k = k * (1 + (a - 1) * k_a).
    k = elementwise({k, a, w("k_a")},
                    [](OpBuilder &nb, Location nl, ValueRange s) -> Value {
                      Value am1 =
                          arith::SubFOp::create(nb, nl, s[1], cst(nb, nl, 1));
                      Value one = cst(nb, nl, 1);
                      Value ak = arith::MulFOp::create(nb, nl, am1, s[2]);
                      Value f = arith::AddFOp::create(nb, nl, one, ak);
                      return arith::MulFOp::create(nb, nl, s[0], f);
                    });
    if (l == 0) {
      vFirst = v;
    } else {
      // v += (v_first - v) * sigmoid(v0 + lora).
      Value mixV = lora(xv, p + "v1", p + "v2", BodyFn());
      v = elementwise({v, vFirst, mixV, w("v0")},
                      [](OpBuilder &nb, Location nl, ValueRange s) -> Value {
                        Value g = sigmoid(
                            nb, nl, arith::AddFOp::create(nb, nl, s[2], s[3]));
                        Value d = arith::SubFOp::create(nb, nl, s[1], s[0]);
                        return arith::AddFOp::create(
                            nb, nl, s[0], arith::MulFOp::create(nb, nl, d, g));
                      });
    }
    Value negKK =
        elementwise({kk}, [](OpBuilder &nb, Location nl, ValueRange s) {
          return arith::NegFOp::create(nb, nl, s[0]).getResult();
        });
    Value kka = mul(kk, a);
    auto op = seq::WKV7Op::create(
        b, loc, TypeRange{seqType, matrix.getType()},
        ValueRange{r, decayT, k, rotateValues(v, false), negKK, kka, matrix});
    if (seq::QuantEncodingAttr q = stateQuant())
      op.setStateQuantAttr(q);
    next = op.getResult(1);
    y = groupNorm(rotateValues(op.getResult(0), /*undo=*/true), p + "ln_x");
    // y += (sum over the head of r * k * r_k) * v.
    Value r3 = splitHeads(r), k3 = splitHeads(k), v3 = splitHeads(v);
    Value bonus = headSum(
        {r3, k3, w("r_k")}, {id, id, hn},
        [](OpBuilder &nb, Location nl, ValueRange s) {
          return arith::MulFOp::create(
                     nb, nl, arith::MulFOp::create(nb, nl, s[0], s[1]), s[2])
              .getResult();
        });
    Value bonusV = joinHeads(heads3(
        {v3, bonus}, {id, th}, [](OpBuilder &nb, Location nl, ValueRange s) {
          return arith::MulFOp::create(nb, nl, s[0], s[1]).getResult();
        }));
    y = add(y, bonusV);
  }
  state = setMatrixState(state, next, 0);
  x = add(x, linear(gate ? mul(y, gate) : y, p + "Wo"));

  return channelMix(x, state, l, /*shiftRow=*/1);
}
