//===- KVCacheToLoops.h - KV cache lowering as patterns --------*- C++ -*-===//
//
// The lowering of the seq KV ops (convert-seq-kv-to-loops) as dialect
// conversion patterns, for a pass of any target to combine with its own:
// a type converter from !seq.kv_cache to its storage, the pattern sets of
// each family, and the check of in-place use that the patterns rely on.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVCACHETOLOOPS_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVCACHETOLOOPS_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::seq {

/// Converts `!seq.kv_cache<...>` to its storage: the state buffer that
/// holds its bytes (`memref<?xi8>`) and the slot (`index`) of the cache in
/// it, a 1:2 conversion. The layout of the bytes is a function of the cache
/// type (seqc/Support/KVLayout.h), so the patterns read it from the
/// original operand's type. Other types are left as they are.
class KVCacheTypeConverter : public TypeConverter {
public:
  KVCacheTypeConverter();
};

/// seq.kv_load (the storage itself), seq.kv_store (nothing: the cache was
/// updated in place) and seq.kv_length (the header's token count, plus the
/// tokens seq.kv_select dropped from a plain cache).
void populateKVStoragePatterns(TypeConverter &converter,
                               RewritePatternSet &patterns);

/// seq.kv_append: sinks, ring, full cache; the ring's oldest chunk
/// quantized and bit-packed; scored eviction (H2O, RoCo, mixed precision).
void populateKVAppendPatterns(TypeConverter &converter,
                              RewritePatternSet &patterns);

/// seq.kv_attention, fused with the append of the same tokens, with its key
/// transforms (grouped-head rotation, pre-RoPE keys, latent basis). With
/// `parallelHeads`, every KV heads' loop is marked parallel and its scratch
/// is a per-head slice of a heap buffer (no stack allocations), as GPU
/// targets need; otherwise a cost rule picks (see Attention.cpp). With
/// parallel heads, each head's tokens are also split among `splits`
/// invocations whose results a second loop combines (0: a count chosen
/// from the cache's capacity; scored caches are never split).
void populateKVAttentionPatterns(TypeConverter &converter,
                                 RewritePatternSet &patterns,
                                 bool parallelHeads = false,
                                 int64_t splits = 0);

/// seq.kv_select (a prompt's best-scored rows kept per head, in place) and
/// seq.kv_advance (positions passed without rows).
void populateKVSelectPatterns(TypeConverter &converter,
                              RewritePatternSet &patterns);

/// The storage, append, attention and selection patterns.
void populateKVCacheToLoopsPatterns(TypeConverter &converter,
                                    RewritePatternSet &patterns,
                                    bool parallelHeads = false,
                                    int64_t splits = 0);

/// Marks the seq KV ops illegal and the dialects the patterns emit
/// (arith, bufferization, math, memref, scf, vector) legal.
void configureKVCacheToLoopsTarget(ConversionTarget &target);

/// Checks, in `root`, what the patterns assume: each cache comes from
/// seq.kv_load and is updated in place (used by at most one updating op,
/// reads before it are fine, then stored to its own slot); attention
/// queries are f32; a scored cache is attended only right after the append
/// of the same tokens; seq.kv_empty and seq.kv_evict are absent. Reports the
/// first violation at its op.
LogicalResult verifyKVCachesInPlace(Operation *root);

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVCACHETOLOOPS_H
