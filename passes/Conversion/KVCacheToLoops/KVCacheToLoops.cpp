//===- KVCacheToLoops.cpp - KV caches to in-place loops over bytes --------===//
//
// The pass convert-seq-kv-to-loops: seq.kv_load / kv_length / kv_append /
// kv_attention / kv_select / kv_store become scf loops over the cache's bytes
// in its state buffer (layout: seqc/Support/KVLayout.h), by a partial dialect
// conversion whose target has the KV ops illegal. The type converter turns
// a cache into its storage (state buffer, slot); the storage patterns are
// here, append and scored eviction in Append.cpp, attention in
// Attention.cpp, prefill-time selection in Select.cpp, the quantization
// codec in KVCodec.cpp. Caches are updated
// in place, so each cache value must be used linearly: checked before the
// conversion, with an error at the offending op.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KVCacheToLoops/KVCacheToLoops.h"
#include "passes/Conversion/KVCacheToLoops/KVAppend.h"
#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::seq {
#define GEN_PASS_DEF_CONVERTSEQKVTOLOOPSPASS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::kv;

KVCacheTypeConverter::KVCacheTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion([](KVCacheType type, SmallVectorImpl<Type> &results) {
    MLIRContext *ctx = type.getContext();
    results.push_back(
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8)));
    results.push_back(IndexType::get(ctx));
    return success();
  });
}

//===----------------------------------------------------------------------===//
// In-place use
//===----------------------------------------------------------------------===//

LogicalResult mlir::seq::verifyKVCachesInPlace(Operation *root) {
  // The seq.kv_load each cache value followed so far comes from.
  llvm::DenseMap<Value, KVLoadOp> origin;
  // The cache that `op` updates: it must be known and used by nothing after
  // `op`.
  auto take = [&](Operation *op, Value cache) -> FailureOr<KVLoadOp> {
    auto it = origin.find(cache);
    if (it == origin.end())
      return op->emitOpError()
             << "operates on a cache that does not come from seq.kv_load "
                "(the in-place lowering follows caches from their slot)";
    for (Operation *user : cache.getUsers())
      if (user != op &&
          (user->getBlock() != op->getBlock() || !user->isBeforeInBlock(op)))
        return op->emitOpError()
               << "updates a cache that is used again afterwards; caches "
                  "are updated in place, so each may be used only once";
    return it->second;
  };
  auto attention = [&](KVAttentionOp op, KVAppendOp append) -> LogicalResult {
    Value cacheIn = append ? append.getCache() : op.getCache();
    FailureOr<KVLoadOp> load = take(append ? append : op, cacheIn);
    if (failed(load))
      return failure();
    if (!op.getQuery().getType().getElementType().isF32())
      return op.emitOpError() << "the lowering takes f32 queries";
    KVLayout layout;
    std::string error;
    (void)getKVLayout(load->getCache().getType(), layout, error);
    if (!append && layout.scored)
      return op.emitOpError()
             << "over a cache that chooses its tokens by attention (evict = "
                "h2o or roco) must read the tokens just appended by a "
                "seq.kv_append of the same tokens (the lowering appends and "
                "attends one token at a time)";
    origin[op.getNewCache()] = *load;
    return success();
  };
  llvm::DenseSet<Operation *> fused;
  WalkResult walked = root->walk([&](Operation *op) {
    if (fused.contains(op))
      return WalkResult::advance();
    LogicalResult r = success();
    if (auto load = dyn_cast<KVLoadOp>(op)) {
      KVLayout layout;
      std::string error;
      if (!getKVLayout(load.getCache().getType(), layout, error))
        r = load.emitOpError()
            << "cannot lower " << load.getCache().getType() << ": " << error;
      else
        origin[load.getCache()] = load;
    } else if (auto len = dyn_cast<KVLengthOp>(op)) {
      if (!origin.contains(len.getCache()))
        r = len.emitOpError() << "reads a cache that does not come from "
                                 "seq.kv_load";
    } else if (auto append = dyn_cast<KVAppendOp>(op)) {
      if (KVAttentionOp fusedWith = fusedAttention(append)) {
        r = attention(fusedWith, append);
        fused.insert(fusedWith);
      } else if (FailureOr<KVLoadOp> load = take(append, append.getCache());
                 failed(load)) {
        r = failure();
      } else {
        origin[append.getResult()] = *load;
      }
    } else if (auto att = dyn_cast<KVAttentionOp>(op)) {
      r = attention(att, KVAppendOp());
    } else if (isa<KVSelectOp, KVAdvanceOp>(op)) {
      // Both update the cache of their first operand into their result.
      if (FailureOr<KVLoadOp> load = take(op, op->getOperand(0)); failed(load))
        r = failure();
      else
        origin[op->getResult(0)] = *load;
    } else if (auto store = dyn_cast<KVStoreOp>(op)) {
      auto it = origin.find(store.getCache());
      if (it == origin.end() || it->second.getState() != store.getState() ||
          it->second.getSlot() != store.getSlot())
        r = store.emitOpError()
            << "stores a cache to a slot other than the one it was loaded "
               "from; the lowering updates caches in place";
      else if (failed(take(store, store.getCache())))
        r = failure();
    } else if (isa<KVEmptyOp, KVEvictOp>(op)) {
      r = op->emitOpError() << "is not lowered by convert-seq-kv-to-loops";
    }
    // The first error stops: later operations would only report its
    // consequences.
    return failed(r) ? WalkResult::interrupt() : WalkResult::advance();
  });
  return failure(walked.wasInterrupted());
}

//===----------------------------------------------------------------------===//
// Storage patterns
//===----------------------------------------------------------------------===//

namespace {

/// seq.kv_load: the cache is its storage, the state buffer and slot.
struct KVLoadLowering : OpConversionPattern<KVLoadOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVLoadOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value state = adaptor.getState().front();
    SmallVector<Type> types;
    if (failed(getTypeConverter()->convertType(op.getCache().getType(), types)))
      return rewriter.notifyMatchFailure(op, "no storage type");
    // A state of static size is viewed as the dynamically sized buffer of
    // the storage type.
    if (state.getType() != types[0])
      state = memref::CastOp::create(rewriter, op.getLoc(), types[0], state);
    SmallVector<SmallVector<Value>> replacement = {
        {state, adaptor.getSlot().front()}};
    rewriter.replaceOpWithMultiple(op, replacement);
    return success();
  }
};

/// seq.kv_store: nothing left to do, the cache was updated in its slot.
struct KVStoreLowering : OpConversionPattern<KVStoreOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVStoreOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.eraseOp(op);
    return success();
  }
};

/// seq.kv_length: the token count of the cache's header; for a plain cache,
/// its rows plus the tokens seq.kv_select dropped (the position of the next
/// token either way).
struct KVLengthLowering : OpConversionPattern<KVLengthOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVLengthOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::string error;
    FailureOr<KVStorage> ref =
        getKVStorage(op.getCache().getType(), adaptor.getCache(), error);
    if (failed(ref))
      return rewriter.notifyMatchFailure(op, error);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    KVLoopBuilder e(b, ref->layout, op.getCache().getType().getElementType(),
                    ref->state, cacheBase(b, *ref));
    const KVLayout &l = ref->layout;
    Value length = e.loadHeader(0);
    if (!l.compressed && !l.evicting && !l.scored)
      length = e.add(length, e.loadHeader(1));
    rewriter.replaceOp(op, length);
    return success();
  }
};

} // namespace

void mlir::seq::populateKVStoragePatterns(TypeConverter &converter,
                                          RewritePatternSet &patterns) {
  patterns.add<KVLoadLowering, KVStoreLowering, KVLengthLowering>(
      converter, patterns.getContext());
}

void mlir::seq::populateKVCacheToLoopsPatterns(TypeConverter &converter,
                                               RewritePatternSet &patterns,
                                               bool parallelHeads,
                                               int64_t splits) {
  populateKVStoragePatterns(converter, patterns);
  populateKVAppendPatterns(converter, patterns);
  populateKVAttentionPatterns(converter, patterns, parallelHeads, splits);
  populateKVSelectPatterns(converter, patterns);
}

void mlir::seq::configureKVCacheToLoopsTarget(ConversionTarget &target) {
  // What the patterns emit.
  target
      .addLegalDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                       math::MathDialect, memref::MemRefDialect,
                       scf::SCFDialect, vector::VectorDialect>();
  target
      .addIllegalOp<KVLoadOp, KVLengthOp, KVAppendOp, KVAttentionOp, KVStoreOp,
                    KVEmptyOp, KVEvictOp, KVSelectOp, KVAdvanceOp>();
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {

struct ConvertSeqKVToLoopsPass
    : mlir::seq::impl::ConvertSeqKVToLoopsPassBase<ConvertSeqKVToLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (failed(verifyKVCachesInPlace(getOperation())))
      return signalPassFailure();
    KVCacheTypeConverter converter;
    ConversionTarget target(getContext());
    configureKVCacheToLoopsTarget(target);
    // The rest of the module stays as it is.
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateKVCacheToLoopsPatterns(converter, patterns, parallelHeads,
                                   kvSplits);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      return signalPassFailure();
    // The softmax exponentials become a polynomial approximation (MLIR's,
    // a few ulp from expf, exp(-inf) = 0) that LLVM vectorizes with the
    // rest of the loop; a libm call per score would cost more than reading
    // the cache.
    SmallVector<Operation *> exps;
    SeqDialect::SoftmaxExpAttrHelper softmaxExp(&getContext());
    getOperation()->walk([&](math::ExpOp op) {
      if (softmaxExp.isAttrPresent(op))
        exps.push_back(op);
    });
    if (!exps.empty()) {
      RewritePatternSet expPatterns(&getContext());
      populateMathPolynomialApproximationPatterns(
          expPatterns, [](StringRef name) {
            return name == math::ExpOp::getOperationName();
          });
      GreedyRewriteConfig config;
      config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
      (void)applyOpPatternsGreedily(exps, std::move(expPatterns), config);
    }
  }
};

} // namespace
