//===- PrefillSelection.h - selection built into a prefill ------*- C++ -*-===//
//
// The pieces a model builder needs for prefill-time selection that changes
// the model: FastKV's token-selective propagation (the tokens' total window
// score at the selecting layer, and the gather of the chosen rows with their
// positions) and DynamicKV (per-query-head caches, and the choice of every
// layer's rows by cross-layer budgets after the last layer). Built from
// seq.kv_window_score, seq.select_top, seq.kv_budgets and seq.kv_select, so
// any attention model can use them.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_TOKENPROPAGATION_H
#define SEQC_LIB_IMPORT_TOKENPROPAGATION_H

#include "dialects/Seq/IR/SeqTypes.h"
#include "seqc/Import/Importer.h"

#include "mlir/IR/Builders.h"

namespace seqc::import {

/// The window score of every prompt token per query head, from queries
/// [n, Hq, D] and keys [n, Hk, D] after RoPE: [Hq, n - window] f32, or
/// [Hq, 0] when n <= window.
mlir::Value headScores(mlir::OpBuilder &b, mlir::Location loc, mlir::Value q,
                       mlir::Value k, const PrefillSelection &sel);

/// Keys or values [T, Hk, D] repeated for the `groups` query heads that
/// read each: [T, Hk * groups, D] (DynamicKV caches per query head).
mlir::Value repeatHeads(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                        int64_t groups);

/// DynamicKV at the end of a prefill: from every layer's `scores` [H, m]
/// (headScores), the rows each layer's cache keeps (seq.kv_budgets), kept
/// by seq.kv_select in slot l of `state`; nothing when m = 0.
void chooseLayerRows(mlir::OpBuilder &b, mlir::Location loc,
                     llvm::ArrayRef<mlir::Value> scores, mlir::Value state,
                     mlir::seq::KVCacheType cacheType,
                     const PrefillSelection &sel);

/// The window score of every prompt token summed over all query heads
/// (FastKV's score_tok), from queries [n, Hq, D] and keys [n, Hk, D] after
/// RoPE: [n - window] f32, or empty when n <= window.
mlir::Value tokenScore(mlir::OpBuilder &b, mlir::Location loc, mlir::Value q,
                       mlir::Value k, const PrefillSelection &sel);

/// The tokens carried past the selecting layer: when the prompt x [n, C]
/// has more than T = max(keep or int(n * rate), window) tokens, the
/// T - window of highest `score` (equal scores: the earlier) and the last
/// `window`, in order, with their `positions` [n] (index); otherwise x and
/// positions unchanged. Returns {x', positions'}.
std::pair<mlir::Value, mlir::Value>
propagateTokens(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                mlir::Value positions, mlir::Value score,
                const PrefillSelection &sel);

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_TOKENPROPAGATION_H
