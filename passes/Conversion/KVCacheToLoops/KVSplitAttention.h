//===- KVSplitAttention.h - attention split over the tokens ----*- C++ -*-===//
//
// The attention's per-head scratch and what the split form of the
// attention adds for the GPU targets: the output rows of a KV head, and the
// combine of the splits' partial softmax sums (flash-decoding). The
// attention's emitter (Attention.cpp) derives from this class;
// SplitAttention.cpp defines it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVSPLITATTENTION_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVSPLITATTENTION_H

#include "passes/Conversion/KVCacheToLoops/KVPackedAttention.h"

namespace mlir::seq::kv {

/// The attention's heap scratch, one slice per KV head (leading dimension),
/// so that heads can run in parallel: the scores of every visible token and,
/// when the heads run in place, the small buffers (otherwise on the stack of
/// the thread running each head).
struct AttentionScratch {
  /// Whether the KV heads run in parallel.
  bool parallel = false;
  /// With token splits (KVLoopBuilder::splits > 1) the small buffers have
  /// a leading dimension of heads x splits, and each split leaves its
  /// maximum score, its sum of exponentials and its unnormalized value sum
  /// for a second loop to combine.
  Value scores, acc, row, stats, qbuf, qs, qm;
  /// Splits: each split's maximum and sum [H * splits, rep]; a latent
  /// cache's combined value sums [H, rep, W].
  Value partMax, partSum, combined;
  /// Key transforms: a group's rotated row [G * D] (latent caches: the
  /// latent [2r], then the key before RoPE [D]) and the Hadamard base
  /// factor's scratch.
  Value group, baseTmp;

  /// buf[kh], rank-reduced.
  Value head(OpBuilder &b, Value buf, Value kh) const {
    auto type = cast<MemRefType>(buf.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
        strides(rank, b.getIndexAttr(1));
    offsets[0] = kh;
    sizes.push_back(b.getIndexAttr(1));
    for (int64_t d = 1; d < rank; ++d)
      sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
    auto resultType = memref::SubViewOp::inferRankReducedResultType(
        type.getShape().drop_front(), type, offsets, sizes, strides);
    return memref::SubViewOp::create(b, buf.getLoc(), resultType, buf, offsets,
                                     sizes, strides);
  }
};

class KVSplitAttention : public KVPackedAttention {
public:
  using KVPackedAttention::KVPackedAttention;

  /// out[t, kh * rep + r, :] from head kh's value sum for query r,
  /// `acc[r, :]` (normalized): a latent cache's up-projected.
  void writeOutput(Value out, Value t, Value kh, int64_t r, int64_t hq,
                   Value acc);

  /// The splits' partial results of each KV head combined: with M the
  /// largest split maximum and w_s = exp(m_s - M) (0 for a split without
  /// tokens), value sum (sum_s w_s acc_s) / (sum_s w_s sum_s), one
  /// invocation per output channel; a latent cache's sums are then
  /// up-projected, one invocation per query head.
  void combine(Value out, Value t, int64_t hq, const AttentionScratch &scratch);
};

} // namespace mlir::seq::kv

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVSPLITATTENTION_H
