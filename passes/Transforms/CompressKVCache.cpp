//===- CompressKVCache.cpp - quantize the KV caches of a module -----------===//

#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/IR/AttrTypeSubElements.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQCOMPRESSKVCACHE
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

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

  // Each distinct full-precision cache type, with the first place it occurs
  // (for diagnostics).
  llvm::MapVector<KVCacheType, Location> found;
  auto note = [&](Type t, Location loc) {
    if (auto cache = dyn_cast<KVCacheType>(t); cache && !cache.isCompressed())
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
