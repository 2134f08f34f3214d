//===- FuseHadamard.cpp - rotate cached keys and values
//--------------------===//

#include "passes/Transforms/CacheTypes.h"
#include "passes/Transforms/Calibration.h"
#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

#include <numeric>

namespace mlir::seq {
#define GEN_PASS_DEF_SEQFUSEHADAMARDPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

/// Channel order of one head: its channels by decreasing magnitude, dealt
/// to the blocks of `block` channels in zigzag order (0, 1, .., n-1, n-1,
/// .., 0, ...); within a block, in the order they were dealt.
static SmallVector<int32_t> zigzagOrder(ArrayRef<float> magnitude,
                                        int64_t block) {
  int64_t D = magnitude.size(), blocks = D / block;
  SmallVector<int32_t> byMagnitude(D);
  std::iota(byMagnitude.begin(), byMagnitude.end(), 0);
  std::stable_sort(
      byMagnitude.begin(), byMagnitude.end(),
      [&](int32_t a, int32_t b) { return magnitude[a] > magnitude[b]; });
  SmallVector<int32_t> order(D);
  SmallVector<int64_t> filled(blocks, 0);
  for (int64_t r = 0; r < D; ++r) {
    int64_t round = r / blocks, at = r % blocks;
    int64_t blk = round % 2 == 0 ? at : blocks - 1 - at;
    order[blk * block + filled[blk]++] = byMagnitude[r];
  }
  return order;
}

struct FuseHadamardPass
    : public seq::impl::SeqFuseHadamardPassBase<FuseHadamardPass> {
  using Base::Base;

  void runOnOperation() override {
    bool preRope = keyRotation == KeyRotation::PreRope;
    if (preRope && (keyBlock != 0 || reorderKeys)) {
      getOperation()->emitError()
          << "seq-fuse-hadamard: key-block and reorder-keys apply to "
             "key-rotation=post-rope";
      return signalPassFailure();
    }
    DenseFPElementsAttr calibration;
    if (reorderKeys && !(calibration = getKeyCalibration(
                             getOperation(), "seq-fuse-hadamard reorder-keys")))
      return signalPassFailure();
    if (keyGroupHeads < 1 || (!preRope && keyGroupHeads != 1)) {
      getOperation()->emitError()
          << "seq-fuse-hadamard: key-group-heads (" << keyGroupHeads
          << ") must be positive, and 1 unless key-rotation=pre-rope";
      return signalPassFailure();
    }
    // Values the importer already rotated (QuaRot, folded into W_v / W_o).
    bool valuesFolded = false;
    if (ArrayAttr folded =
            seq::SeqDialect::FoldedRotationsAttrHelper(&getContext())
                .getAttr(getOperation()))
      for (Attribute a : folded)
        if (auto str = dyn_cast<StringAttr>(a); str && str == "values")
          valuesFolded = true;
    SmallVector<KVAttentionOp> attentions;
    getOperation()->walk([&](KVAttentionOp op) { attentions.push_back(op); });
    seq::SeqDialect::RotatedAttrHelper rotated(&getContext());
    for (KVAttentionOp op : attentions) {
      if (rotated.isAttrPresent(op) || op.hasKeyTransform())
        continue;
      auto append = op.getCache().getDefiningOp<KVAppendOp>();
      if (!append)
        continue;
      KVCacheType cacheType = op.getCache().getType();
      int64_t d = cacheType.getHeadDim();
      if (!seqc::factorizeHadamardOrder(d)) {
        op.emitOpError() << "seq-fuse-hadamard: head_dim " << d
                         << " has no Hadamard matrix; supported orders are "
                         << seqc::describeSupportedHadamardOrders();
        return signalPassFailure();
      }
      OpBuilder b(op);
      auto rotate = [&](Value v, bool transpose) -> Value {
        return HadamardOp::create(b, op.getLoc(), v.getType(), v,
                                  /*block_size=*/IntegerAttr(),
                                  /*normalized=*/true, transpose);
      };
      b.setInsertionPoint(append);
      if (preRope) {
        if (failed(rotateKeysBeforeRope(b, op, append)))
          return signalPassFailure();
      } else {
        if (failed(prepareKeys(b, op, append, calibration)))
          return signalPassFailure();
        append.getKeysMutable().assign(
            rotateKeys(b, op.getLoc(), append.getKeys(), d));
      }
      if (!valuesFolded)
        append.getValuesMutable().assign(rotate(append.getValues(), false));
      if (!preRope) {
        b.setInsertionPoint(op);
        Value q = op.getQuery();
        if (queryOrder)
          q = PermuteChannelsOp::create(b, op.getLoc(), q.getType(), q, layer,
                                        queryOrder, /*table=*/Value());
        op.getQueryMutable().assign(rotateKeys(b, op.getLoc(), q, d));
      }
      if (!valuesFolded) {
        b.setInsertionPointAfter(op);
        Value out = rotate(op.getOutput(), true);
        op.getOutput().replaceAllUsesExcept(out, out.getDefiningOp());
      }
      rotated.setAttr(op, b.getUnitAttr());
      ++numRotated;
    }
    if (keyForms.empty())
      return;
    // The caches of keys before RoPE say so in their type.
    llvm::DenseSet<Type> types;
    for (auto &entry : keyForms)
      types.insert(entry.first);
    if (failed(checkOwnsCacheTypes(getOperation(), types, preRopeOps,
                                   "seq-fuse-hadamard key-rotation=pre-rope")))
      return signalPassFailure();
    replaceCacheTypes(getOperation(), keyForms);
  }

  /// Pre-RoPE mode: each rotated cache type and the type that says how its
  /// keys are stored, and the appends and attentions rewritten.
  llvm::DenseMap<Type, Type> keyForms;
  llvm::DenseSet<Operation *> preRopeOps;

  /// Post-RoPE rotation of queries or keys: blocks of keyBlock channels or
  /// the whole head.
  Value rotateKeys(OpBuilder &b, Location loc, Value v, int64_t d) {
    int64_t block = keyBlock ? keyBlock : d;
    return HadamardOp::create(b, loc, v.getType(), v,
                              block == d ? IntegerAttr()
                                         : b.getI64IntegerAttr(block),
                              /*normalized=*/true, /*transpose=*/false);
  }

  /// Checks the block size and, with reorder-keys, reorders the appended
  /// keys by the calibration of the cache's layer (its slot) and keeps the
  /// queries' table and the layer for the caller.
  LogicalResult prepareKeys(OpBuilder &b, KVAttentionOp op, KVAppendOp append,
                            DenseFPElementsAttr calibration) {
    queryOrder = {};
    KVCacheType type = op.getCache().getType();
    int64_t H = type.getHeads(), D = type.getHeadDim();
    int64_t block = keyBlock ? keyBlock : D;
    if (block < 1 || D % block != 0 || !seqc::factorizeHadamardOrder(block))
      return op.emitOpError()
             << "seq-fuse-hadamard: key-block " << block
             << " must divide head_dim " << D
             << " and have a Hadamard matrix (supported orders are "
             << seqc::describeSupportedHadamardOrders() << ")";
    if (!calibration)
      return success();
    FailureOr<AttentionCalibration> cal = calibrationFor(
        op, append, calibration, "seq-fuse-hadamard reorder-keys");
    if (failed(cal))
      return failure();
    int64_t L = cal->layers, rep = cal->queryHeads / H;
    SmallVector<int32_t> keyTable, queryTable;
    for (int64_t l = 0; l < L; ++l) {
      SmallVector<SmallVector<int32_t>> heads;
      for (int64_t h = 0; h < H; ++h) {
        heads.push_back(zigzagOrder(cal->head(l, h), block));
        keyTable.append(heads.back());
      }
      for (int64_t h = 0; h < H * rep; ++h)
        queryTable.append(heads[h / rep]);
    }
    auto table = [&](int64_t heads, ArrayRef<int32_t> values) {
      return DenseIntElementsAttr::get(
          RankedTensorType::get({L, heads, D}, b.getI32Type()), values);
    };
    layer = cal->layer;
    queryOrder = table(H * rep, queryTable);
    Value k = append.getKeys();
    append.getKeysMutable().assign(
        PermuteChannelsOp::create(b, op.getLoc(), k.getType(), k, layer,
                                  table(H, keyTable), /*table=*/Value()));
    return success();
  }

  /// Set by prepareKeys for the attention being rotated.
  DenseIntElementsAttr queryOrder;
  Value layer;

  /// RotateKV: the append takes the keys before their seq.rope, rotated by
  /// groups of keyGroupHeads heads; the attention reads them back.
  LogicalResult rotateKeysBeforeRope(OpBuilder &b, KVAttentionOp op,
                                     KVAppendOp append) {
    KVCacheType cacheType = op.getCache().getType();
    int64_t heads = cacheType.getHeads(), d = cacheType.getHeadDim();
    int64_t G = keyGroupHeads;
    auto rope = append.getKeys().getDefiningOp<RopeOp>();
    if (!rope)
      return op.emitOpError()
             << "seq-fuse-hadamard key-rotation=pre-rope: the appended keys "
                "must come from a seq.rope";
    if (!arePositionsOf(rope.getPositions(), append.getCache()))
      return rope.emitOpError()
             << "seq-fuse-hadamard key-rotation=pre-rope: the keys' RoPE "
                "positions must be the cache positions (kv_length of the "
                "cache + token index), which the attention recomputes";
    if (heads % G != 0)
      return op.emitOpError()
             << "seq-fuse-hadamard: key-group-heads (" << G
             << ") must divide the cache's KV heads (" << heads << ")";
    if (!seqc::factorizeHadamardOrder(G * d))
      return op.emitOpError()
             << "seq-fuse-hadamard: key-group-heads " << G << " x head_dim "
             << d << " = " << G * d << " has no Hadamard matrix; supported "
             << "orders are " << seqc::describeSupportedHadamardOrders();
    if (!cacheType.keepsPositions())
      return op.emitOpError()
             << "seq-fuse-hadamard key-rotation=pre-rope: the cache evicts "
                "tokens, and keys before RoPE need their positions";
    Location loc = rope.getLoc();
    Value keys = rope.getInput();
    auto type = cast<RankedTensorType>(keys.getType());
    Value rotated;
    if (G == 1) {
      rotated = HadamardOp::create(b, loc, type, keys, IntegerAttr(),
                                   /*normalized=*/true, /*transpose=*/false);
    } else {
      // [T, H, D] -> [T, H*D], blocks of G*D channels, and back.
      SmallVector<ReassociationIndices> re = {{0}, {1, 2}};
      Value flat = tensor::CollapseShapeOp::create(b, loc, keys, re);
      flat = HadamardOp::create(b, loc, flat.getType(), flat,
                                b.getI64IntegerAttr(G * d),
                                /*normalized=*/true, /*transpose=*/false);
      SmallVector<OpFoldResult> shape = {tensor::getMixedSize(b, loc, keys, 0),
                                         b.getIndexAttr(heads),
                                         b.getIndexAttr(d)};
      rotated = tensor::ExpandShapeOp::create(b, loc, type, flat, re, shape);
    }
    append.getKeysMutable().assign(rotated);
    KVCacheType stored = cacheType.withKeyForm(
        cachedKeyForm(op.getContext(), G, /*latentHeads=*/0, rope));
    auto [it, inserted] = keyForms.try_emplace(cacheType, stored);
    if (!inserted && it->second != stored)
      return op.emitOpError()
             << "seq-fuse-hadamard key-rotation=pre-rope: caches of one type "
                "would store their keys in different forms (their RoPE "
                "differs)";
    preRopeOps.insert(op);
    preRopeOps.insert(append);
    return success();
  }
};

} // namespace
