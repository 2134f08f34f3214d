//===- LowRankKV.cpp - cache a joint low-rank latent of K and V -----------===//

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "passes/Transforms/CacheTypes.h"
#include "passes/Transforms/Calibration.h"
#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Eigen.h"

#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQLOWRANKKVPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

struct LowRankKVPass : public seq::impl::SeqLowRankKVPassBase<LowRankKVPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<KVAttentionOp, KVAppendOp>> work;
    module->walk([&](KVAttentionOp op) {
      if (op.getLatentBasis())
        return; // already low rank
      if (auto append = op.getCache().getDefiningOp<KVAppendOp>())
        work.push_back({op, append});
    });
    if (work.empty())
      return;
    if (rank <= 0 || rank % 2 != 0) {
      module->emitError() << "seq-low-rank-kv: rank must be positive and "
                             "even (half of the latent in the key rows, half "
                             "in the value rows), got "
                          << rank;
      return signalPassFailure();
    }
    // Every append and attention over a cache type that changes must be
    // one of the rewritten pairs (the type changes module-wide).
    llvm::DenseSet<Type> types;
    llvm::DenseSet<Operation *> rewritten;
    for (auto [op, append] : work) {
      types.insert(op.getCache().getType());
      rewritten.insert(op);
      rewritten.insert(append);
    }
    if (failed(
            checkOwnsCacheTypes(module, types, rewritten, "seq-low-rank-kv")))
      return signalPassFailure();
    DenseFPElementsAttr cov = getKVCovariance(module, "seq-low-rank-kv");
    if (!cov)
      return signalPassFailure();
    // One cache type (checked below), so one table of bases for the module.
    SmallVector<float> table;
    KVCacheType from, to;
    for (auto [op, append] : work) {
      KVCacheType type = op.getCache().getType();
      int64_t H = type.getHeads(), D = type.getHeadDim(), N = 2 * H * D;
      if (op.hasKeyTransform() ||
          seq::SeqDialect::RotatedAttrHelper(op->getContext())
              .isAttrPresent(op) ||
          seq::SeqDialect::BalancedAttrHelper(op->getContext())
              .isAttrPresent(op) ||
          type.isCompressed() || type.getWindow() != 0 || type.isScored())
        return fail(op, "the cache must be a plain full-precision one whose "
                        "keys and values are as the model computes them; run "
                        "seq-low-rank-kv before the rotation, balancing, "
                        "compression and eviction passes");
      if (from && type != from)
        return fail(op, "all caches of the module must have one type");
      if (rank > N)
        return fail(op, "rank " + Twine(rank) +
                            " exceeds 2 x KV heads x "
                            "head_dim = " +
                            Twine(N));
      auto load = append.getCache().getDefiningOp<KVLoadOp>();
      if (!load)
        return fail(op, "the cache must come from a seq.kv_load (its slot "
                        "is the layer of the calibration)");
      auto shape = cov.getType().getShape();
      if (shape[1] != N)
        return fail(op, "seq.kv_calibration's kv_covariance is [" +
                            Twine(shape[0]) + ", " + Twine(shape[1]) + ", " +
                            Twine(shape[2]) + "]; this cache needs [layers, " +
                            Twine(N) + ", " + Twine(N) + "]");
      int64_t L = shape[0];
      APInt slot;
      if (matchPattern(load.getSlot(), m_ConstantInt(&slot)) &&
          (slot.getSExtValue() < 0 || slot.getSExtValue() >= L))
        return fail(op, "cache slot " + Twine(slot.getSExtValue()) +
                            " has no calibration (" + Twine(L) + " layers)");
      if (!append.getKeys().getType().getElementType().isF32() ||
          !append.getValues().getType().getElementType().isF32())
        return fail(op, "the appended keys and values must be f32");
      RopeOp rope = append.getKeys().getDefiningOp<RopeOp>();
      // Keys with a RoPE the pass cannot see would be projected after it
      // with a basis measured before it.
      bool anyRope = false;
      append->getParentOfType<FunctionOpInterface>()->walk(
          [&](RopeOp) { anyRope = true; });
      if (!rope && anyRope)
        return fail(op, "the appended keys must come directly from a "
                        "seq.rope (the basis is measured before RoPE) or "
                        "the function must have no RoPE");
      if (rope && !arePositionsOf(rope.getPositions(), append.getCache()))
        return fail(op, "the keys' RoPE positions must be the cache positions "
                        "(kv_length of the cache + token index), which the "
                        "attention recomputes");
      if (table.empty())
        table = bases(cov, L, N);
      KeyFormAttr form = rewrite(op, append, load, rope, table, L, N);
      if (to && to.getKeyForm() != form)
        return fail(op, "the keys of every cache must have the same RoPE");
      from = type;
      to = KVCacheType::get(&getContext(), 1, rank / 2, type.getCapacity(),
                            type.getElementType(), {}, {}, type.getSinks(), 0,
                            {}, 0, form);
      ++numLowRank;
    }
    replaceCacheTypes(module, {{from, to}});
    // Consumed: the bases are in the module now, and the covariance
    // (layers x N x N numbers) would only weigh on every later pass.
    if (auto calibration = KVCalibrationAttr::getFrom(module))
      module->setAttr(KVCalibrationAttr::kAttrName,
                      KVCalibrationAttr::get(&getContext(),
                                             calibration.getKeyAbsmax(),
                                             DenseFPElementsAttr()));
  }

  void fail(KVAttentionOp op, const Twine &why) {
    op.emitOpError() << "seq-low-rank-kv: " << why;
    signalPassFailure();
  }

  /// [L, N, rank]: per layer, the rank principal directions of its
  /// covariance as columns.
  SmallVector<float> bases(DenseFPElementsAttr cov, int64_t L, int64_t N) {
    SmallVector<float> all(cov.getValues<float>().begin(),
                           cov.getValues<float>().end());
    SmallVector<float> table;
    table.reserve(L * N * rank);
    for (int64_t l = 0; l < L; ++l) {
      std::vector<double> a(all.begin() + l * N * N,
                            all.begin() + (l + 1) * N * N);
      // Symmetrize what f32 storage may have left slightly asymmetric.
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = i + 1; j < N; ++j)
          a[i * N + j] = a[j * N + i] = 0.5 * (a[i * N + j] + a[j * N + i]);
      std::vector<double> values, vectors;
      seqc::symmetricEigen(a, N, values, vectors);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < rank; ++k)
          table.push_back((float)vectors[i * N + k]);
    }
    return table;
  }

  /// Returns the cache's key form (latents, before `rope` if any).
  KeyFormAttr rewrite(KVAttentionOp op, KVAppendOp append, KVLoadOp load,
                      RopeOp rope, ArrayRef<float> table, int64_t L,
                      int64_t N) {
    KVCacheType type = op.getCache().getType();
    int64_t H = type.getHeads(), D = type.getHeadDim(), HD = H * D;
    int64_t R = rank, half = rank / 2;
    Location loc = op.getLoc();
    OpBuilder b(append);
    Type f32 = b.getF32Type();
    Value keys = rope ? rope.getInput() : append.getKeys();
    Value values = append.getValues();
    SmallVector<ReassociationIndices> re = {{0}, {1, 2}};
    Value kFlat = tensor::CollapseShapeOp::create(b, loc, keys, re);
    Value vFlat = tensor::CollapseShapeOp::create(b, loc, values, re);
    // The layer's basis U [N, R] and its key and value rows.
    auto tableType = RankedTensorType::get({L, N, R}, f32);
    Value all = arith::ConstantOp::create(
        b, loc, DenseFPElementsAttr::get(tableType, table));
    auto slice2 = [&](Value src, ArrayRef<OpFoldResult> offsets,
                      ArrayRef<int64_t> sizes) -> Value {
      auto srcType = cast<RankedTensorType>(src.getType());
      SmallVector<OpFoldResult> sz,
          strides(srcType.getRank(), b.getIndexAttr(1));
      for (int64_t s : sizes)
        sz.push_back(b.getIndexAttr(s));
      auto resultType = RankedTensorType::get(sizes.take_back(2), f32);
      return tensor::ExtractSliceOp::create(b, loc, resultType, src, offsets,
                                            sz, strides);
    };
    Value basis = slice2(
        all, {load.getSlot(), b.getIndexAttr(0), b.getIndexAttr(0)}, {1, N, R});
    Value uk = slice2(basis, {b.getIndexAttr(0), b.getIndexAttr(0)}, {HD, R});
    Value uv = slice2(basis, {b.getIndexAttr(HD), b.getIndexAttr(0)}, {HD, R});
    // latent[t, r] = sum_i k[t, i] U[i, r] + v[t, i] U[HD + i, r].
    OpFoldResult T = tensor::getMixedSize(b, loc, kFlat, 0);
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{T, b.getIndexAttr(R)}, f32);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    init = linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{init})
               .getResult(0);
    MLIRContext *ctx = &getContext();
    AffineExpr t = b.getAffineDimExpr(0), r = b.getAffineDimExpr(1),
               i = b.getAffineDimExpr(2);
    auto map = [&](ArrayRef<AffineExpr> e) {
      return AffineMap::get(3, 0, e, ctx);
    };
    Value latent =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{kFlat, uk, vFlat, uv},
            ValueRange{init},
            SmallVector<AffineMap>{map({t, i}), map({i, r}), map({t, i}),
                                   map({i, r}), map({t, r})},
            SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel,
                                             utils::IteratorType::reduction},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value kk = arith::MulFOp::create(nb, nl, a[0], a[1]);
              Value vv = arith::MulFOp::create(nb, nl, a[2], a[3]);
              Value s = arith::AddFOp::create(
                  nb, nl, a[4], arith::AddFOp::create(nb, nl, kk, vv));
              linalg::YieldOp::create(nb, nl, s);
            })
            .getResult(0);
    // [T, R] -> key rows [T, 1, R/2] and value rows [T, 1, R/2].
    auto halfOf = [&](int64_t offset) -> Value {
      int64_t tokens = cast<RankedTensorType>(keys.getType()).getDimSize(0);
      Value part = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({tokens, half}, f32), latent,
          ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{T, b.getIndexAttr(half)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
      return tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({tokens, 1, half}, f32), part,
          SmallVector<ReassociationIndices>{{0}, {1, 2}},
          ArrayRef<OpFoldResult>{T, b.getIndexAttr(1), b.getIndexAttr(half)});
    };
    Value latentKeys = halfOf(0), latentValues = halfOf(half);
    append.getKeysMutable().assign(latentKeys);
    append.getValuesMutable().assign(latentValues);
    op.getLatentBasisMutable().assign(basis);
    return cachedKeyForm(op.getContext(), /*rotationHeads=*/0, H, rope);
  }
};

} // namespace
