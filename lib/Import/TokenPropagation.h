//===- TokenPropagation.h - FastKV's token-selective propagation -*- C++
//-*-===//
//
// The pieces a model builder needs to run a prompt's later layers on a
// subset of its tokens (FastKV's TSP): the tokens' total window score at the
// selecting layer, and the gather of the chosen rows with their positions.
// Built from seq.kv_window_score and seq.select_top, so any attention
// model can use them.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_TOKENPROPAGATION_H
#define SEQC_LIB_IMPORT_TOKENPROPAGATION_H

#include "seqc/Import/Importer.h"

#include "mlir/IR/Builders.h"

namespace seqc::import {

/// The window score of every prompt token summed over all query heads
/// (FastKV's score_tok), from queries [n, Hq, D] and keys [n, Hk, D] after
/// RoPE: [n - window] f32, or empty when n <= window.
mlir::Value tokenScore(mlir::OpBuilder &b, mlir::Location loc, mlir::Value q,
                       mlir::Value k, const TokenPropagation &tsp);

/// The tokens carried past the selecting layer: when the prompt x [n, C]
/// has more than T = max(keep or int(n * rate), window) tokens, the
/// T - window of highest `score` (equal scores: the earlier) and the last
/// `window`, in order, with their `positions` [n] (index); otherwise x and
/// positions unchanged. Returns {x', positions'}.
std::pair<mlir::Value, mlir::Value>
propagateTokens(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                mlir::Value positions, mlir::Value score,
                const TokenPropagation &tsp);

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_TOKENPROPAGATION_H
