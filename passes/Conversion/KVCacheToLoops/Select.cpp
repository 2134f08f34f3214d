//===- Select.cpp - kv_select (prefill-time selection) as a pattern -------===//
//
// seq.kv_select keeps, per KV head, the best-scored rows of the prompt a
// prefill has just appended, and the observation window after them. The
// selection is exact and in place, in two passes over each head's scores:
//
// 1. the k-th largest score, by a radix select on the scores' bits mapped
//    to unsigned integers that order as the floats do (32 counting passes;
//    no sort, no scratch memory);
// 2. a compaction: rows above it, and the first rows equal to it until k
//    are kept, moved down over the dropped ones in their original order
//    (a row only ever moves to a lower row, so one forward pass suffices),
//    then the window rows after them.
//
// The cache's header then holds the kept rows (field 0, where appends and
// attention read the row count) and the tokens dropped so far (field 1), so
// that seq.kv_length, their sum, stays the position of the next token.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KVCacheToLoops/KVAppend.h"
#include "passes/Conversion/KVCacheToLoops/KVCacheToLoops.h"

#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::kv;

namespace {

class KVSelectEmitter : public KVLoopBuilder {
public:
  using KVLoopBuilder::KVLoopBuilder;

  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, b.getI32Type(), v);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value pick(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value toIndex(Value i1) {
    return arith::IndexCastOp::create(
        b, b.getIndexType(), arith::ExtUIOp::create(b, b.getI32Type(), i1));
  }

  /// Score [h, j] as an i32 whose unsigned order is the float order: the
  /// sign bit flipped for positive values, every bit for negative ones
  /// (-0 first becomes +0, so the two compare equal).
  Value orderedBits(Value scores, Value h, Value j) {
    Value s = memref::LoadOp::create(b, scores, ValueRange{h, j});
    s = arith::AddFOp::create(b, s, f(0.0f));
    Value bits = arith::BitcastOp::create(b, b.getI32Type(), s);
    Value sign = arith::ShRSIOp::create(b, bits, i32(31));
    Value flip = arith::OrIOp::create(b, sign, i32(INT32_MIN));
    return arith::XOrIOp::create(b, bits, flip);
  }

  /// How many of scores [h, 0..S) satisfy `pred(u, threshold)`.
  Value count(Value scores, Value h, Value S, arith::CmpIPredicate pred,
              Value threshold) {
    return carry(idx(0), S, ValueRange{idx(0)},
                 [&](Value j, ValueRange c) -> SmallVector<Value> {
                   Value u = orderedBits(scores, h, j);
                   return {add(c[0], toIndex(cmp(pred, u, threshold)))};
                 })[0];
  }

  /// Moves row `from` of head h to row `to` (keys and values).
  void moveRow(Value keys, Value values, Value h, Value from, Value to) {
    loop(l.headDim, [&](Value d) {
      for (Value m : {keys, values}) {
        Value v = memref::LoadOp::create(b, m, ValueRange{h, from, d});
        memref::StoreOp::create(b, v, m, ValueRange{h, to, d});
      }
    });
  }

  void select(Value scores, Value keepIn, int64_t window) {
    int64_t H = l.heads, D = l.headDim;
    Value S = memref::DimOp::create(b, scores, 1);
    Value ws = idx(window);
    Value n = add(S, ws);
    Value keep = arith::MaxSIOp::create(b, keepIn, ws);
    Value rows = loadHeader(0);
    ifThen(lt(keep, n), [&] {
      Value first = sub(rows, n);
      Value k = sub(keep, ws);
      Value keys = view(l.keys, {H, l.capacity, D}, elt);
      Value values = view(l.values, {H, l.capacity, D}, elt);
      loop(H, [&](Value h) {
        // The largest t with #{u >= t} >= k: the k-th largest score.
        Value kth = carry(
            idx(0), idx(32), ValueRange{i32(0)},
            [&](Value i, ValueRange c) -> SmallVector<Value> {
              Value bit = arith::SubIOp::create(
                  b, i32(31), arith::IndexCastOp::create(b, b.getI32Type(), i));
              Value cand = arith::OrIOp::create(
                  b, c[0], arith::ShLIOp::create(b, i32(1), bit));
              Value cnt = count(scores, h, S, arith::CmpIPredicate::uge, cand);
              Value enough = cmp(arith::CmpIPredicate::sge, cnt, k);
              return {pick(enough, cand, c[0])};
            })[0];
        Value above = count(scores, h, S, arith::CmpIPredicate::ugt, kth);
        Value ties =
            arith::IndexCastOp::create(b, b.getI32Type(), sub(k, above));
        // Compaction in order: rows above the k-th score, and the first
        // `ties` rows equal to it.
        carry(idx(0), S, ValueRange{idx(0), i32(0)},
              [&](Value j, ValueRange c) -> SmallVector<Value> {
                Value u = orderedBits(scores, h, j);
                Value tie = arith::AndIOp::create(
                    b, cmp(arith::CmpIPredicate::eq, u, kth),
                    cmp(arith::CmpIPredicate::slt, c[1], ties));
                Value kept = arith::OrIOp::create(
                    b, cmp(arith::CmpIPredicate::ugt, u, kth), tie);
                ifThen(kept, [&] {
                  ifThen(cmp(arith::CmpIPredicate::ne, c[0], j), [&] {
                    moveRow(keys, values, h, add(first, j), add(first, c[0]));
                  });
                });
                return {add(c[0], toIndex(kept)),
                        arith::AddIOp::create(
                            b, c[1],
                            arith::ExtUIOp::create(b, b.getI32Type(), tie))};
              });
        // The window after them.
        loop(idx(0), ws, [&](Value i) {
          moveRow(keys, values, h, add(first, add(S, i)),
                  add(first, add(k, i)));
        });
      });
      storeHeader(0, add(first, keep));
      storeHeader(1, add(loadHeader(1), sub(n, keep)));
    });
  }
};

/// seq.kv_select: the selection above, in place.
struct KVSelectLowering : OpConversionPattern<KVSelectOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVSelectOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::string error;
    FailureOr<KVStorage> ref =
        getKVStorage(op.getCache().getType(), adaptor.getCache(), error);
    if (failed(ref))
      return rewriter.notifyMatchFailure(op, error);
    if (ref->layout.compressed || ref->layout.evicting || ref->layout.scored)
      return rewriter.notifyMatchFailure(op, "not a plain cache");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    KVSelectEmitter e(b, ref->layout, op.getCache().getType().getElementType(),
                      ref->state, cacheBase(b, *ref));
    e.select(readBuffer(b, adaptor.getScore().front()),
             adaptor.getKeep().front(), op.getWindow());
    rewriter.replaceOpWithMultiple(op, {adaptor.getCache()});
    return success();
  }
};

} // namespace

void mlir::seq::populateKVSelectPatterns(TypeConverter &converter,
                                         RewritePatternSet &patterns) {
  patterns.add<KVSelectLowering>(converter, patterns.getContext());
}
