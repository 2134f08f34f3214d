//===- RWKV.cpp - RWKV checkpoints to seq-dialect modules -----------------===//

#include "seqc/Import/RWKV.h"
#include "ModelBuilder.h"
#include "SpikeGPTBlock.h"
#include "seqc/Import/Importer.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>
#include <map>

using namespace seqc;
using namespace seqc::import;
using namespace mlir;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Weight blob
//===----------------------------------------------------------------------===//

namespace {

/// Layer norm of each row of `x` ([rows, C]) in place, in double precision.
void layerNormRows(std::vector<float> &x, int64_t C,
                   const std::vector<float> &w, const std::vector<float> &b) {
  for (size_t row = 0; row * C < x.size(); ++row) {
    float *p = &x[row * C];
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c)
      mean += p[c];
    mean /= C;
    for (int64_t c = 0; c < C; ++c)
      var += (p[c] - mean) * (p[c] - mean);
    var /= C;
    double inv = 1.0 / std::sqrt(var + 1e-5);
    for (int64_t c = 0; c < C; ++c)
      p[c] = (float)((p[c] - mean) * inv * w[c] + b[c]);
  }
}

//===----------------------------------------------------------------------===//
// IR building
//===----------------------------------------------------------------------===//

/// Builds the RWKV-4 entry points. Values are f32 tensors; the matrices may
/// be f16 and are extended inside the products.
class RWKVBuilder : public ModelBuilder {
public:
  RWKVBuilder(MLIRContext *ctx, const RWKVConfig &cfg, const WeightBlob &blob,
              const SpikeGPTOptions *spiking)
      : ModelBuilder(ctx, blob, "blocks.", cfg.layers), cfg(cfg),
        spiking(spiking) {}

  /// The first layer that shares the common layer function (RWKV-7's layer 0
  /// has a function of its own: it defines v_first and has no v mixing).
  int64_t firstShared() const { return cfg.version == 7 ? 1 : 0; }

  OwningOpRef<ModuleOp> build() {
    return buildModule(spiking ? "spikegpt"
                               : llvm::formatv("rwkv{0}", cfg.version).str(),
                       firstShared());
  }

  /// State rows of width C per layer. RWKV-4: att x, aa, bb, pp, ffn x.
  /// RWKV-5/6/7: att x, ffn x, then the [H, N, N] matrix state as N rows.
  /// SpikeGPT: RWKV-4's, then the neurons' (SpikeGPTStateRow).
  static int64_t rowsPerLayer(const RWKVConfig &cfg, bool spiking) {
    return spiking ? kSpikeGPTRows : cfg.version == 4 ? 5 : 2 + cfg.headSize;
  }
  int64_t rowsPerLayer() const { return rowsPerLayer(cfg, spiking); }

  /// Temporal perspectives (RWKV-4): P copies of the residual stream, as a
  /// batch. The stream is [T*P, C] (row t*P + p), so that the projections
  /// are [T*P, C] x [C, C] products and the normalizations row-wise; the
  /// token shift and the WKV recurrence, channel-wise, see it as
  /// [T, P*C], and each state row holds P*C channels ([P, C], perspective
  /// major). Stock models (no combiner) have none of this.
  bool perspectives() const { return cfg.perspectives > 0; }
  int64_t numPerspectives() const {
    return std::max<int64_t>(cfg.perspectives, 1);
  }
  /// The width of a state row: C, or P*C with perspectives.
  int64_t stateWidth() const { return numPerspectives() * cfg.embd; }

private:
  const RWKVConfig &cfg;
  const SpikeGPTOptions *spiking;
  // The shared layer functions, by (token count, first-layer flag).
  std::map<std::pair<int64_t, bool>, func::FuncOp> layerFuncs;

  MemRefType stateType() {
    return MemRefType::get({cfg.layers, rowsPerLayer(), stateWidth()}, f32);
  }

  /// Initial state: zeros, except RWKV-4's pp (row 3) = -1e30 (no past).
  void buildInitState() override {
    func::FuncOp fn = startFunc("seqc_init_state", {stateType()});
    SmallVector<int64_t> shape = {cfg.layers, rowsPerLayer(), stateWidth()};
    Value init = tensor::EmptyOp::create(b, loc, shape, f32);
    Value filled =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
            SmallVector<AffineMap>{b.getMultiDimIdentityMap(3)},
            SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location nl, ValueRange) {
              Value row = linalg::IndexOp::create(nb, nl, 1);
              Value three = arith::ConstantIndexOp::create(
                  nb, nl, cfg.version == 4 ? 3 : -1);
              Value isPP = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::eq, row, three);
              Value v = arith::SelectOp::create(
                  nb, nl, isPP, cst(nb, nl, -1e30f), cst(nb, nl, 0.0f));
              linalg::YieldOp::create(nb, nl, v);
            })
            .getResult(0);
    store(filled, fn.getArgument(0));
    endFunc(fn);
  }

  /// Layer norm of each row (eps 1e-5).
  Value layerNorm(Value x, StringRef prefix) {
    float invC = 1.0f / cfg.embd;
    Value sum = rowSum(x, Value(),
                       [](OpBuilder &, Location, Value v, Value) { return v; });
    Value sq = rowSum(
        x, sum, [&](OpBuilder &nb, Location nl, Value v, Value s) -> Value {
          Value mean = arith::MulFOp::create(nb, nl, s, cst(nb, nl, invC));
          Value d = arith::SubFOp::create(nb, nl, v, mean);
          return arith::MulFOp::create(nb, nl, d, d);
        });
    Value w = weight((prefix + ".w").str()),
          bias = weight((prefix + ".b").str());
    return rowwise(
        x, {sum, sq}, {w, bias},
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value mean = arith::MulFOp::create(nb, nl, a[1], cst(nb, nl, invC));
          Value var = arith::MulFOp::create(nb, nl, a[2], cst(nb, nl, invC));
          Value inv = math::RsqrtOp::create(
              nb, nl, arith::AddFOp::create(nb, nl, var, cst(nb, nl, 1e-5f)));
          Value v = arith::MulFOp::create(
              nb, nl, arith::SubFOp::create(nb, nl, a[0], mean), inv);
          v = arith::MulFOp::create(nb, nl, v, a[3]);
          return arith::AddFOp::create(nb, nl, v, a[4]);
        });
  }

  /// state[layer, row0 .. row0+rows-1, :] as [C] (rows == 1) or [rows, C].
  Value stateRows(Value state, int64_t layer, int64_t row0, int64_t rows) {
    int64_t width = stateWidth();
    SmallVector<int64_t> shape = rows == 1 ? SmallVector<int64_t>{width}
                                           : SmallVector<int64_t>{rows, width};
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get(shape, f32), state,
        ArrayRef<OpFoldResult>{b.getIndexAttr(layer), b.getIndexAttr(row0),
                               b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(rows),
                               b.getIndexAttr(width)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(1)});
  }
  Value setStateRows(Value state, Value rows, int64_t layer, int64_t row0) {
    int64_t n = cast<RankedTensorType>(rows.getType()).getRank() == 1
                    ? 1
                    : cast<RankedTensorType>(rows.getType()).getDimSize(0);
    return tensor::InsertSliceOp::create(
        b, loc, rows, state,
        ArrayRef<OpFoldResult>{b.getIndexAttr(layer), b.getIndexAttr(row0),
                               b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(n),
                               b.getIndexAttr(stateWidth())},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(1)});
  }

  //===--------------------------------------------------------------------===//
  // RWKV-5/6/7 pieces
  //===--------------------------------------------------------------------===//

  /// x + (prev - x) * m (m a [C] weight, optionally plus a [T, C] offset).
  Value lerp(Value x, Value prev, Value m, Value offset = Value()) {
    SmallVector<Value> ins = {x, prev, m};
    if (offset)
      ins.push_back(offset);
    return elementwise(ins, [](OpBuilder &nb, Location nl, ValueRange a) {
      Value f = a.size() > 3 ? arith::AddFOp::create(nb, nl, a[2], a[3]) : a[2];
      Value d = arith::SubFOp::create(nb, nl, a[1], a[0]);
      return arith::AddFOp::create(nb, nl, a[0],
                                   arith::MulFOp::create(nb, nl, d, f))
          .getResult();
    });
  }
  /// exp(-exp(v)): a decay in (0, 1) from a log-log parameter.
  static Value decay(OpBuilder &nb, Location nl, Value v) {
    Value e = math::ExpOp::create(nb, nl, v);
    return math::ExpOp::create(nb, nl, arith::NegFOp::create(nb, nl, e));
  }
  /// A low-rank product act(x · A) · B with A, B stored [out, in].
  Value lora(Value x, StringRef a, StringRef bName, BodyFn act) {
    Value h = matmulT(x, weight(a));
    if (act)
      h = elementwise({h}, act);
    return matmulT(h, weight(bName));
  }

  /// [T, C] <-> [T, H, N].
  Value splitHeads(Value x) {
    return ModelBuilder::splitHeads(x, cfg.heads, cfg.headSize);
  }
  AffineMap map3(ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> e;
    for (unsigned d : dims)
      e.push_back(b.getAffineDimExpr(d));
    return AffineMap::get(3, 0, e, ctx);
  }
  /// Per-head sum of f(x3, ...) over the head's N channels: [T, H].
  Value headSum(ValueRange ins, ArrayRef<AffineMap> maps, BodyFn f) {
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
  Value heads3(ValueRange ins, ArrayRef<AffineMap> maps, BodyFn f) {
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
               SmallVector<utils::IteratorType>(3,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 linalg::YieldOp::create(nb, nl, f(nb, nl, a.drop_back()));
               })
        .getResult(0);
  }

  /// Group norm with one group per head (eps cfg.lnXEps), weight and bias
  /// [H, N].
  Value groupNorm(Value y, StringRef prefix) {
    float invN = 1.0f / cfg.headSize;
    Value y3 = splitHeads(y);
    AffineMap id = map3({0, 1, 2}), th = map3({0, 1}), hn = map3({1, 2});
    Value sum = headSum(
        {y3}, {id}, [](OpBuilder &, Location, ValueRange a) { return a[0]; });
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

  /// state[l] rows 2 .. 2+N as the [H, N, N] matrix state, and back.
  Value matrixState(Value state, int64_t l) {
    int64_t C = cfg.embd, N = cfg.headSize;
    Value rows = stateRows(state, 0, 2, N);
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({N * C}, f32), rows,
        ArrayRef<ReassociationIndices>{{0, 1}});
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({cfg.heads, N, N}, f32), flat,
        ArrayRef<ReassociationIndices>{{0, 1, 2}});
  }
  Value setMatrixState(Value newState, Value matrix, int64_t l) {
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
  Value layer567(Value x, Value &state, Value &vFirst, int64_t l) {
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
          return lerp(xx, sx, w(std::string("maa_") + n),
                      lora(xxx, p + "maa_w1_" + n, p + "maa_w2_" + n, tanhFn));
        };
        Value xw = part("w");
        xk = part("k");
        xv = part("v");
        xr = part("r");
        xg = part("g");
        Value d =
            add(lora(xw, p + "decay_w1", p + "decay_w2", tanhFn), w("decay"));
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
      if (version == 5) {
        auto op =
            seq::WKV5Op::create(b, loc, TypeRange{seqType, stateType},
                                ValueRange{r, k, v, w("w"), w("u"), matrix});
        y = op.getResult(0);
        next = op.getResult(1);
      } else {
        auto op =
            seq::WKV6Op::create(b, loc, TypeRange{seqType, stateType},
                                ValueRange{r, k, v, decayT, w("u"), matrix});
        y = op.getResult(0);
        next = op.getResult(1);
      }
      y = groupNorm(y, p + "ln_x");
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
                math::ExpOp::create(nb, nl,
                                    arith::NegFOp::create(nb, nl, absz)));
            Value mn = arith::MinimumFOp::create(nb, nl, z, cst(nb, nl, 0.0f));
            Value wv = arith::SubFOp::create(
                nb, nl, arith::SubFOp::create(nb, nl, mn, l1p),
                cst(nb, nl, 0.5f));
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
      Value kk = joinHeads(heads3(
          {kk3, norm2}, {id, th},
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
                        Value f = arith::AddFOp::create(
                            nb, nl, cst(nb, nl, 1),
                            arith::MulFOp::create(nb, nl, am1, s[2]));
                        return arith::MulFOp::create(nb, nl, s[0], f);
                      });
      if (l == 0) {
        vFirst = v;
      } else {
        // v += (v_first - v) * sigmoid(v0 + lora).
        Value mixV = lora(xv, p + "v1", p + "v2", BodyFn());
        v = elementwise(
            {v, vFirst, mixV, w("v0")},
            [](OpBuilder &nb, Location nl, ValueRange s) -> Value {
              Value g =
                  sigmoid(nb, nl, arith::AddFOp::create(nb, nl, s[2], s[3]));
              Value d = arith::SubFOp::create(nb, nl, s[1], s[0]);
              return arith::AddFOp::create(nb, nl, s[0],
                                           arith::MulFOp::create(nb, nl, d, g));
            });
      }
      Value negKK =
          elementwise({kk}, [](OpBuilder &nb, Location nl, ValueRange s) {
            return arith::NegFOp::create(nb, nl, s[0]).getResult();
          });
      Value kka = mul(kk, a);
      auto op =
          seq::WKV7Op::create(b, loc, TypeRange{seqType, matrix.getType()},
                              ValueRange{r, decayT, k, v, negKK, kka, matrix});
      next = op.getResult(1);
      y = groupNorm(op.getResult(0), p + "ln_x");
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

  /// The channel-mixing half of a block, shared by every version:
  /// x + sigmoid(Wr·xr) ⊙ Wv·relu(Wk·xk)² (RWKV-7: no receptance gate), with
  /// the carried token in state row `shiftRow`.
  Value channelMix(Value x, Value &state, int64_t l, int64_t shiftRow) {
    auto rowType = RankedTensorType::get({stateWidth()}, f32);
    std::string f = "blocks." + std::to_string(l) + ".ffn.";
    Value xx = toTime(layerNorm(x, "blocks." + std::to_string(l) + ".ln2"));
    auto seqType = cast<RankedTensorType>(xx.getType());
    auto shift = seq::TokenShiftOp::create(
        b, loc, TypeRange{seqType, rowType},
        ValueRange{xx, stateRows(state, 0, shiftRow, 1)});
    Value sx = shift.getResult(0);
    state = setStateRows(state, shift.getResult(1), 0, shiftRow);
    auto reluSq = [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
      Value relu = arith::MaximumFOp::create(nb, nl, a[0], cst(nb, nl, 0.0f));
      return arith::MulFOp::create(nb, nl, relu, relu);
    };
    Value xk = lerp(xx, sx, weight(f + "mix_k"));
    Value hidden = elementwise({linear(toRows(xk), f + "Wk")}, reluSq);
    Value out = linear(hidden, f + "Wv");
    if (cfg.version != 7) {
      Value xr = lerp(xx, sx, weight(f + "mix_r"));
      out = mul(elementwise({linear(toRows(xr), f + "Wr")},
                            [](OpBuilder &nb, Location nl, ValueRange a) {
                              return sigmoid(nb, nl, a[0]);
                            }),
                out);
    }
    return cfg.version == 4 ? residual(x, out, state, kMembraneFfn)
                            : add(x, out);
  }

  /// A block half's output joins the residual: x + out, or SpikeGPT's
  /// x + LIF(out) with the membrane in state row `row`, the spike count in
  /// row + 2.
  Value residual(Value x, Value out, Value &state, int64_t row) {
    if (!spiking)
      return add(x, out);
    SpikingResidual r =
        buildSpikingResidual(b, loc, x, out, stateRows(state, 0, row, 1),
                             stateRows(state, 0, row + 2, 1), *spiking);
    state = setStateRows(state, r.membrane, 0, row);
    state = setStateRows(state, r.counts, 0, row + 2);
    return r.x;
  }

  //===--------------------------------------------------------------------===//
  // Temporal perspectives (RWKV-4)
  //===--------------------------------------------------------------------===//

  /// Rows of the residual stream for `tokens` tokens (static or dynamic).
  int64_t streamRows(int64_t tokens) const {
    if (!perspectives() || ShapedType::isDynamic(tokens))
      return tokens;
    return tokens * numPerspectives();
  }

  /// The stream's [T*P, C] rows as the [T, P*C] sequence of the channel-wise
  /// ops (a view: rows t*P .. t*P+P-1 are contiguous); unchanged without
  /// perspectives.
  Value toTime(Value rows) {
    if (!perspectives())
      return rows;
    int64_t P = numPerspectives(), C = cfg.embd;
    auto type = cast<RankedTensorType>(rows.getType());
    int64_t T =
        type.isDynamicDim(0) ? ShapedType::kDynamic : type.getDimSize(0) / P;
    OpFoldResult t =
        type.isDynamicDim(0)
            ? OpFoldResult(arith::DivUIOp::create(
                               b, loc, tensor::DimOp::create(b, loc, rows, 0),
                               arith::ConstantIndexOp::create(b, loc, P))
                               .getResult())
            : OpFoldResult(b.getIndexAttr(T));
    Value x3 = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({T, P, C}, f32), rows,
        ArrayRef<ReassociationIndices>{{0, 1}, {2}},
        SmallVector<OpFoldResult>{t, b.getIndexAttr(P), b.getIndexAttr(C)});
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({T, P * C}, f32), x3,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  /// A [T, P*C] sequence as the stream's [T*P, C] rows.
  Value toRows(Value seq) {
    if (!perspectives())
      return seq;
    Value x3 = perspectiveRows3(seq);
    auto type = cast<RankedTensorType>(x3.getType());
    return tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get({streamRows(type.getDimSize(0)), cfg.embd}, f32),
        x3, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
  }

  /// [T, P*C] as [T, P, C].
  Value perspectiveRows3(Value seq) {
    int64_t P = numPerspectives(), C = cfg.embd;
    auto type = cast<RankedTensorType>(seq.getType());
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({type.getDimSize(0), P, C}, f32), seq,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{dim(seq, 0), b.getIndexAttr(P),
                                  b.getIndexAttr(C)});
  }

  /// The embedding [T, C] as the P identical perspectives' rows [T*P, C]
  /// (every perspective starts from the same embedding).
  Value broadcastPerspectives(Value x) {
    int64_t P = numPerspectives(), C = cfg.embd;
    auto type = cast<RankedTensorType>(x.getType());
    Value init = tensor::EmptyOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{dim(x, 0), b.getIndexAttr(P), b.getIndexAttr(C)},
        f32);
    Value x3 =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{x}, ValueRange{init},
            SmallVector<AffineMap>{map3({0, 2}), map3({0, 1, 2})},
            SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              linalg::YieldOp::create(nb, nl, a[0]);
            })
            .getResult(0);
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({streamRows(type.getDimSize(0)), C}, f32),
        x3, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
  }

  /// The last token's P rows of the stream, [P, C].
  Value lastRows(Value x, int64_t P) {
    int64_t C = cfg.embd;
    Value n = getValueOrCreateConstantIndexOp(b, loc, dim(x, 0));
    Value first = arith::SubIOp::create(
        b, loc, n, arith::ConstantIndexOp::create(b, loc, P));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({P, C}, f32), x,
        ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(P), b.getIndexAttr(C)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }

  /// Logits from the final hidden rows h [T*P, C] (after ln_out):
  /// alpha = seq.perspective_combine(h, convert3), each perspective
  /// projected by the head ([T, P, C] x [V, C], loops (n, t, p, k), the
  /// int8 row scales applied after), then seq.perspective_mix. The pass
  /// seq-perspective-head-once turns this into one projection of the mix.
  Value perspectiveHead(Value h) {
    int64_t P = numPerspectives(), V = cfg.vocab;
    Value h3 = perspectiveRows3(toTime(h));
    auto h3Type = cast<RankedTensorType>(h3.getType());
    int64_t T = h3Type.getDimSize(0);
    Value alpha = seq::PerspectiveCombineOp::create(
        b, loc, RankedTensorType::get({T, P}, f32), h3, weight("convert3"));
    Value w = weight("head");
    Value out = zeros({dim(h3, 0), b.getIndexAttr(P), b.getIndexAttr(V)});
    auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
    // Loops (n, t, p, k): the output row outermost, as in matmulT.
    Value y = reduceProducts(h3, w, out,
                             {AffineMap::get(4, 0, {d(1), d(2), d(3)}, ctx),
                              AffineMap::get(4, 0, {d(0), d(3)}, ctx),
                              AffineMap::get(4, 0, {d(1), d(2), d(0)}, ctx)});
    if (entries.lookup("head")->dtype == DType::I8) {
      Value init = tensor::EmptyOp::create(
          b, loc,
          ArrayRef<OpFoldResult>{dim(h3, 0), b.getIndexAttr(P),
                                 b.getIndexAttr(V)},
          f32);
      y = linalg::GenericOp::create(
              b, loc, TypeRange{init.getType()},
              ValueRange{y, weight("head.scale")}, ValueRange{init},
              SmallVector<AffineMap>{map3({0, 1, 2}), map3({2}),
                                     map3({0, 1, 2})},
              SmallVector<utils::IteratorType>(3,
                                               utils::IteratorType::parallel),
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                linalg::YieldOp::create(
                    nb, nl,
                    arith::MulFOp::create(nb, nl, a[0], a[1]).getResult());
              })
              .getResult(0);
    }
    return seq::PerspectiveMixOp::create(
        b, loc, RankedTensorType::get({T, V}, f32), y, alpha);
  }

  /// One RWKV-4 block; returns the new residual stream.
  Value layer4(Value x, Value &state, int64_t l) {
    int64_t C = stateWidth();
    auto rowType = RankedTensorType::get({C}, f32);
    std::string p = "blocks." + std::to_string(l) + ".";
    // Time mixing.
    Value xx = toTime(layerNorm(x, p + "ln1"));
    auto seqType = cast<RankedTensorType>(xx.getType());
    auto shiftA =
        seq::TokenShiftOp::create(b, loc, TypeRange{seqType, rowType},
                                  ValueRange{xx, stateRows(state, 0, 0, 1)});
    Value sx = shiftA.getResult(0);
    Value xk = lerp(xx, sx, weight(p + "att.mix_k"));
    Value xv = lerp(xx, sx, weight(p + "att.mix_v"));
    Value xr = lerp(xx, sx, weight(p + "att.mix_r"));
    Value r = elementwise({linear(toRows(xr), p + "att.Wr")},
                          [](OpBuilder &nb, Location nl, ValueRange a) {
                            return sigmoid(nb, nl, a[0]);
                          });
    Value k = toTime(linear(toRows(xk), p + "att.Wk"));
    Value v = toTime(linear(toRows(xv), p + "att.Wv"));
    auto wkv = seq::WKV4Op::create(
        b, loc, TypeRange{seqType, RankedTensorType::get({3, C}, f32)},
        ValueRange{k, v, weight(p + "att.w"), weight(p + "att.u"),
                   stateRows(state, 0, 1, 3)});
    Value ry = elementwise(
        {r, toRows(wkv.getResult(0))},
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
        });
    x = residual(x, linear(ry, p + "att.Wo"), state, kMembraneAtt);
    state = setStateRows(state, shiftA.getResult(1), 0, 0);
    state = setStateRows(state, wkv.getResult(1), 0, 1);

    return channelMix(x, state, l, /*shiftRow=*/4);
  }

  /// The private function computing one layer for `tokens` tokens (static
  /// or dynamic): (layer, x, layer state [, v_first]) ->
  /// (x', layer state' [, v_first]). Built once and cached. The layer state
  /// is updated in place: each row is read before it is overwritten, and
  /// the argument's buffer layout is declared with the static strides of a
  /// layer of the whole state, so the rows of the matrix state reshape to
  /// [H, N, N] as a view (a fully dynamic layout would force a copy).
  func::FuncOp layerFunc(int64_t tokens, bool firstLayer) {
    auto key = std::make_pair(tokens, firstLayer);
    auto found = layerFuncs.find(key);
    if (found != layerFuncs.end())
      return found->second;
    int64_t C = cfg.embd, R = rowsPerLayer(), W = stateWidth();
    auto xType = RankedTensorType::get({streamRows(tokens), C}, f32);
    auto stType = RankedTensorType::get({1, R, W}, f32);
    SmallVector<Type> args = {b.getIndexType(), xType, stType};
    SmallVector<Type> results = {xType, stType};
    bool v7 = cfg.version == 7;
    if (v7 && !firstLayer)
      args.push_back(xType);
    if (v7 && firstLayer)
      results.push_back(xType);
    std::string name = llvm::formatv("seqc_layer{0}_{1}", firstLayer ? "0" : "",
                                     tokens == 1 ? "t1" : "tn");
    OpBuilder::InsertionGuard guard(b);
    // Layer functions go before the entry being built.
    b.setInsertionPoint(b.getInsertionBlock()->getParentOp());
    auto fn = func::FuncOp::create(b, loc, name,
                                   FunctionType::get(ctx, args, results));
    fn.setPrivate();
    fn.setArgAttr(2, bufferization::BufferizationDialect::kBufferLayoutAttrName,
                  StridedLayoutAttr::get(ctx, ShapedType::kDynamic,
                                         ArrayRef<int64_t>{R * W, W, 1}));
    b.setInsertionPointToStart(fn.addEntryBlock());
    LayerScope scope(*this, fn, firstLayer ? 0 : firstShared());

    Value x = fn.getArgument(1), st = fn.getArgument(2);
    Value vFirst = v7 && !firstLayer ? fn.getArgument(3) : Value();
    x = cfg.version == 4 ? layer4(x, st, repLayer)
                         : layer567(x, st, vFirst, repLayer);
    SmallVector<Value> outs = {x, st};
    if (v7 && firstLayer)
      outs.push_back(vFirst);
    func::ReturnOp::create(b, loc, outs);
    layerFuncs[key] = fn;
    return fn;
  }

  void buildForward(StringRef name, int64_t tokens, bool allLogits) override {
    int64_t V = cfg.vocab;
    Type i32 = b.getI32Type();
    auto tokensType = MemRefType::get({tokens}, i32);
    auto logitsType =
        MemRefType::get({allLogits ? ShapedType::kDynamic : 1, V}, f32);
    // The state is read and written in place (one buffer, no copies).
    func::FuncOp fn = startFunc(name, {tokensType, stateType(), logitsType});
    Value toks = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get({tokens}, i32), fn.getArgument(0),
        /*restrict=*/true);
    Value state = bufferization::ToTensorOp::create(
        b, loc,
        RankedTensorType::get({cfg.layers, rowsPerLayer(), stateWidth()}, f32),
        fn.getArgument(1), /*restrict=*/true, /*writable=*/true);

    // Embedding (ln0 is folded into the table at import); static for the
    // step entry (T = 1), so its shapes are all static.
    Value x = embedTokens(toks, "emb");
    if (perspectives())
      x = broadcastPerspectives(x);

    // The layers: RWKV-7's layer 0 by its own function, then the shared
    // layer function for the others, called with each layer (the code of a
    // layer exists once, whatever the depth).
    int64_t R = rowsPerLayer(), W = stateWidth();
    auto layerState = [&](Value st, Value l) {
      return tensor::ExtractSliceOp::create(
                 b, loc, RankedTensorType::get({1, R, W}, f32), st,
                 ArrayRef<OpFoldResult>{l, b.getIndexAttr(0),
                                        b.getIndexAttr(0)},
                 ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(R),
                                        b.getIndexAttr(W)},
                 ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                        b.getIndexAttr(1)})
          .getResult();
    };
    auto putLayerState = [&](Value st, Value into, Value l) {
      return tensor::InsertSliceOp::create(
                 b, loc, st, into,
                 ArrayRef<OpFoldResult>{l, b.getIndexAttr(0),
                                        b.getIndexAttr(0)},
                 ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(R),
                                        b.getIndexAttr(W)},
                 ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                        b.getIndexAttr(1)})
          .getResult();
    };
    Value vFirst;
    int64_t first = firstShared();
    if (first == 1) {
      func::FuncOp f0 = layerFunc(tokens, /*firstLayer=*/true);
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      auto call = func::CallOp::create(
          b, loc, f0, ValueRange{zero, x, layerState(state, zero)});
      x = call.getResult(0);
      state = putLayerState(call.getResult(1), state, zero);
      vFirst = call.getResult(2);
    }
    // One call per layer (a few ops each): the layer's code exists once.
    if (first < cfg.layers) {
      func::FuncOp fl = layerFunc(tokens, /*firstLayer=*/false);
      for (int64_t l = first; l < cfg.layers; ++l) {
        Value li = arith::ConstantIndexOp::create(b, loc, l);
        SmallVector<Value> args = {li, x, layerState(state, li)};
        if (vFirst)
          args.push_back(vFirst);
        auto call = func::CallOp::create(b, loc, fl, args);
        x = call.getResult(0);
        state = putLayerState(call.getResult(1), state, li);
        // SpikeGPT halves the residual every rescaleEvery layers.
        if (spiking && spiking->rescaleEvery &&
            (l + 1) % spiking->rescaleEvery == 0)
          x = elementwise({x}, [](OpBuilder &nb, Location nl, ValueRange a) {
            return arith::MulFOp::create(nb, nl, a[0], cst(nb, nl, 0.5f))
                .getResult();
          });
      }
    }

    // Head: on the last token only, unless every token's logits are wanted.
    if (!allLogits)
      x = perspectives() ? lastRows(x, numPerspectives()) : lastRow(x);
    Value logits = perspectives() ? perspectiveHead(layerNorm(x, "ln_out"))
                                  : linear(layerNorm(x, "ln_out"), "head");
    store(logits, fn.getArgument(2));
    store(state, fn.getArgument(1));
    endFunc(fn);
  }
};

} // namespace

namespace {} // namespace

llvm::Expected<RWKVModel> seqc::buildRWKV(MLIRContext *ctx, Checkpoint &ckpt,
                                          const RWKVConfig &cfg,
                                          WeightFormat format,
                                          const SpikeGPTOptions *spiking) {
  ctx->loadDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                   func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                   memref::MemRefDialect, seq::SeqDialect,
                   tensor::TensorDialect>();
  RWKVModel model;
  model.config = cfg;
  int64_t C = cfg.embd, F = cfg.ffn, V = cfg.vocab, H = cfg.heads,
          N = cfg.headSize;
  DType mat = format == WeightFormat::F16    ? DType::F16
              : format == WeightFormat::Int8 ? DType::I8
                                             : DType::F32;
  // LoRA factors (RWKV-6 and -7): f16 unless the weights are f32. Not int8:
  // their products are small (decode reads them on one thread), but they
  // carry the decay, where an int8 step is a visible change. At f16 they
  // are 8% of what an RWKV-7 0.4B int8 token reads, at f32 they were 14%.
  DType lora = format == WeightFormat::F32 ? DType::F32 : DType::F16;
  TensorReader reader{ckpt, cfg.name()};
  auto get = [&](const std::string &name, std::vector<int64_t> shape) {
    return reader.get(name, std::move(shape));
  };
  BlobWriter blob(model.weights);
  // ln0 applies to the embedding alone: fold it into the table. The table
  // stays f32 whatever the format (a token reads one row of it, so its
  // precision costs no bandwidth, and folding would not survive rounding).
  std::vector<float> emb = get("emb.weight", {V, C}),
                     ln0w = get("blocks.0.ln0.weight", {C}),
                     ln0b = get("blocks.0.ln0.bias", {C});
  if (spiking && spiking->binaryEmbedding.value_or(false))
    for (float &e : emb)
      e = e >= 0 ? 1.0f : 0.0f; // SpikeGPT's heaviside, before ln0.
  if (!reader.failed())
    layerNormRows(emb, C, ln0w, ln0b);
  blob.add("emb", {V, C}, emb, DType::F32);
  // Stops at the first error (reads after it return nothing).
  for (int64_t l = 0; l < cfg.layers && !reader.failed(); ++l) {
    std::string p = "blocks." + std::to_string(l) + ".";
    // A [C] vector (time-mix tensors are stored [1, 1, C]).
    auto vec = [&](const std::string &to, const std::string &from) {
      blob.add(p + to, {C}, get(p + from, {C}), DType::F32);
    };
    // 1 - m: RWKV-4/5 mix as x*m + prev*(1-m); the builder's lerp (shared
    // by every version) is x + (prev - x)*m', so m' = 1 - m.
    auto oneMinus = [&](const std::string &to, const std::string &from) {
      std::vector<float> m = get(p + from, {C});
      for (float &x : m)
        x = 1.0f - x;
      blob.add(p + to, {C}, m, DType::F32);
    };
    auto heads = [&](const std::string &to, const std::string &from) {
      blob.add(p + to, {H, N}, get(p + from, {H, N}), DType::F32);
    };
    auto matrix = [&](const std::string &to, const std::string &from,
                      int64_t rows, int64_t cols, int shift = 0) {
      std::vector<float> m = get(p + from, {rows, cols});
      for (float &x : m) // SpikeGPT's rescaling: exact, a power of 2.
        x = shift ? std::ldexp(x, -shift) : x;
      blob.add(p + to, {rows, cols}, m, mat);
    };
    int shift =
        spiking && spiking->rescaleEvery ? (int)(l / spiking->rescaleEvery) : 0;
    // A LoRA factor stored [in, out] in the checkpoint, [out, in] here.
    auto loraT = [&](const std::string &to, const std::string &from, int64_t in,
                     int64_t out) {
      blob.add(p + to, {out, in}, transpose(get(p + from, {in, out}), in, out),
               lora);
    };
    vec("ln1.w", "ln1.weight");
    vec("ln1.b", "ln1.bias");
    vec("ln2.w", "ln2.weight");
    vec("ln2.b", "ln2.bias");
    // Projections every version has.
    matrix("att.Wr", "att.receptance.weight", C, C);
    matrix("att.Wk", "att.key.weight", C, C);
    matrix("att.Wv", "att.value.weight", C, C);
    matrix("att.Wo", "att.output.weight", C, C, shift);
    matrix("ffn.Wk", "ffn.key.weight", F, C);
    matrix("ffn.Wv", "ffn.value.weight", C, F, shift);
    if (cfg.version != 7)
      matrix("ffn.Wr", "ffn.receptance.weight", C, C);
    if (cfg.version == 4 && cfg.perspectives) {
      // P temporal perspectives: each time_mix is [P, 1, 1, C] (P rows of
      // 1 - m, perspective major, as the state rows hold them); the decay
      // and bonus, shared, are repeated for the WKV op's P*C channels.
      int64_t P = cfg.perspectives;
      auto perspMix = [&](const std::string &to, const std::string &from) {
        if (reader.failed())
          return;
        std::string name = p + from;
        const Tensor *t = ckpt.find(name);
        if (!t) {
          reader.get(name, {P, 1, 1, C}); // Reports it missing.
          return;
        }
        std::vector<int64_t> have = t->shape, squeezed = t->shape;
        while (squeezed.size() > 1 && squeezed.front() == 1)
          squeezed.erase(squeezed.begin());
        bool ok = have == std::vector<int64_t>{P, 1, 1, C} ||
                  have == std::vector<int64_t>{P, C} ||
                  (P == 1 && squeezed == std::vector<int64_t>{C});
        if (!ok) {
          reader.err = llvm::createStringError(
              ckpt.path() + ": " + cfg.name() + " tensor '" + name + "' is " +
              t->describe() + ", expected [P, 1, 1, width] = [" +
              std::to_string(P) + ", 1, 1, " + std::to_string(C) + "] (the " +
              std::to_string(P) + " temporal perspectives of convert3.weight)");
          return;
        }
        std::vector<float> m = t->toF32();
        for (float &x : m)
          x = 1.0f - x;
        blob.add(p + to, {P * C}, m, DType::F32);
      };
      auto repeated = [&](std::vector<float> v) {
        std::vector<float> out;
        for (int64_t i = 0; i < P; ++i)
          out.insert(out.end(), v.begin(), v.end());
        return out;
      };
      for (const char *m : {"k", "v", "r"})
        perspMix(std::string("att.mix_") + m, std::string("att.time_mix_") + m);
      std::vector<float> w = get(p + "att.time_decay", {C});
      for (float &d : w)
        d = -std::exp(d);
      blob.add(p + "att.w", {P * C}, repeated(w), DType::F32);
      blob.add(p + "att.u", {P * C}, repeated(get(p + "att.time_first", {C})),
               DType::F32);
      perspMix("ffn.mix_k", "ffn.time_mix_k");
      perspMix("ffn.mix_r", "ffn.time_mix_r");
      continue;
    }
    if (cfg.version == 4) {
      for (const char *m : {"k", "v", "r"})
        oneMinus(std::string("att.mix_") + m, std::string("att.time_mix_") + m);
      std::vector<float> w = get(p + "att.time_decay", {C});
      for (float &d : w)
        d = -std::exp(d);
      blob.add(p + "att.w", {C}, w, DType::F32);
      vec("att.u", "att.time_first");
      oneMinus("ffn.mix_k", "ffn.time_mix_k");
      oneMinus("ffn.mix_r", "ffn.time_mix_r");
      continue;
    }
    // The group norm's [C] weight and bias, viewed per head.
    blob.add(p + "att.ln_x.w", {H, N}, get(p + "att.ln_x.weight", {C}),
             DType::F32);
    blob.add(p + "att.ln_x.b", {H, N}, get(p + "att.ln_x.bias", {C}),
             DType::F32);
    if (cfg.version == 5) {
      // 5.0 has no gate; 5.0 and 5.1 decay (and add the bonus) per head,
      // 5.2 per channel: per-head values are repeated over the head.
      auto perChannel = [&](const std::string &name) {
        if (cfg.minor == 2)
          return get(p + name, {H, N});
        std::vector<float> h = get(p + name, {H}), out;
        for (float x : h)
          out.insert(out.end(), N, x);
        return out;
      };
      for (const char *m : {"r", "k", "v", "g"})
        if (cfg.minor > 0 || *m != 'g')
          oneMinus(std::string("att.mix_") + m,
                   std::string("att.time_mix_") + m);
      std::vector<float> w = perChannel("att.time_decay");
      for (float &d : w)
        d = std::exp(-std::exp(d));
      blob.add(p + "att.w", {H, N}, w, DType::F32);
      std::vector<float> u =
          perChannel(cfg.expTimeFirst ? "att.time_first" : "att.time_faaaa");
      if (cfg.expTimeFirst)
        for (float &x : u)
          x = std::exp(x);
      blob.add(p + "att.u", {H, N}, u, DType::F32);
      if (cfg.minor > 0)
        matrix("att.Wg", "att.gate.weight", C, C);
      oneMinus("ffn.mix_k", "ffn.time_mix_k");
      oneMinus("ffn.mix_r", "ffn.time_mix_r");
    } else if (cfg.version == 6) {
      int64_t D = cfg.loraRanks[0].second, D2 = cfg.loraRanks[1].second;
      vec("att.maa_x", "att.time_maa_x");
      std::vector<float> w1 = get(p + "att.time_maa_w1", {C, 5 * D});
      std::vector<float> w2 = get(p + "att.time_maa_w2", {5, D, C});
      if (reader.failed())
        break;
      const char *parts[] = {"w", "k", "v", "r", "g"};
      for (int j = 0; j < 5; ++j) {
        vec(std::string("att.maa_") + parts[j],
            std::string("att.time_maa_") + parts[j]);
        // Columns j*D .. (j+1)*D of w1, as [D, C].
        std::vector<float> a(D * C);
        for (int64_t d = 0; d < D; ++d)
          for (int64_t c = 0; c < C; ++c)
            a[d * C + c] = w1[c * 5 * D + j * D + d];
        blob.add(p + "att.maa_w1_" + parts[j], {D, C}, a, lora);
        std::vector<float> m(w2.begin() + j * D * C,
                             w2.begin() + (j + 1) * D * C);
        blob.add(p + "att.maa_w2_" + parts[j], {C, D}, transpose(m, D, C),
                 lora);
      }
      vec("att.decay", "att.time_decay");
      loraT("att.decay_w1", "att.time_decay_w1", C, D2);
      loraT("att.decay_w2", "att.time_decay_w2", D2, C);
      heads("att.u", "att.time_faaaa");
      matrix("att.Wg", "att.gate.weight", C, C);
      vec("ffn.mix_k", "ffn.time_maa_k");
      vec("ffn.mix_r", "ffn.time_maa_r");
    } else {
      int64_t Dw = cfg.loraRanks[0].second, Da = cfg.loraRanks[1].second,
              Dg = cfg.loraRanks.back().second;
      for (const char *m :
           {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "k_k", "k_a"})
        vec(std::string("att.") + m, std::string("att.") + m);
      loraT("att.w1", "att.w1", C, Dw);
      loraT("att.w2", "att.w2", Dw, C);
      loraT("att.a1", "att.a1", C, Da);
      loraT("att.a2", "att.a2", Da, C);
      if (l > 0) {
        int64_t Dv = cfg.loraRanks[2].second;
        vec("att.v0", "att.v0");
        loraT("att.v1", "att.v1", C, Dv);
        loraT("att.v2", "att.v2", Dv, C);
      }
      loraT("att.g1", "att.g1", C, Dg);
      loraT("att.g2", "att.g2", Dg, C);
      heads("att.r_k", "att.r_k");
      vec("ffn.mix_k", "ffn.x_k");
    }
  }
  blob.add("ln_out.w", {C}, get("ln_out.weight", {C}), DType::F32);
  blob.add("ln_out.b", {C}, get("ln_out.bias", {C}), DType::F32);
  blob.add("head", {V, C}, get("head.weight", {V, C}), mat);
  if (cfg.perspectives)
    blob.add("convert3", {cfg.perspectives, C},
             get("convert3.weight", {cfg.perspectives, C}), DType::F32);
  if (reader.err)
    return std::move(reader.err);
  model.weights.bytes.resize((model.weights.bytes.size() + 63) / 64 * 64, 0);

  RWKVBuilder builder(ctx, cfg, model.weights, spiking);
  model.module = builder.build();
  if (!model.module)
    return llvm::createStringError(
        "internal error: the layers' weights are not laid out uniformly");
  model.stateShape = {cfg.layers, builder.rowsPerLayer(),
                      std::max<int64_t>(cfg.perspectives, 1) * C};
  if (failed(verify(*model.module)))
    return llvm::createStringError("internal error: the built " + cfg.name() +
                                   " module does not verify");
  return std::move(model);
}

//===----------------------------------------------------------------------===//
// Registry entry
//===----------------------------------------------------------------------===//

static llvm::Expected<seqc::ImportedModel>
importRWKV(MLIRContext *ctx, llvm::StringRef path,
           const seqc::ImportOptions &options) {
  using namespace seqc;
  if (options.rotationSeed)
    return llvm::createStringError(
        "--rotate-weights applies to LLaMA models (" + path + " is not one)");
  if (!(options.lnXEps > 0 && options.lnXEps < 1))
    return llvm::createStringError(
        "--ln-x-eps=" + llvm::formatv("{0}", options.lnXEps).str() +
        ": expected a number in (0, 1)");
  auto ckpt = Checkpoint::open(path);
  if (!ckpt)
    return ckpt.takeError();
  if ((*ckpt)->format() == "gguf")
    if (llvm::Error e = mapRWKVGguf(**ckpt))
      return std::move(e);
  auto cfg = detectRWKV(**ckpt);
  if (!cfg)
    return cfg.takeError();
  cfg->lnXEps = options.lnXEps;
  auto built = buildRWKV(ctx, **ckpt, *cfg, options.weights);
  if (!built)
    return built.takeError();
  ImportedModel m =
      makeImportedModel("rwkv" + std::to_string(cfg->version), *cfg, *built);
  m.stateShape = built->stateShape;
  return std::move(m);
}

const seqc::Architecture &seqc::getRWKVArchitecture() {
  // RWKV takes any checkpoint no other architecture claimed: its version
  // and hyperparameters come from the tensor names, and detectRWKV says
  // clearly when they are not RWKV's.
  static const Architecture arch = {
      "rwkv",
      "RWKV-4, -5, -6, -7: official .pth or safetensors names; llama.cpp's "
      "RWKV-6/-7 GGUF",
      [](llvm::StringRef) { return true; }, importRWKV};
  return arch;
}
