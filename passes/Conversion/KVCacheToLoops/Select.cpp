//===- Select.cpp - kv_select (prefill-time selection) as a pattern -------===//
//
// seq.kv_select keeps, per KV head, the best-scored rows of the prompt a
// prefill has just appended, and the observation window after them. The
// selection is exact and in place, in two passes over each head's scores:
//
// 1. the k-th largest score, by a radix select on the scores' bits mapped
//    to unsigned integers that order as the floats do (RadixSelect.h: 32
//    counting passes; no sort, no scratch memory);
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
#include "passes/Conversion/RadixSelect.h"

#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::kv;

namespace {

class KVSelectEmitter : public KVLoopBuilder {
public:
  using KVLoopBuilder::KVLoopBuilder;

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
        auto bitsAt = [&](Value j) {
          return orderedScoreBits(
              b, memref::LoadOp::create(b, scores, ValueRange{h, j}));
        };
        RadixSelection sel = radixSelect(b, S, k, bitsAt);
        // The kept rows moved down over the dropped ones, in order (a row
        // only moves to a lower row), then the window after them.
        Value zero32 = arith::ConstantIntOp::create(b, b.getI32Type(), 0);
        carry(idx(0), S, ValueRange{idx(0), zero32},
              [&](Value j, ValueRange c) -> SmallVector<Value> {
                auto [kept, tie] = radixTakes(b, sel, bitsAt(j), c[1]);
                ifThen(kept, [&] {
                  ifThen(arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                               c[0], j),
                         [&] {
                           moveRow(keys, values, h, add(first, j),
                                   add(first, c[0]));
                         });
                });
                Value one = arith::IndexCastOp::create(
                    b, b.getIndexType(),
                    arith::ExtUIOp::create(b, b.getI32Type(), kept));
                return {add(c[0], one),
                        arith::AddIOp::create(
                            b, c[1],
                            arith::ExtUIOp::create(b, b.getI32Type(), tie))};
              });
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

/// The two ops of a plain cache (every token at its row, full precision):
/// `emit` writes the loops with the builder of the operand's storage, and
/// the cache is its own result (updated in place).
template <typename Op, typename Emitter>
struct PlainCacheLowering : OpConversionPattern<Op> {
  using OpConversionPattern<Op>::OpConversionPattern;
  using OneToNOpAdaptor = typename OpConversionPattern<Op>::OneToNOpAdaptor;

  virtual void emit(Emitter &e, Op op, OneToNOpAdaptor adaptor) const = 0;

  LogicalResult
  matchAndRewrite(Op op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::string error;
    FailureOr<KVStorage> ref =
        getKVStorage(op.getCache().getType(), adaptor.getCache(), error);
    if (failed(ref))
      return rewriter.notifyMatchFailure(op, error);
    if (ref->layout.compressed || ref->layout.evicting || ref->layout.scored)
      return rewriter.notifyMatchFailure(op, "not a plain cache");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b, ref->layout, op.getCache().getType().getElementType(),
              ref->state, cacheBase(b, *ref));
    emit(e, op, adaptor);
    rewriter.replaceOpWithMultiple(op, {adaptor.getCache()});
    return success();
  }
};

/// seq.kv_select: the selection above, in place.
struct KVSelectLowering : PlainCacheLowering<KVSelectOp, KVSelectEmitter> {
  using PlainCacheLowering::PlainCacheLowering;
  void emit(KVSelectEmitter &e, KVSelectOp op,
            OneToNOpAdaptor adaptor) const override {
    e.select(readBuffer(e.builder(), adaptor.getScore().front()),
             adaptor.getKeep().front(), op.getWindow());
  }
};

/// seq.kv_advance: the dropped-token count of the header grows.
struct KVAdvanceLowering : PlainCacheLowering<KVAdvanceOp, KVLoopBuilder> {
  using PlainCacheLowering::PlainCacheLowering;
  void emit(KVLoopBuilder &e, KVAdvanceOp,
            OneToNOpAdaptor adaptor) const override {
    e.storeHeader(1, e.add(e.loadHeader(1), adaptor.getCount().front()));
  }
};

} // namespace

void mlir::seq::populateKVSelectPatterns(TypeConverter &converter,
                                         RewritePatternSet &patterns) {
  patterns.add<KVSelectLowering, KVAdvanceLowering>(converter,
                                                    patterns.getContext());
}
