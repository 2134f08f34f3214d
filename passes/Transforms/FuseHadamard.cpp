//===- FuseHadamard.cpp - rotate cached keys and values
//--------------------===//

#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/IR/Builders.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQFUSEHADAMARD
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

struct FuseHadamardPass
    : public seq::impl::SeqFuseHadamardBase<FuseHadamardPass> {
  void runOnOperation() override {
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
      if (op->hasAttr("seq.rotated"))
        continue;
      auto append = op.getCache().getDefiningOp<KVAppendOp>();
      if (!append)
        continue;
      int64_t d = op.getCache().getType().getHeadDim();
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
      append.getKeysMutable().assign(rotate(append.getKeys(), false));
      if (!valuesFolded)
        append.getValuesMutable().assign(rotate(append.getValues(), false));
      b.setInsertionPoint(op);
      op.getQueryMutable().assign(rotate(op.getQuery(), false));
      if (!valuesFolded) {
        b.setInsertionPointAfter(op);
        Value out = rotate(op.getOutput(), true);
        op.getOutput().replaceAllUsesExcept(out, out.getDefiningOp());
      }
      op->setAttr("seq.rotated", b.getUnitAttr());
      ++numRotated;
    }
  }
};

} // namespace
