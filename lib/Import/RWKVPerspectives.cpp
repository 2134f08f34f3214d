//===- RWKVPerspectives.cpp - RWKV-4 with temporal perspectives -----------===//
//
// RWKV-4 with P temporal perspectives (docs/design.md, "RWKV-4 with
// multiple temporal perspectives"): the residual stream as P copies
// ([T*P, C] rows, [T, P*C] for the channel-wise ops), the head that
// combines them (seq.perspective_combine, seq.perspective_mix), and the
// per-perspective mixing weights at import.
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

//===----------------------------------------------------------------------===//
// The residual stream and the head
//===----------------------------------------------------------------------===//

/// Rows of the residual stream for `tokens` tokens (static or dynamic).
int64_t RWKVBuilder::streamRows(int64_t tokens) const {
  if (!perspectives() || ShapedType::isDynamic(tokens))
    return tokens;
  return tokens * numPerspectives();
}

/// The stream's [T*P, C] rows as the [T, P*C] sequence of the channel-wise
/// ops (a view: rows t*P .. t*P+P-1 are contiguous); unchanged without
/// perspectives.
Value RWKVBuilder::toTime(Value rows) {
  if (!perspectives())
    return rows;
  int64_t P = numPerspectives(), C = cfg.embd;
  auto type = cast<RankedTensorType>(rows.getType());
  int64_t T =
      type.isDynamicDim(0) ? ShapedType::kDynamic : type.getDimSize(0) / P;
  OpFoldResult t;
  if (type.isDynamicDim(0)) {
    Value n = tensor::DimOp::create(b, loc, rows, 0);
    Value per = arith::ConstantIndexOp::create(b, loc, P);
    t = arith::DivUIOp::create(b, loc, n, per).getResult();
  } else {
    t = b.getIndexAttr(T);
  }
  Value x3 = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({T, P, C}, f32), rows,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}},
      SmallVector<OpFoldResult>{t, b.getIndexAttr(P), b.getIndexAttr(C)});
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({T, P * C}, f32), x3,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}});
}

/// A [T, P*C] sequence as the stream's [T*P, C] rows.
Value RWKVBuilder::toRows(Value seq) {
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
Value RWKVBuilder::perspectiveRows3(Value seq) {
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
Value RWKVBuilder::broadcastPerspectives(Value x) {
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
Value RWKVBuilder::lastRows(Value x, int64_t P) {
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
Value RWKVBuilder::perspectiveHead(Value h) {
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
            SmallVector<AffineMap>{map3({0, 1, 2}), map3({2}), map3({0, 1, 2})},
            SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
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

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

void import::addPerspectiveWeights(TensorReader &reader, BlobWriter &blob,
                                   Checkpoint &ckpt, const RWKVConfig &cfg,
                                   const std::string &p) {
  int64_t C = cfg.embd;
  auto get = [&](const std::string &name, std::vector<int64_t> shape) {
    return reader.get(name, std::move(shape));
  };
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
}
