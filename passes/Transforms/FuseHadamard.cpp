//===- FuseHadamard.cpp - rotate cached keys and values
//--------------------===//

#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQFUSEHADAMARD
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

/// Whether `positions` is `kv_length(cache) + t` for token t (the
/// importers' form): a linalg.generic with no inputs whose body yields
/// that sum.
static bool arePositionsOf(Value positions, Value cache) {
  auto generic = positions.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 0 ||
      generic.getNumDpsInits() != 1)
    return false;
  auto yield =
      cast<linalg::YieldOp>(generic.getRegion().front().getTerminator());
  auto sum = yield.getOperand(0).getDefiningOp<arith::AddIOp>();
  if (!sum)
    return false;
  auto isIndex = [](Value v) {
    auto index = v.getDefiningOp<linalg::IndexOp>();
    return index && index.getDim() == 0;
  };
  auto isLength = [&](Value v) {
    auto length = v.getDefiningOp<KVLengthOp>();
    return length && length.getCache() == cache;
  };
  return (isIndex(sum.getLhs()) && isLength(sum.getRhs())) ||
         (isLength(sum.getLhs()) && isIndex(sum.getRhs()));
}

struct FuseHadamardPass
    : public seq::impl::SeqFuseHadamardBase<FuseHadamardPass> {
  using Base::Base;

  void runOnOperation() override {
    bool preRope = keyRotation == "pre-rope";
    if (!preRope && keyRotation != "post-rope") {
      getOperation()->emitError()
          << "seq-fuse-hadamard: key-rotation must be post-rope or pre-rope, "
             "got '"
          << keyRotation << "'";
      return signalPassFailure();
    }
    if (keyGroupHeads < 1 || (!preRope && keyGroupHeads != 1)) {
      getOperation()->emitError()
          << "seq-fuse-hadamard: key-group-heads (" << keyGroupHeads
          << ") must be positive, and 1 unless key-rotation=pre-rope";
      return signalPassFailure();
    }
    // Values the importer already rotated (QuaRot, folded into W_v / W_o).
    bool valuesFolded = false;
    if (auto folded =
            getOperation()->getAttrOfType<ArrayAttr>("seq.folded_rotations"))
      for (Attribute a : folded)
        if (auto str = dyn_cast<StringAttr>(a); str && str == "values")
          valuesFolded = true;
    SmallVector<KVAttentionOp> attentions;
    getOperation()->walk([&](KVAttentionOp op) { attentions.push_back(op); });
    for (KVAttentionOp op : attentions) {
      if (op->hasAttr("seq.rotated") || op.hasKeyTransform())
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
        append.getKeysMutable().assign(rotate(append.getKeys(), false));
      }
      if (!valuesFolded)
        append.getValuesMutable().assign(rotate(append.getValues(), false));
      if (!preRope) {
        b.setInsertionPoint(op);
        op.getQueryMutable().assign(rotate(op.getQuery(), false));
      }
      if (!valuesFolded) {
        b.setInsertionPointAfter(op);
        Value out = rotate(op.getOutput(), true);
        op.getOutput().replaceAllUsesExcept(out, out.getDefiningOp());
      }
      op->setAttr("seq.rotated", b.getUnitAttr());
      ++numRotated;
    }
  }

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
    KVCacheType cache = cacheType;
    if (cache.isScored() || (cache.getWindow() > 0 && !cache.isCompressed()))
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
    op.setKeyRotationHeadsAttr(b.getI64IntegerAttr(G));
    op.setKeyRopeThetaAttr(rope.getThetaAttr());
    op.setKeyRopeStyleAttr(rope.getStyleAttr());
    if (rope.getRotaryDim())
      op.setKeyRotaryDimAttr(rope.getRotaryDimAttr());
    if (rope->use_empty())
      rope->erase();
    return success();
  }
};

} // namespace
