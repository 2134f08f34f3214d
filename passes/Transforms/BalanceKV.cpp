//===- BalanceKV.cpp - move key outliers into the queries -----------------===//

#include "passes/Transforms/Calibration.h"
#include "passes/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include <cmath>

namespace mlir::seq {
#define GEN_PASS_DEF_SEQBALANCEKVPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

namespace {

struct BalanceKVPass : public seq::impl::SeqBalanceKVPassBase<BalanceKVPass> {
  using Base::Base;

  void runOnOperation() override {
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      getOperation()->emitError()
          << "seq-balance-kv: alpha must be in [0, 1], got " << alpha;
      return signalPassFailure();
    }
    DenseFPElementsAttr calibration =
        getKeyCalibration(getOperation(), "seq-balance-kv");
    if (!calibration)
      return signalPassFailure();
    SmallVector<KVAttentionOp> attentions;
    getOperation()->walk([&](KVAttentionOp op) { attentions.push_back(op); });
    seq::SeqDialect::BalancedAttrHelper balanced(&getContext());
    for (KVAttentionOp op : attentions) {
      if (balanced.isAttrPresent(op))
        continue;
      if (op.getLatentBasis()) {
        op.emitOpError() << "seq-balance-kv: the cache holds low-rank "
                            "latents (seq-low-rank-kv); balance the keys "
                            "before it";
        return signalPassFailure();
      }
      auto append = op.getCache().getDefiningOp<KVAppendOp>();
      if (!append)
        continue;
      FailureOr<AttentionCalibration> cal =
          calibrationFor(op, append, calibration, "seq-balance-kv");
      if (failed(cal))
        return signalPassFailure();
      int64_t L = cal->layers, H = cal->heads, D = cal->headDim,
              Hq = cal->queryHeads;
      SmallVector<float> keyScales, queryScales;
      for (int64_t l = 0; l < L; ++l) {
        SmallVector<SmallVector<float>> heads;
        for (int64_t h = 0; h < H; ++h) {
          ArrayRef<float> m = cal->head(l, h);
          double sq = 0;
          for (float x : m)
            sq += double(x) * x;
          double rms = std::sqrt(sq / D);
          SmallVector<float> s(D, 1.0f);
          for (int64_t c = 0; c < D; ++c)
            if (m[c] > 0 && rms > 0)
              s[c] = (float)std::pow(m[c] / rms, alpha);
          for (float x : s)
            keyScales.push_back(1.0f / x);
          heads.push_back(std::move(s));
        }
        for (int64_t h = 0; h < Hq; ++h)
          queryScales.append(heads[h / (Hq / H)]);
      }
      auto table = [&](int64_t heads, ArrayRef<float> values) {
        return DenseFPElementsAttr::get(
            RankedTensorType::get({L, heads, D},
                                  Float32Type::get(&getContext())),
            values);
      };
      OpBuilder b(append);
      Value k = append.getKeys();
      append.getKeysMutable().assign(
          ScaleChannelsOp::create(b, op.getLoc(), k.getType(), k, cal->layer,
                                  table(H, keyScales), /*table=*/Value()));
      b.setInsertionPoint(op);
      Value q = op.getQuery();
      op.getQueryMutable().assign(ScaleChannelsOp::create(
          b, op.getLoc(), q.getType(), q, cal->layer, table(Hq, queryScales),
          /*table=*/Value()));
      balanced.setAttr(op, b.getUnitAttr());
      ++numBalanced;
    }
  }
};

} // namespace
