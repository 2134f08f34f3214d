//===- SeqKVOps.cpp - verifiers and folds of the KV-cache ops -------------===//

#include "dialects/Seq/IR/SeqOps.h"
#include "dialects/Seq/IR/SeqVerify.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::verify;

//===----------------------------------------------------------------------===//
// KV cache ops
//===----------------------------------------------------------------------===//

LogicalResult KVAppendOp::verify() {
  KVCacheType cache = getCache().getType();
  auto keys = getKeys().getType();
  if (!compatible(keys.getDimSize(1), cache.getHeads()) ||
      !compatible(keys.getDimSize(2), cache.getHeadDim()))
    return emitOpError() << "keys and values must have shape [T, "
                         << cache.getHeads() << ", " << cache.getHeadDim()
                         << "] to match the cache, got "
                         << shapeStr(keys.getShape());
  int64_t t = keys.getDimSize(0);
  if (!ShapedType::isDynamic(t) && t > cache.getCapacity())
    return emitOpError() << "appending " << t
                         << " tokens exceeds the cache capacity ("
                         << cache.getCapacity() << ")";
  return success();
}

float KVAttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> s = getScale())
    return s->convertToFloat();
  // A latent cache's channels are not the heads': the query's head_dim.
  int64_t d = getLatentBasis() ? getQuery().getType().getDimSize(2)
                               : getCache().getType().getHeadDim();
  return 1.0f / std::sqrt(float(d));
}

LogicalResult KVAttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  auto query = getQuery().getType();
  int64_t hq = query.getDimSize(1);
  KeyFormAttr form = getKeyForm();
  bool latent = bool(getLatentBasis());
  if (latent != (form && form.isLatent()))
    return emitOpError() << "a latent_basis goes with a cache of latents (a "
                            "key_form with latent_heads), and only with one";
  if (!latent && !compatible(query.getDimSize(2), cache.getHeadDim()))
    return emitOpError() << "query head_dim (" << dimStr(query.getDimSize(2))
                         << ") differs from the cache's (" << cache.getHeadDim()
                         << ")";
  int64_t kvHeads = getKVHeads();
  if (kvHeads <= 0 || ShapedType::isDynamic(hq) || hq % kvHeads != 0)
    return emitOpError() << "query heads (" << dimStr(hq)
                         << ") must be a static multiple of the "
                         << (latent ? "latent_heads" : "cache's KV heads")
                         << " (" << kvHeads << ")";
  if (std::optional<APFloat> s = getScale())
    if (failed(verifyPositiveFinite(*this, "scale", *s)))
      return failure();
  if (!latent)
    return success();
  // The cache type checked the rest of its key form; a latent's heads are
  // the query's.
  int64_t D = query.getDimSize(2);
  auto basis = cast<RankedTensorType>(getLatentBasis().getType());
  int64_t r = cache.getHeadDim();
  if (ShapedType::isDynamic(D))
    return emitOpError() << "a latent cache needs a static query head_dim";
  if (basis.getDimSize(0) != 2 * kvHeads * D || basis.getDimSize(1) != 2 * r)
    return emitOpError() << "latent_basis must be [2 x latent_heads x "
                            "head_dim, 2 x the cache's channels] = ["
                         << 2 * kvHeads * D << ", " << 2 * r << "], got "
                         << basis;
  int64_t rot = form.getRotaryDimOr(D);
  if (form.hasRope() && (D % 2 != 0 || rot > D))
    return emitOpError() << "the key form's rotary_dim must be even and at "
                            "most the query's head_dim ("
                         << D << ") with an even head_dim, got " << rot;
  return success();
}

LogicalResult KVEvictOp::verify() {
  KVCacheType cache = getCache().getType();
  int64_t budget = getBudget(), recent = getRecent();
  if (budget <= 0)
    return emitOpError() << "budget must be positive, got " << budget;
  if (recent < 0)
    return emitOpError() << "recent must be non-negative, got " << recent;
  if (getPolicy() == EvictPolicy::Window && recent != 0)
    return emitOpError() << "recent (" << recent
                         << ") applies to the h2o and roco policies; the "
                            "window policy keeps only recent tokens already";
  if (budget <= cache.getSinks() + recent)
    return emitOpError() << "budget (" << budget
                         << ") must exceed the sink tokens ("
                         << cache.getSinks() << ") plus recent tokens ("
                         << recent << ")";
  return success();
}

/// kv_select and kv_advance: `cache` stores every token at its row in full
/// precision.
static LogicalResult verifyRowCache(Operation *op, KVCacheType cache,
                                    StringRef what) {
  if (cache.isCompressed() || cache.isScored() || cache.getWindow() != 0)
    return op->emitOpError()
           << what << " a cache that stores every token at full precision; "
           << cache << " has encodings, a window or an eviction policy";
  return success();
}

LogicalResult KVAdvanceOp::verify() {
  return verifyRowCache(*this, getCache().getType(), "advances");
}

LogicalResult KVSelectOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyRowCache(*this, cache, "selects rows of")))
    return failure();
  auto score = getScore().getType();
  if (score.getDimSize(0) != cache.getHeads())
    return emitOpError() << "score must have one row per KV head ("
                         << cache.getHeads() << "), got "
                         << shapeStr(score.getShape());
  return success();
}

LogicalResult KVBudgetsOp::verify() {
  auto scores = getScores().getType();
  auto keep = getKeep().getType();
  if (scores.isDynamicDim(0) || scores.isDynamicDim(1))
    return emitOpError() << "scores must have static layers and heads [L, H, "
                            "m], got "
                         << shapeStr(scores.getShape());
  if (!compatibleShapes(keep.getShape(), {scores.getDimSize(0)}))
    return emitOpError() << "keep must have one entry per layer ("
                         << scores.getDimSize(0) << "), got "
                         << shapeStr(keep.getShape());
  if (getCapacity() <= getWindow())
    return emitOpError() << "capacity (" << getCapacity()
                         << ") must exceed the window (" << getWindow() << ")";
  double r = getRatioMax().convertToDouble();
  if (!(r > 0.0 && r < 1e6))
    return emitOpError() << "ratio_max must be positive, got " << r;
  return success();
}

LogicalResult KVWindowScoreOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType();
  auto score = getScore().getType();
  int64_t window = getWindow(), kernel = getKernel();
  if (kernel < 1 || kernel % 2 == 0)
    return emitOpError() << "kernel must be odd and positive, got " << kernel;
  for (int64_t d : {1, 2})
    if (q.isDynamicDim(d) || k.isDynamicDim(d))
      return emitOpError() << "query and key must have static heads and head "
                              "size [n, H, D], got "
                           << shapeStr(q.getShape()) << " and "
                           << shapeStr(k.getShape());
  int64_t hq = q.getDimSize(1), hk = k.getDimSize(1);
  if (q.getDimSize(2) != k.getDimSize(2))
    return emitOpError() << "query and key head sizes differ ("
                         << q.getDimSize(2) << " and " << k.getDimSize(2)
                         << ")";
  if (hk < 1 || hq % hk != 0)
    return emitOpError() << "key heads (" << hk
                         << ") must divide the query heads (" << hq << ")";
  if (!compatibleShapes({q.getDimSize(0)}, {k.getDimSize(0)}))
    return emitOpError() << "query and key token counts differ ("
                         << shapeStr(q.getShape()) << " and "
                         << shapeStr(k.getShape()) << ")";
  int64_t n = ShapedType::isDynamic(q.getDimSize(0)) ? k.getDimSize(0)
                                                     : q.getDimSize(0);
  if (!ShapedType::isDynamic(n) && n <= window)
    return emitOpError() << "the prompt (" << n
                         << " tokens) must be longer than the window ("
                         << window << ")";
  int64_t scored = ShapedType::isDynamic(n) ? ShapedType::kDynamic : n - window;
  if (!compatibleShapes(score.getShape(), {hq, scored}))
    return emitOpError() << "score must have shape " << shapeStr({hq, scored})
                         << ", got " << shapeStr(score.getShape());
  return success();
}

OpFoldResult KVEvictOp::fold(FoldAdaptor) {
  // A cache never holds more than `capacity` tokens.
  if (static_cast<int64_t>(getBudget()) >= getCache().getType().getCapacity())
    return getCache();
  return {};
}

/// window(window(c, b1), b2) keeps the sinks and the last min(b1, b2) - sinks
/// tokens of c: one eviction with the smaller budget.
static LogicalResult mergeWindowEvictions(KVEvictOp op,
                                          PatternRewriter &rewriter) {
  auto inner = op.getCache().getDefiningOp<KVEvictOp>();
  if (!inner || op.getPolicy() != EvictPolicy::Window ||
      inner.getPolicy() != EvictPolicy::Window)
    return failure();
  rewriter.modifyOpInPlace(op, [&] {
    op.setBudget(std::min(op.getBudget(), inner.getBudget()));
    op.getCacheMutable().assign(inner.getCache());
  });
  return success();
}

void KVEvictOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add(mergeWindowEvictions);
}
