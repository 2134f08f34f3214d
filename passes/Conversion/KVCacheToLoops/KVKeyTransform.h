//===- KVKeyTransform.h - reading back transformed cached keys -*- C++ -*-===//
//
// The key transforms of seq.kv_attention, applied to each cached key row as
// it is read: rotated back by groups of KV heads (a cache of Hadamard-rotated
// keys, RotateKV), RoPE at the token's position (keys cached before RoPE),
// or up-projected from a latent row (a low-rank cache, seq-low-rank-kv).
// Target-neutral like the codec: scf loops on memref rows.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVKEYTRANSFORM_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVKEYTRANSFORM_H

#include "passes/Conversion/KVCacheToLoops/KVAppend.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::seq::kv {

/// How cached keys are read back (the cache type's #seq.key_form):
/// rotated back by groups of heads, then RoPE at
/// the token's position from tables of cos/sin [capacity, rotaryDim/2].
struct KeyTransform {
  /// KV heads per rotation (0: keys are not rotated).
  int64_t groupHeads = 0;
  /// RoPE at read (keys cached before it).
  bool rope = false, half = true;
  int64_t rotaryDim = 0;
  /// The tables of ropeTables, or none: the angles computed where they
  /// are used (GPU kernels bind no module globals), with `ropeStep`.
  Value cosTable, sinTable;
  double ropeStep = 0.0;
  /// A latent cache (seq-low-rank-kv): the basis U [2 * heads * headDim,
  /// 2 * r] of the attention's `heads` KV heads of `headDim` channels; the
  /// cache holds r channels per token in each of its key and value rows.
  Value basis;
  int64_t heads = 0, headDim = 0;
  bool latent() const { return bool(basis); }
};

/// cos and sin of the RoPE angles of every position [0, capacity), as
/// seq.rope's lowering computes them (seqc/Support/Rope.h: angle, exp and
/// cosine in f64, then f32), in read-only globals of the module shared by
/// every attention with the same parameters: computed once at compile time
/// instead of n x rotaryDim / 2 f64 cosines and sines per attention call.
/// Sets kt's cosTable and sinTable.
void ropeTables(ImplicitLocOpBuilder &b, ModuleOp module, KeyTransform &kt,
                float theta, int64_t capacity);

/// Reads cached keys back through a KeyTransform.
class KVKeyReader : public KVAppendEmitter {
public:
  using KVAppendEmitter::KVAppendEmitter;

  /// Head h's key at position `pos` as the attention sees it (`kt`): the
  /// stored rows of h's rotation group (`get(hh, dst)` reads head hh's),
  /// rotated back, then RoPE at `pos` from the tables, into `row`.
  void readKey(Value h, Value pos, Value row,
               function_ref<void(Value, Value)> get);
  /// Latent cache: head h's key before RoPE is U[h D .. h D + D, :] · c for
  /// the token's latent c, whose halves `getKeys(dst)` and `getValues(dst)`
  /// read (the key and value rows of the cache's single head).
  void readLatentKey(Value h, Value pos, Value row,
                     function_ref<void(Value)> getKeys,
                     function_ref<void(Value)> getValues);
  /// buf[offset .. offset + n) as a memref<n x f32>.
  Value sub1(Value buf, int64_t offset, int64_t n);
  /// row[0, D) = RoPE at `pos` (kt's tables) of grp[off, off + D).
  void ropeInto(Value grp, Value off, int64_t D, Value pos, Value row);

  /// How keys are read back (null: as stored).
  const KeyTransform *kt = nullptr;

protected:
  /// readKey's scratch, set by the attention for the head being emitted.
  Value ktGroup, ktBaseTmp;
};

} // namespace mlir::seq::kv

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVKEYTRANSFORM_H
