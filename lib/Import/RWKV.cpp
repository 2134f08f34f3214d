//===- RWKV.cpp - RWKV checkpoints to seq-dialect modules -----------------===//

#include "seqc/Import/RWKV.h"
#include "RWKVBuilder.h"
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

} // namespace

//===----------------------------------------------------------------------===//
// IR building
//===----------------------------------------------------------------------===//

/// Initial state: zeros, except RWKV-4's pp (row 3) = -1e30 (no past), or
/// with a quantized WKV state its p (row 1, the layout's lead).
void RWKVBuilder::buildInitState() {
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
            Value three = arith::ConstantIndexOp::create(nb, nl,
                                                         cfg.version != 4 ? -1
                                                         : cfg.stateBits  ? 1
                                                                          : 3);
            Value isPP = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                               row, three);
            Value noPast = cst(nb, nl, -1e30f);
            Value zero = cst(nb, nl, 0.0f);
            Value v = arith::SelectOp::create(nb, nl, isPP, noPast, zero);
            linalg::YieldOp::create(nb, nl, v);
          })
          .getResult(0);
  store(filled, fn.getArgument(0));
  endFunc(fn);
}

/// Layer norm of each row (eps 1e-5).
Value RWKVBuilder::layerNorm(Value x, StringRef prefix) {
  float invC = 1.0f / cfg.embd;
  Value sum = rowSum(x, Value(),
                     [](OpBuilder &, Location, Value v, Value) { return v; });
  Value sq = rowSum(
      x, sum, [&](OpBuilder &nb, Location nl, Value v, Value s) -> Value {
        Value mean = arith::MulFOp::create(nb, nl, s, cst(nb, nl, invC));
        Value d = arith::SubFOp::create(nb, nl, v, mean);
        return arith::MulFOp::create(nb, nl, d, d);
      });
  Value w = weight((prefix + ".w").str()), bias = weight((prefix + ".b").str());
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
Value RWKVBuilder::stateRows(Value state, int64_t layer, int64_t row0,
                             int64_t rows) {
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

Value RWKVBuilder::setStateRows(Value state, Value rows, int64_t layer,
                                int64_t row0) {
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

/// x + (prev - x) * m (m a [C] weight, optionally plus a [T, C] offset).
Value RWKVBuilder::lerp(Value x, Value prev, Value m, Value offset) {
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

/// The channel-mixing half of a block, shared by every version:
/// x + sigmoid(Wr·xr) ⊙ Wv·relu(Wk·xk)² (RWKV-7: no receptance gate), with
/// the carried token in state row `shiftRow`.
Value RWKVBuilder::channelMix(Value x, Value &state, int64_t l,
                              int64_t shiftRow) {
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
  return cfg.version == 4 ? residual(x, out, state, row4(kMembraneFfn))
                          : add(x, out);
}

/// A block half's output joins the residual: x + out, or SpikeGPT's
/// x + LIF(out) with the membrane in state row `row`, the spike count in
/// row + 2.
Value RWKVBuilder::residual(Value x, Value out, Value &state, int64_t row) {
  if (!spiking)
    return add(x, out);
  Value membrane = stateRows(state, 0, row, 1);
  Value counts = stateRows(state, 0, row + 2, 1);
  SpikingResidual r =
      buildSpikingResidual(b, loc, x, out, membrane, counts, *spiking);
  state = setStateRows(state, r.membrane, 0, row);
  state = setStateRows(state, r.counts, 0, row + 2);
  return r.x;
}

/// One RWKV-4 block; returns the new residual stream.
Value RWKVBuilder::layer4(Value x, Value &state, int64_t l) {
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
  Value wkvState =
      cfg.stateBits ? wkvStateWords(state, 1) : stateRows(state, 0, 1, 3);
  auto wkv = seq::WKV4Op::create(
      b, loc, TypeRange{seqType, wkvState.getType()},
      ValueRange{k, v, weight(p + "att.w"), weight(p + "att.u"), wkvState});
  if (seq::QuantEncodingAttr q = stateQuant())
    wkv.setStateQuantAttr(q);
  Value ry =
      elementwise({r, toRows(wkv.getResult(0))}, [](OpBuilder &nb, Location nl,
                                                    ValueRange a) {
        return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
      });
  x = residual(x, linear(ry, p + "att.Wo"), state, row4(kMembraneAtt));
  state = setStateRows(state, shiftA.getResult(1), 0, 0);
  state = cfg.stateBits ? setWkvStateWords(state, wkv.getResult(1), 1)
                        : setStateRows(state, wkv.getResult(1), 0, 1);

  return channelMix(x, state, l, /*shiftRow=*/row4(4));
}

/// The private function computing one layer for `tokens` tokens (static
/// or dynamic): (layer, x, layer state [, v_first]) ->
/// (x', layer state' [, v_first]). Built once and cached. The layer state
/// is updated in place: each row is read before it is overwritten, and
/// the argument's buffer layout is declared with the static strides of a
/// layer of the whole state, so the rows of the matrix state reshape to
/// [H, N, N] as a view (a fully dynamic layout would force a copy).
func::FuncOp RWKVBuilder::layerFunc(int64_t tokens, bool firstLayer) {
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
  std::string name = llvm::formatv(
      "seqc_layer{0}_t{1}", firstLayer ? "0" : "",
      ShapedType::isDynamic(tokens) ? "n" : std::to_string(tokens));
  OpBuilder::InsertionGuard guard(b);
  // Layer functions go before the entry being built.
  b.setInsertionPoint(b.getInsertionBlock()->getParentOp());
  auto fn =
      func::FuncOp::create(b, loc, name, FunctionType::get(ctx, args, results));
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

void RWKVBuilder::buildForward(StringRef name, int64_t tokens, bool allLogits) {
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
               ArrayRef<OpFoldResult>{l, b.getIndexAttr(0), b.getIndexAttr(0)},
               ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(R),
                                      b.getIndexAttr(W)},
               ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                      b.getIndexAttr(1)})
        .getResult();
  };
  auto putLayerState = [&](Value st, Value into, Value l) {
    return tensor::InsertSliceOp::create(
               b, loc, st, into,
               ArrayRef<OpFoldResult>{l, b.getIndexAttr(0), b.getIndexAttr(0)},
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

//===----------------------------------------------------------------------===//
// Import
//===----------------------------------------------------------------------===//

llvm::Expected<RWKVModel> seqc::buildRWKV(MLIRContext *ctx, Checkpoint &ckpt,
                                          const RWKVConfig &cfg,
                                          WeightFormat format,
                                          const SpikeGPTOptions *spiking,
                                          WeightSink *sink) {
  ctx->loadDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                   func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                   memref::MemRefDialect, seq::SeqDialect,
                   tensor::TensorDialect>();
  RWKVModel model;
  model.config = cfg;
  model.weights.sink = sink;
  int64_t C = cfg.embd, F = cfg.ffn, V = cfg.vocab, H = cfg.heads,
          N = cfg.headSize;
  if (llvm::Error e =
          checkQ4Widths(format, cfg.name(), {{"embd", C}, {"ffn", F}}))
    return std::move(e);
  if (llvm::Error e = checkWeightSource(format, ckpt))
    return std::move(e);
  // The storage of a matrix, by its checkpoint name.
  auto mat = [&](const std::string &name) {
    return matrixDType(format, ckpt.find(name));
  };
  // LoRA factors (RWKV-6 and -7): f16 unless the weights are f32 (or a
  // GGUF file's types, whose LoRA factors llama.cpp's converter keeps in
  // f32, the types seqc reads them in: the mapping transposes them). Not int8:
  // their products are small (decode reads them on one thread), but they
  // carry the decay, where an int8 step is a visible change. At f16 they
  // are 8% of what an RWKV-7 0.4B int8 token reads, at f32 they were 14%.
  DType lora = format == WeightFormat::F32 || format == WeightFormat::Gguf
                   ? DType::F32
                   : DType::F16;
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
  std::vector<float>().swap(emb); // Written: freed.
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
      // A GGUF file's blocks are kept where the format allows (a
      // Checkpoint::scale of a power of two included).
      const Tensor *t = ckpt.find(p + from);
      blob.add(p + to, {rows, cols}, m, mat(p + from), shift ? nullptr : t);
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
      addPerspectiveWeights(reader, blob, ckpt, cfg, p);
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
  // The perspectives head is no plain projection (it runs over every
  // perspective before they are mixed): under a group format it is int8
  // (one scale per row, applied after the mix).
  DType head = cfg.perspectives && isGroupFormat(format) ? DType::I8
                                                         : mat("head.weight");
  blob.add("head", {V, C}, get("head.weight", {V, C}), head,
           ckpt.find("head.weight"));
  if (cfg.perspectives)
    blob.add("convert3", {cfg.perspectives, C},
             get("convert3.weight", {cfg.perspectives, C}), DType::F32);
  if (reader.err)
    return std::move(reader.err);
  if (llvm::Error e = blob.takeError())
    return std::move(e);
  model.weights.pad(64);

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
  cfg->prefillTokens = options.prefillTokens;
  std::string stateFormat;
  if (llvm::Error e = applyStateOptions(ctx, *cfg, options, stateFormat))
    return std::move(e);
  auto built = buildRWKV(ctx, **ckpt, *cfg, options.weights, nullptr,
                         options.weightSink);
  if (!built)
    return built.takeError();
  ImportedModel m =
      makeImportedModel("rwkv" + std::to_string(cfg->version), *cfg, *built);
  m.stateShape = built->stateShape;
  m.stateFormat = stateFormat;
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
