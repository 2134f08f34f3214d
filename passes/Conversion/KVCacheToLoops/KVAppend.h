//===- KVAppend.h - appending to a KV cache, scored eviction ---*- C++ -*-===//
//
// The emitter of kv_append: tokens to the sinks, the ring or the full
// cache; the ring's oldest chunk quantized (KVCodec); an evicting ring's
// oldest token dropped; and for a scored cache (H2O, RoCo) the choice of the
// slot a new token takes, with the attention statistics it is chosen by.
// Shared by the append patterns and the attention patterns, which append
// token t right before query t attends when both come from the same tokens.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVAPPEND_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVAPPEND_H

#include "passes/Conversion/Buffers.h"
#include "passes/Conversion/KVCacheToLoops/KVCodec.h"

namespace mlir::seq::kv {

/// Appending to one cache, and the scored eviction's statistics.
class KVAppendEmitter : public KVCodec {
public:
  using KVCodec::KVCodec;

  /// Stores head h of row t of keys and values ([T, H, D] f32 memrefs) at
  /// position `pos` of kDst and vDst ([H, N, D], element type).
  void copyTokenHead(Value keys, Value values, Value t, Value h, Value kDst,
                     Value vDst, Value pos);
  /// Appends row `t` of keys and values ([T, H, D] f32 memrefs).
  void append(Value keys, Value values, Value t);
  /// Appends token `t` (position `len`) to a scored cache: into the next
  /// free slot, or, once all `budget` slots are taken, per head into the
  /// slot of the unprotected token with the lowest score (ties: the older),
  /// which is dropped or, in a mixed-precision cache, quantized at its
  /// position.
  void appendScored(Value keys, Value values, Value t, Value len);
  /// Adds each visible slot's attention from the softmax weights of the
  /// `rep` query heads of KV head `h` (scores hold exp(s - max), `stats`
  /// the reciprocal sums): their mean to the sum, 1 to the count.
  void accumulateAttention(Value h, Value n, Value scores, Value stats,
                           int64_t rep);
};

/// A cache value's storage, as the type converter gives it (state buffer,
/// slot), and the layout of its type.
struct KVStorage {
  Value state, slot;
  KVLayout layout;
};

/// The storage of a cache operand from its converted values; fails (with
/// the reason in `error`) when the cache type has no layout.
FailureOr<KVStorage> getKVStorage(KVCacheType type, ValueRange converted,
                                  std::string &error);

/// The byte offset of the cache in its state buffer: slot x layout.bytes.
Value cacheBase(ImplicitLocOpBuilder &b, const KVStorage &storage);

/// The attention that `append` is fused with: its only use, over the same
/// tokens (queries as many as the appended keys); null when none. The
/// append then emits nothing and the attention appends token t right before
/// query t attends, so a prefill of T tokens computes exactly what T single
/// steps compute.
KVAttentionOp fusedAttention(KVAppendOp append);

} // namespace mlir::seq::kv

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVAPPEND_H
