//===- CacheTypes.h - changing the KV cache types of a module ---*- C++ -*-===//
//
// What the passes that change how caches store their tokens share: a cache
// type is changed everywhere in the module at once (operations, block
// arguments, function signatures), so a pass that rewrites the appends and
// attentions of a type must own every one of them; and the key form of
// keys a pass now caches before their RoPE (#seq.key_form).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_TRANSFORMS_CACHETYPES_H
#define SEQC_PASSES_TRANSFORMS_CACHETYPES_H

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::seq {

/// Replaces cache types everywhere in `module` (signatures included).
inline void replaceCacheTypes(ModuleOp module,
                              const llvm::DenseMap<Type, Type> &replacement) {
  AttrTypeReplacer replacer;
  replacer.addReplacement([&](KVCacheType t) -> std::optional<Type> {
    auto it = replacement.find(t);
    if (it == replacement.end())
      return std::nullopt;
    return it->second;
  });
  replacer.recursivelyReplaceElementsIn(module, /*replaceAttrs=*/true,
                                        /*replaceLocs=*/false,
                                        /*replaceTypes=*/true);
}

/// Checks that every seq.kv_append and seq.kv_attention of `module` on a
/// cache of one of `types` is in `rewritten` (the pass `pass` changes those
/// types module-wide); emits an error at the first that is not.
inline LogicalResult
checkOwnsCacheTypes(ModuleOp module, const llvm::DenseSet<Type> &types,
                    const llvm::DenseSet<Operation *> &rewritten,
                    StringRef pass) {
  WalkResult other = module->walk([&](Operation *o) {
    if (!isa<KVAppendOp, KVAttentionOp>(o) || rewritten.contains(o) ||
        !types.contains(o->getOperand(isa<KVAppendOp>(o) ? 0 : 1).getType()))
      return WalkResult::advance();
    o->emitOpError() << pass
                     << ": every seq.kv_append and seq.kv_attention on a "
                        "cache must come as an attention over an append of "
                        "the same tokens (the cache type changes everywhere)";
    return WalkResult::interrupt();
  });
  return failure(other.wasInterrupted());
}

/// The form of keys cached rotated over groups of `rotationHeads` KV heads
/// or as latents of `latentHeads` heads (0: neither) and, with `rope` (the
/// appended keys' RoPE, now bypassed), before RoPE: the attention applies
/// `rope`'s embedding when it reads them back. Erases `rope` once nothing
/// uses it.
inline KeyFormAttr cachedKeyForm(MLIRContext *ctx, int64_t rotationHeads,
                                 int64_t latentHeads, RopeOp rope) {
  FloatAttr theta;
  RopeStyle style = RopeStyle::Half;
  int64_t rotaryDim = 0;
  if (rope) {
    theta = rope.getThetaAttr();
    style = rope.getStyle();
    rotaryDim = static_cast<int64_t>(rope.getRotaryDim().value_or(0));
    if (rope->use_empty())
      rope->erase();
  }
  return KeyFormAttr::get(ctx, rotationHeads, theta, style, rotaryDim,
                          latentHeads);
}

} // namespace mlir::seq

#endif // SEQC_PASSES_TRANSFORMS_CACHETYPES_H
