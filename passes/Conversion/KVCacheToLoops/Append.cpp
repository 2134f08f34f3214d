//===- Append.cpp - kv_append and scored eviction as patterns -------------===//
//
// The append emitter (KVAppend.h) and the conversion pattern of
// seq.kv_append: a loop over the appended tokens, each stored in place in
// the cache's bytes; in a scored cache (evict = h2o or roco) a new token
// takes the slot of the unprotected token with the lowest score.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KVCacheToLoops/KVAppend.h"
#include "passes/Conversion/KVCacheToLoops/KVCacheToLoops.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::kv;

//===----------------------------------------------------------------------===//
// Append and scored eviction
//===----------------------------------------------------------------------===//

void KVAppendEmitter::copyTokenHead(Value keys, Value values, Value t, Value h,
                                    Value kDst, Value vDst, Value pos) {
  loop(l.headDim, [&](Value d) {
    Value k = memref::LoadOp::create(b, keys, ValueRange{t, h, d});
    memref::StoreOp::create(b, fromF32(toF32(k), elt), kDst,
                            ValueRange{h, pos, d});
    Value v = memref::LoadOp::create(b, values, ValueRange{t, h, d});
    memref::StoreOp::create(b, fromF32(toF32(v), elt), vDst,
                            ValueRange{h, pos, d});
  });
}

void KVAppendEmitter::append(Value keys, Value values, Value t) {
  int64_t H = l.heads, D = l.headDim;
  Value len = loadHeader(0);
  // A full cache takes no more tokens (the runtime refuses to call past
  // the capacity; this guard only keeps memory safe).
  ifThen(lt(len, idx(l.capacity)), [&] {
    if (l.scored)
      return appendScored(keys, values, t, len);
    auto copyToken = [&](Value kDst, Value vDst, Value pos) {
      loop(H, [&](Value h) {
        copyTokenHead(keys, values, t, h, kDst, vDst, pos);
      });
    };
    if (!l.compressed && !l.evicting) {
      Value kDst = view(l.keys, {H, l.capacity, D}, elt);
      Value vDst = view(l.values, {H, l.capacity, D}, elt);
      copyToken(kDst, vDst, len);
      storeHeader(0, add(len, idx(1)));
      return;
    }
    Value isSink = lt(len, idx(l.sinks));
    auto ifOp = scf::IfOp::create(b, isSink, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      if (l.sinks > 0) {
        Value kDst = view(l.sinkKeys, {H, l.sinks, D}, elt);
        Value vDst = view(l.sinkValues, {H, l.sinks, D}, elt);
        copyToken(kDst, vDst, len);
      }
      b.setInsertionPointToStart(&ifOp.getElseRegion().front());
      Value ringPos = sub(len, idx(l.sinks));
      Value slots = idx(l.ringSlots);
      Value slot = arith::RemUIOp::create(b, ringPos, slots);
      Value kDst = ringKeys();
      Value vDst = ringValues();
      copyToken(kDst, vDst, slot);
    }
    Value newLen = add(len, idx(1));
    storeHeader(0, newLen);
    // Once the ring holds window + chunk tokens, its oldest chunk is
    // quantized; an evicting ring drops its oldest token (the new one took
    // its slot).
    Value nq = loadHeader(1);
    Value inRing = arith::SubIOp::create(b, sub(newLen, idx(l.sinks)), nq);
    Value full =
        arith::CmpIOp::create(b, arith::CmpIPredicate::sge, inRing,
                              idx(l.evicting ? l.ringSlots + 1 : l.ringSlots));
    if (l.evicting) {
      ifThen(full, [&] { storeHeader(1, add(nq, idx(1))); });
      return;
    }
    ifThen(full, [&] {
      quantizeChunk(ringKeys(), l.key, nq);
      quantizeChunk(ringValues(), l.value, nq);
      storeHeader(1, add(nq, idx(l.chunk)));
    });
  });
}

void KVAppendEmitter::appendScored(Value keys, Value values, Value t,
                                   Value len) {
  int64_t B = l.budget;
  Type i32 = b.getI32Type();
  Value pos = slotPos(), sum = slotSum(), cnt = slotCount();
  Value len32 = arith::IndexCastOp::create(b, i32, len);
  auto place = [&](Value h, Value slot) {
    Value kDst = slotKeys();
    Value vDst = slotValues();
    copyTokenHead(keys, values, t, h, kDst, vDst, slot);
    memref::StoreOp::create(b, len32, pos, ValueRange{h, slot});
    memref::StoreOp::create(b, f(0.0f), sum, ValueRange{h, slot});
    memref::StoreOp::create(b, f(0.0f), cnt, ValueRange{h, slot});
    if (l.roco) {
      Value zero = f(0.0f);
      Value m2 = slotDeviations();
      memref::StoreOp::create(b, zero, m2, ValueRange{h, slot});
    }
    if (l.mixed) {
      Value zero = arith::ConstantIntOp::create(b, b.getI8Type(), 0);
      Value flags = lowFlags();
      memref::StoreOp::create(b, zero, flags, ValueRange{h, len});
    }
  };
  auto ifOp = scf::IfOp::create(b, lt(len, idx(B)), /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    loop(l.heads, [&](Value h) { place(h, len); });
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    // Protected: the sinks and the window - 1 most recent tokens (with the
    // new one they are the window most recent). RoCo protects only the
    // rocoRecent() - 1 most recent by recency, and instead of the others
    // the window - rocoRecent() candidates whose attention varied most
    // (variance over the queries that saw them; ties: the newer): RoCo's
    // robustness measure.
    int64_t recent = l.roco ? l.rocoRecent() : l.window;
    int64_t robust = l.roco ? l.window - recent : 0;
    Value sinks32 = arith::ConstantIntOp::create(b, i32, l.sinks);
    Value limit = arith::IndexCastOp::create(b, i32, sub(len, idx(recent)));
    auto cmpI = [&](arith::CmpIPredicate pr, Value x, Value y) {
      return arith::CmpIOp::create(b, pr, x, y);
    };
    // The shield flags are scratch bytes of the cache's state (not the
    // stack: this runs in the loop over a prompt's tokens).
    Value shield = robust > 0 ? slotShield() : Value();
    loop(l.heads, [&](Value h) {
      // A slot's token may be evicted: neither a sink, recent, nor (RoCo)
      // shielded for its variable attention.
      auto candidate = [&](Value j, Value p) {
        Value notSink = cmpI(arith::CmpIPredicate::sge, p, sinks32);
        Value notRecent = cmpI(arith::CmpIPredicate::sle, p, limit);
        Value c = arith::AndIOp::create(b, notSink, notRecent);
        if (!shield)
          return c;
        Value flag = memref::LoadOp::create(b, shield, ValueRange{h, j});
        Value no = arith::ConstantIntOp::create(b, b.getI8Type(), 0);
        Value free =
            arith::CmpIOp::create(b, arith::CmpIPredicate::eq, flag, no);
        return arith::AndIOp::create(b, c, free).getResult();
      };
      // The slot whose token is eligible and has the smallest (or, with
      // `largest`, the largest) value, ties to the older (the newer) one.
      auto bestSlot = [&](bool largest, function_ref<Value(Value j)> valueOf,
                          function_ref<Value(Value j, Value p)> eligible) {
        Value lo = idx(0);
        Value hi = idx(B);
        Value step = idx(1);
        auto scan = scf::ForOp::create(
            b, lo, hi, step,
            ValueRange{f(largest ? -INFINITY : INFINITY),
                       arith::ConstantIntOp::create(
                           b, i32, largest ? INT32_MIN : INT32_MAX),
                       idx(0)});
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(scan.getBody());
        Value j = scan.getInductionVar();
        ValueRange it = scan.getRegionIterArgs();
        Value p = memref::LoadOp::create(b, pos, ValueRange{h, j});
        Value v = valueOf(j);
        Value ahead = arith::CmpFOp::create(
            b, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
            v, it[0]);
        Value same =
            arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, v, it[0]);
        Value order = cmpI(largest ? arith::CmpIPredicate::sgt
                                   : arith::CmpIPredicate::slt,
                           p, it[1]);
        Value tie = arith::AndIOp::create(b, same, order);
        Value ok = eligible(j, p);
        Value wins = arith::OrIOp::create(b, ahead, tie);
        Value better = arith::AndIOp::create(b, ok, wins);
        scf::YieldOp::create(
            b, ValueRange{arith::SelectOp::create(b, better, v, it[0]),
                          arith::SelectOp::create(b, better, p, it[1]),
                          arith::SelectOp::create(b, better, j, it[2])});
        return scan.getResult(2);
      };
      // A slot statistic per query that saw the token: the mean attention
      // (of `sum`) or its variance (of the squared deviations); 0 for a
      // token no query saw yet (its statistics are 0 then).
      auto perQuery = [&](Value stat, Value j) -> Value {
        Value c = memref::LoadOp::create(b, cnt, ValueRange{h, j});
        Value s = memref::LoadOp::create(b, stat, ValueRange{h, j});
        Value n = arith::MaximumFOp::create(b, c, f(1.0f));
        return arith::DivFOp::create(b, s, n);
      };
      if (shield) {
        Value no = arith::ConstantIntOp::create(b, b.getI8Type(), 0);
        loop(B, [&](Value j) {
          memref::StoreOp::create(b, no, shield, ValueRange{h, j});
        });
        Value m2 = slotDeviations();
        loop(robust, [&](Value) {
          // Shield the candidate of largest variance (ties: the newer).
          Value slot = bestSlot(
              /*largest=*/true, [&](Value j) { return perQuery(m2, j); },
              candidate);
          memref::StoreOp::create(
              b, arith::ConstantIntOp::create(b, b.getI8Type(), 1), shield,
              ValueRange{h, slot});
        });
      }
      // The victim: the candidate of lowest score (ties: the older).
      Value victim = bestSlot(
          /*largest=*/false,
          [&](Value j) -> Value {
            if (l.roco)
              return perQuery(sum, j);
            return memref::LoadOp::create(b, sum, ValueRange{h, j});
          },
          candidate);
      if (l.mixed) {
        Value old = arith::IndexCastOp::create(
            b, b.getIndexType(),
            memref::LoadOp::create(b, pos, ValueRange{h, victim}));
        Value kSrc = slotKeys(), vSrc = slotValues();
        quantizeToken(l.key, h, old, [&](Value c) {
          return toF32(
              memref::LoadOp::create(b, kSrc, ValueRange{h, victim, c}));
        });
        quantizeToken(l.value, h, old, [&](Value c) {
          return toF32(
              memref::LoadOp::create(b, vSrc, ValueRange{h, victim, c}));
        });
        Value one = arith::ConstantIntOp::create(b, b.getI8Type(), 1);
        Value flags = lowFlags();
        memref::StoreOp::create(b, one, flags, ValueRange{h, old});
      }
      place(h, victim);
    });
  }
  storeHeader(0, add(len, idx(1)));
}

void KVAppendEmitter::accumulateAttention(Value h, Value n, Value scores,
                                          Value stats, int64_t rep) {
  Value sum = slotSum(), cnt = slotCount();
  Value lo = idx(0);
  Value hi = arith::MinSIOp::create(b, n, idx(l.budget));
  tokenLoop(lo, hi, tokenBase(0), [&](Value j) {
    Value a = f(0.0f);
    for (int64_t r = 0; r < rep; ++r) {
      Value e = memref::LoadOp::create(b, scores, ValueRange{idx(r), j});
      Value inv = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
      a = arith::AddFOp::create(b, a, arith::MulFOp::create(b, e, inv));
    }
    a = arith::MulFOp::create(b, a, f(1.0f / float(rep)));
    Value s = memref::LoadOp::create(b, sum, ValueRange{h, j});
    Value s1 = arith::AddFOp::create(b, s, a);
    memref::StoreOp::create(b, s1, sum, ValueRange{h, j});
    Value c = memref::LoadOp::create(b, cnt, ValueRange{h, j});
    Value c1 = arith::AddFOp::create(b, c, f(1.0f));
    memref::StoreOp::create(b, c1, cnt, ValueRange{h, j});
    if (l.roco) {
      // Welford: the squared deviations from the mean, updated with the
      // means before and after this query (no cancellation, unlike
      // sum(a^2)/n - mean^2 for nearly constant attention).
      // (A token no query saw has sum 0: its mean before is 0.)
      Value before =
          arith::DivFOp::create(b, s, arith::MaximumFOp::create(b, c, f(1.0f)));
      Value after = arith::DivFOp::create(b, s1, c1);
      Value m2 = slotDeviations();
      Value d = memref::LoadOp::create(b, m2, ValueRange{h, j});
      Value dBefore = arith::SubFOp::create(b, a, before);
      Value dAfter = arith::SubFOp::create(b, a, after);
      memref::StoreOp::create(
          b,
          arith::AddFOp::create(b, d,
                                arith::MulFOp::create(b, dBefore, dAfter)),
          m2, ValueRange{h, j});
    }
  });
}

//===----------------------------------------------------------------------===//
// Shared by the patterns
//===----------------------------------------------------------------------===//

FailureOr<KVStorage> mlir::seq::kv::getKVStorage(KVCacheType type,
                                                 ValueRange converted,
                                                 std::string &error) {
  KVStorage storage;
  if (converted.size() != 2 || !getKVLayout(type, storage.layout, error))
    return failure();
  storage.state = converted[0];
  storage.slot = converted[1];
  return storage;
}

Value mlir::seq::kv::cacheBase(ImplicitLocOpBuilder &b,
                               const KVStorage &storage) {
  return arith::MulIOp::create(
      b, storage.slot, arith::ConstantIndexOp::create(b, storage.layout.bytes));
}

KVAttentionOp mlir::seq::kv::fusedAttention(KVAppendOp append) {
  if (!append.getResult().hasOneUse())
    return {};
  auto attention = dyn_cast<KVAttentionOp>(*append.getResult().user_begin());
  if (attention && attention.getQuery().getType().getDimSize(0) ==
                       append.getKeys().getType().getDimSize(0))
    return attention;
  return {};
}

//===----------------------------------------------------------------------===//
// Pattern
//===----------------------------------------------------------------------===//

namespace {

/// seq.kv_append: each token appended in turn, in place. An append fused
/// with its attention (fusedAttention) leaves the appending to it.
struct KVAppendLowering : OpConversionPattern<KVAppendOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(KVAppendOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (fusedAttention(op)) {
      rewriter.replaceOpWithMultiple(op, {adaptor.getCache()});
      return success();
    }
    std::string error;
    FailureOr<KVStorage> ref =
        getKVStorage(op.getCache().getType(), adaptor.getCache(), error);
    if (failed(ref))
      return rewriter.notifyMatchFailure(op, error);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    KVAppendEmitter e(b, ref->layout, op.getCache().getType().getElementType(),
                      ref->state, cacheBase(b, *ref));
    Value keys = readBuffer(b, adaptor.getKeys().front());
    Value values = readBuffer(b, adaptor.getValues().front());
    Value T = memref::DimOp::create(b, keys, 0);
    e.loop(e.idx(0), T, [&](Value t) { e.append(keys, values, t); });
    rewriter.replaceOpWithMultiple(op, {adaptor.getCache()});
    return success();
  }
};

} // namespace

void mlir::seq::populateKVAppendPatterns(TypeConverter &converter,
                                         RewritePatternSet &patterns) {
  patterns.add<KVAppendLowering>(converter, patterns.getContext());
}
