//===- CompressKVCache.cpp - quantize the KV caches of a module -----------===//

#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/IR/AttrTypeSubElements.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQCOMPRESSKVCACHE
#define GEN_PASS_DEF_SEQEVICTKV
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

/// Each distinct plain (unencoded, non-evicting) cache type of the module,
/// with the first place it occurs (for diagnostics).
static llvm::MapVector<KVCacheType, Location> plainCaches(ModuleOp module) {
  llvm::MapVector<KVCacheType, Location> found;
  auto note = [&](Type t, Location loc) {
    if (auto cache = dyn_cast<KVCacheType>(t);
        cache && !cache.isCompressed() && cache.getWindow() == 0)
      found.insert({cache, loc});
  };
  module->walk<WalkOrder::PreOrder>([&](Operation *op) {
    for (Value v : op->getOperands())
      note(v.getType(), op->getLoc());
    for (Value v : op->getResults())
      note(v.getType(), op->getLoc());
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          note(arg.getType(), arg.getLoc());
  });
  return found;
}

/// Replaces cache types everywhere in the module (signatures included).
static void replaceCaches(ModuleOp module,
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

namespace {

struct CompressKVCachePass
    : public seq::impl::SeqCompressKVCacheBase<CompressKVCachePass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// Checks the options that do not depend on a cache.
  LogicalResult verifyOptions(Location loc);
  /// The compressed version of `type`, or a diagnostic at `loc`.
  FailureOr<KVCacheType> compress(KVCacheType type, Location loc);
};

} // namespace

LogicalResult CompressKVCachePass::verifyOptions(Location loc) {
  for (auto [name, bits] : {std::pair<StringRef, unsigned>{"key-bits", keyBits},
                            {"value-bits", valueBits}})
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
      return emitError(loc) << "seq-compress-kv-cache: invalid " << name << "="
                            << bits << " (expected 2, 3, 4 or 8)";
  if (groupSize <= 0)
    return emitError(loc) << "seq-compress-kv-cache: invalid group-size="
                          << int64_t(groupSize)
                          << " (expected a positive size)";
  if (sinks < 0 || window < 0)
    return emitError(loc) << "seq-compress-kv-cache: sinks and window must be "
                             "non-negative, got "
                          << int64_t(sinks) << " and " << int64_t(window);
  return success();
}

FailureOr<KVCacheType> CompressKVCachePass::compress(KVCacheType type,
                                                     Location loc) {
  MLIRContext *ctx = type.getContext();
  QuantMode mode = symmetric ? QuantMode::Symmetric : QuantMode::Asymmetric;
  auto keys = QuantEncodingAttr::get(ctx, keyBits, groupSize,
                                     perTokenKeys ? 1 : 0, mode);
  auto values = QuantEncodingAttr::get(ctx, valueBits, groupSize, 1, mode);
  auto emit = [&] {
    return emitError(loc) << "seq-compress-kv-cache: cannot compress " << type
                          << ": ";
  };
  KVCacheType result = KVCacheType::getChecked(
      emit, ctx, type.getHeads(), type.getHeadDim(), type.getCapacity(),
      type.getElementType(), keys, values, int64_t(sinks), int64_t(window));
  if (!result)
    return failure();
  return result;
}

void CompressKVCachePass::runOnOperation() {
  ModuleOp module = getOperation();

  llvm::MapVector<KVCacheType, Location> found = plainCaches(module);

  // Option errors point at the first cache they would have compressed (the
  // module's own location is often just the file).
  if (failed(verifyOptions(found.empty() ? module.getLoc()
                                         : found.front().second)))
    return signalPassFailure();

  llvm::DenseMap<Type, Type> replacement;
  for (auto [type, loc] : found) {
    FailureOr<KVCacheType> compressed = compress(type, loc);
    if (failed(compressed))
      return signalPassFailure();
    replacement[type] = *compressed;
  }
  if (replacement.empty())
    return markAllAnalysesPreserved();
  numCachesCompressed += replacement.size();

  replaceCaches(module, replacement);
}

namespace {

struct EvictKVPass : public seq::impl::SeqEvictKVBase<EvictKVPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::MapVector<KVCacheType, Location> found = plainCaches(module);
    Location first = found.empty() ? module.getLoc() : found.front().second;
    if (policy != "window") {
      if (policy == "h2o" || policy == "roco")
        emitError(first) << "seq-evict-kv: policy '" << policy
                         << "' is not lowered yet (window is)";
      else
        emitError(first) << "seq-evict-kv: unknown policy '" << policy
                         << "' (expected window, h2o or roco)";
      return signalPassFailure();
    }
    if (budget <= 0 || sinks < 0 || sinks >= budget) {
      emitError(first) << "seq-evict-kv: budget must be positive and larger "
                          "than sinks, got budget="
                       << int64_t(budget) << " sinks=" << int64_t(sinks);
      return signalPassFailure();
    }
    llvm::DenseMap<Type, Type> replacement;
    for (auto [type, loc] : found) {
      if (budget >= type.getCapacity())
        continue; // Nothing would ever be evicted.
      auto emit = [&, loc = loc, type = type] {
        return emitError(loc)
               << "seq-evict-kv: cannot evict in " << type << ": ";
      };
      KVCacheType result = KVCacheType::getChecked(
          emit, type.getContext(), type.getHeads(), type.getHeadDim(),
          type.getCapacity(), type.getElementType(), QuantEncodingAttr(),
          QuantEncodingAttr(), int64_t(sinks), int64_t(budget - sinks));
      if (!result)
        return signalPassFailure();
      replacement[type] = result;
    }
    numCachesEvicting += replacement.size();
    replaceCaches(module, replacement);
  }
};

} // namespace