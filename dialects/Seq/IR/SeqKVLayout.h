//===- SeqKVLayout.h - storage layout of !seq.kv_cache ----------*- C++ -*-===//
//
// The bridge from a `!seq.kv_cache` type to its storage layout, which is
// defined without MLIR in seqc/Support/KVLayout.h (the runtime shares it).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECT_SEQ_SEQKVLAYOUT_H
#define SEQC_DIALECT_SEQ_SEQKVLAYOUT_H

#include "dialects/Seq/IR/SeqTypes.h"
#include "seqc/Support/KVLayout.h"

#include <string>

namespace mlir::seq {

/// The plain description of `type` (a verified cache type).
seqc::KVCacheDesc getKVCacheDesc(KVCacheType type);

/// The storage layout of `type`, or false with the reason in `error` when
/// the KV lowering does not support it (seqc::computeKVLayout).
bool getKVLayout(KVCacheType type, seqc::KVLayout &layout, std::string &error);

} // namespace mlir::seq

#endif // SEQC_DIALECT_SEQ_SEQKVLAYOUT_H
