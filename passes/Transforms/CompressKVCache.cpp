//===- CompressKVCache.cpp - quantize the KV caches of a module -----------===//

#include "passes/Transforms/CacheTypes.h"
#include "passes/Transforms/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQCOMPRESSKVCACHEPASS
#define GEN_PASS_DEF_SEQEVICTKVPASS
#define GEN_PASS_DEF_SEQMIXEDPRECISIONKVPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;

/// Each distinct plain (unencoded, non-evicting) cache type of the module,
/// with the first place it occurs (for diagnostics).
static llvm::MapVector<KVCacheType, Location> plainCaches(ModuleOp module) {
  llvm::MapVector<KVCacheType, Location> found;
  auto note = [&](Type t, Location loc) {
    if (auto cache = dyn_cast<KVCacheType>(t); cache && !cache.isCompressed() &&
                                               cache.getWindow() == 0 &&
                                               !cache.isScored())
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

namespace {

struct CompressKVCachePass
    : public seq::impl::SeqCompressKVCachePassBase<CompressKVCachePass> {
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
      type.getElementType(), keys, values, int64_t(sinks), int64_t(window),
      EvictPolicyAttr(), int64_t(0), type.getKeyForm());
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

  replaceCacheTypes(module, replacement);
}

namespace {

/// `policy` for an attention-scored cache, or an error at `loc` (`window`
/// is accepted only when `allowWindow`).
static FailureOr<EvictPolicy> checkPolicy(StringRef pass, EvictPolicy policy,
                                          bool allowWindow, Location loc) {
  if (policy == EvictPolicy::Window && !allowWindow)
    return emitError(loc) << pass << ": unknown policy '"
                          << stringifyEvictPolicy(policy)
                          << "' (expected h2o or roco)";
  return policy;
}

/// Rewrites each plain cache of `module` with `make`, skipping caches whose
/// capacity is within `budget` (nothing would ever leave them).
static LogicalResult rewriteCaches(
    ModuleOp module, StringRef pass, int64_t budget,
    function_ref<KVCacheType(KVCacheType, function_ref<InFlightDiagnostic()>)>
        make,
    int64_t &count) {
  llvm::DenseMap<Type, Type> replacement;
  for (auto [type, loc] : plainCaches(module)) {
    if (budget >= type.getCapacity())
      continue;
    auto emit = [&, loc = loc, type = type] {
      return emitError(loc) << pass << ": cannot rewrite " << type << ": ";
    };
    KVCacheType result = make(type, emit);
    if (!result)
      return failure();
    replacement[type] = result;
  }
  count += replacement.size();
  replaceCacheTypes(module, replacement);
  return success();
}

struct EvictKVPass : public seq::impl::SeqEvictKVPassBase<EvictKVPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::MapVector<KVCacheType, Location> found = plainCaches(module);
    Location first = found.empty() ? module.getLoc() : found.front().second;
    FailureOr<EvictPolicy> p =
        checkPolicy("seq-evict-kv", policy, /*allowWindow=*/true, first);
    if (failed(p))
      return signalPassFailure();
    bool window = *p == EvictPolicy::Window;
    if (window && recent != 0) {
      emitError(first) << "seq-evict-kv: recent=" << int64_t(recent)
                       << " applies to the h2o and roco policies (the window "
                          "policy keeps only recent tokens already)";
      return signalPassFailure();
    }
    if (budget <= 0 || sinks < 0 || recent < 0 || sinks + recent >= budget) {
      emitError(first) << "seq-evict-kv: budget must be positive and larger "
                          "than sinks + recent, got budget="
                       << int64_t(budget) << " sinks=" << int64_t(sinks)
                       << " recent=" << int64_t(recent);
      return signalPassFailure();
    }
    int64_t count = 0;
    auto make = [&](KVCacheType t, function_ref<InFlightDiagnostic()> emit) {
      if (window)
        return KVCacheType::getChecked(
            emit, t.getContext(), t.getHeads(), t.getHeadDim(), t.getCapacity(),
            t.getElementType(), QuantEncodingAttr(), QuantEncodingAttr(),
            int64_t(sinks), int64_t(budget - sinks), EvictPolicyAttr(),
            int64_t(0), t.getKeyForm());
      return KVCacheType::getChecked(
          emit, t.getContext(), t.getHeads(), t.getHeadDim(), t.getCapacity(),
          t.getElementType(), QuantEncodingAttr(), QuantEncodingAttr(),
          int64_t(sinks), int64_t(recent),
          EvictPolicyAttr::get(t.getContext(), *p), int64_t(budget),
          t.getKeyForm());
    };
    if (failed(rewriteCaches(module, "seq-evict-kv", budget, make, count)))
      return signalPassFailure();
    numCachesEvicting += count;
  }
};

struct MixedPrecisionKVPass
    : public seq::impl::SeqMixedPrecisionKVPassBase<MixedPrecisionKVPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::MapVector<KVCacheType, Location> found = plainCaches(module);
    Location first = found.empty() ? module.getLoc() : found.front().second;
    StringRef pass = "seq-mixed-precision-kv";
    FailureOr<EvictPolicy> p =
        checkPolicy(pass, policy, /*allowWindow=*/false, first);
    if (failed(p))
      return signalPassFailure();
    for (auto [name, bits] :
         {std::pair<StringRef, unsigned>{"key-bits", keyBits},
          {"value-bits", valueBits}})
      if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
        emitError(first) << pass << ": invalid " << name << "=" << bits
                         << " (expected 2, 3, 4 or 8)";
        return signalPassFailure();
      }
    if (groupSize <= 0 || budget <= 0 || sinks < 0 || recent < 0 ||
        sinks + recent >= budget) {
      emitError(first) << pass
                       << ": group-size and budget must be positive and the "
                          "budget larger than sinks + recent, got group-size="
                       << int64_t(groupSize) << " budget=" << int64_t(budget)
                       << " sinks=" << int64_t(sinks)
                       << " recent=" << int64_t(recent);
      return signalPassFailure();
    }
    QuantMode mode = symmetric ? QuantMode::Symmetric : QuantMode::Asymmetric;
    int64_t count = 0;
    auto make = [&](KVCacheType t, function_ref<InFlightDiagnostic()> emit) {
      MLIRContext *ctx = t.getContext();
      return KVCacheType::getChecked(
          emit, ctx, t.getHeads(), t.getHeadDim(), t.getCapacity(),
          t.getElementType(),
          QuantEncodingAttr::get(ctx, keyBits, groupSize, 1, mode),
          QuantEncodingAttr::get(ctx, valueBits, groupSize, 1, mode),
          int64_t(sinks), int64_t(recent), EvictPolicyAttr::get(ctx, *p),
          int64_t(budget), t.getKeyForm());
    };
    if (failed(rewriteCaches(module, pass, budget, make, count)))
      return signalPassFailure();
    numCachesMixed += count;
  }
};

} // namespace