//===- KVCacheToLoops.cpp - KV caches to in-place loops over bytes --------===//
//
// Lowers seq.kv_load / kv_length / kv_append / kv_attention / kv_store to
// scf loops over the cache's bytes in its state buffer (layout:
// seqc/Support/KVLayout.h).
// Caches are updated in place, so each cache value must be used linearly.
// Quantized tokens are really bit-packed; attention dequantizes one token row
// at a time into a head_dim scratch row, never the whole cache.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HadamardRow.h"
#include "passes/Conversion/Passes.h"

#include "dialects/Seq/IR/SeqKVLayout.h"
#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Hadamard.h"
#include "seqc/Support/Rope.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/DenseMap.h"

namespace mlir::seq {
#define GEN_PASS_DEF_CONVERTSEQKVTOLOOPSPASS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq;
using seqc::KVLayout;

namespace {

/// How cached keys are read back (kv_attention's key_rotation_heads and
/// key_rope_* attributes): rotated back by groups of heads, then RoPE at
/// the token's position from tables of cos/sin [capacity, rotaryDim/2].
struct KeyTransform {
  /// KV heads per rotation (0: keys are not rotated).
  int64_t groupHeads = 0;
  /// RoPE at read (keys cached before it).
  bool rope = false, half = true;
  int64_t rotaryDim = 0;
  Value cosTable, sinTable;
  /// A latent cache (seq-low-rank-kv): the basis U [2 * heads * headDim,
  /// 2 * r] of the attention's `heads` KV heads of `headDim` channels; the
  /// cache holds r channels per token in each of its key and value rows.
  Value basis;
  int64_t heads = 0, headDim = 0;
  bool latent() const { return bool(basis); }
};

/// The attention's heap scratch, one slice per KV head (leading dimension),
/// so that heads can run in parallel: the scores of every visible token and,
/// when the heads run in place, the small buffers (otherwise on the stack of
/// the thread running each head).
struct AttentionScratch {
  /// Whether the KV heads run in parallel.
  bool parallel = false;
  Value scores, acc, row, stats, qbuf, qs, qm;
  /// Key transforms: a group's rotated row [G * D] (latent caches: the
  /// latent [2r], then the key before RoPE [D]) and the Hadamard base
  /// factor's scratch.
  Value group, baseTmp;

  /// buf[kh], rank-reduced.
  Value head(OpBuilder &b, Value buf, Value kh) const {
    auto type = cast<MemRefType>(buf.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
        strides(rank, b.getIndexAttr(1));
    offsets[0] = kh;
    sizes.push_back(b.getIndexAttr(1));
    for (int64_t d = 1; d < rank; ++d)
      sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
    auto resultType = memref::SubViewOp::inferRankReducedResultType(
        type.getShape().drop_front(), type, offsets, sizes, strides);
    return memref::SubViewOp::create(b, buf.getLoc(), resultType, buf, offsets,
                                     sizes, strides);
  }
};

/// Emits the loops of one cache's operations. All indices are `index`.
class KVEmitter {
public:
  KVEmitter(ImplicitLocOpBuilder &b, const KVLayout &l, Type elt, Value state,
            Value base)
      : b(b), l(l), elt(elt), state(state), base(base) {
    f32 = b.getF32Type();
    fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                       arith::FastMathFlags::reassoc |
                                           arith::FastMathFlags::contract);
  }

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }

  /// A typed view of the region at byte `offset` of this cache.
  Value view(int64_t offset, ArrayRef<int64_t> shape, Type t) {
    return memref::ViewOp::create(b, MemRefType::get(shape, t), state,
                                  add(base, idx(offset)), ValueRange{});
  }
  Value header() { return view(0, {2}, b.getI64Type()); }
  Value loadHeader(int64_t i) {
    Value v = memref::LoadOp::create(b, header(), ValueRange{idx(i)});
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  void storeHeader(int64_t i, Value v) {
    memref::StoreOp::create(b, arith::IndexCastOp::create(b, b.getI64Type(), v),
                            header(), ValueRange{idx(i)});
  }

  Value toF32(Value v) {
    if (v.getType() == f32)
      return v;
    return arith::ExtFOp::create(b, f32, v);
  }
  Value fromF32(Value v, Type t) {
    if (t == f32)
      return v;
    return arith::TruncFOp::create(b, t, v);
  }

  /// for (i = lo; i < hi; ++i) body(i).
  void loop(Value lo, Value hi, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, lo, hi, idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    body(forOp.getInductionVar());
  }
  void loop(int64_t n, function_ref<void(Value)> body) {
    loop(idx(0), idx(n), body);
  }
  /// A loop whose iterations are independent, marked for
  /// seq-parallelize-loops.
  /// Stack allocations in `body` are released at the end of each
  /// iteration.
  void parallelLoop(int64_t n, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, idx(0), idx(n), idx(1));
    SeqDialect::ParallelAttrHelper(b.getContext())
        .setAttr(forOp, b.getUnitAttr());
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    Value iv = forOp.getInductionVar();
    auto scope = memref::AllocaScopeOp::create(b, TypeRange{});
    b.setInsertionPointToStart(&scope.getBodyRegion().emplaceBlock());
    body(iv);
    memref::AllocaScopeReturnOp::create(b, ValueRange{});
  }
  /// A reduction loop carrying one f32.
  Value reduce(Value lo, Value hi, Value init,
               function_ref<Value(Value, Value)> body) {
    auto forOp = scf::ForOp::create(b, lo, hi, idx(1), ValueRange{init});
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    scf::YieldOp::create(
        b, body(forOp.getInductionVar(), forOp.getRegionIterArgs()[0]));
    return forOp.getResult(0);
  }
  void ifThen(Value cond, function_ref<void()> then) {
    auto ifOp = scf::IfOp::create(b, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    then();
  }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
  }

  //===------------------------------------------------------------------===//
  // Append
  //===------------------------------------------------------------------===//

  /// Stores head h of row t of keys and values ([T, H, D] f32 memrefs) at
  /// position `pos` of kDst and vDst ([H, N, D], element type).
  void copyTokenHead(Value keys, Value values, Value t, Value h, Value kDst,
                     Value vDst, Value pos) {
    loop(l.headDim, [&](Value d) {
      Value k = memref::LoadOp::create(b, keys, ValueRange{t, h, d});
      memref::StoreOp::create(b, fromF32(toF32(k), elt), kDst,
                              ValueRange{h, pos, d});
      Value v = memref::LoadOp::create(b, values, ValueRange{t, h, d});
      memref::StoreOp::create(b, fromF32(toF32(v), elt), vDst,
                              ValueRange{h, pos, d});
    });
  }

  /// Appends row `t` of keys and values ([T, H, D] f32 memrefs).
  void append(Value keys, Value values, Value t) {
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
        copyToken(view(l.keys, {H, l.capacity, D}, elt),
                  view(l.values, {H, l.capacity, D}, elt), len);
        storeHeader(0, add(len, idx(1)));
        return;
      }
      Value isSink = lt(len, idx(l.sinks));
      auto ifOp = scf::IfOp::create(b, isSink, /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        if (l.sinks > 0)
          copyToken(view(l.sinkKeys, {H, l.sinks, D}, elt),
                    view(l.sinkValues, {H, l.sinks, D}, elt), len);
        b.setInsertionPointToStart(&ifOp.getElseRegion().front());
        Value slot =
            arith::RemUIOp::create(b, sub(len, idx(l.sinks)), idx(l.ringSlots));
        copyToken(ringKeys(), ringValues(), slot);
      }
      Value newLen = add(len, idx(1));
      storeHeader(0, newLen);
      // Once the ring holds window + chunk tokens, its oldest chunk is
      // quantized; an evicting ring drops its oldest token (the new one took
      // its slot).
      Value nq = loadHeader(1);
      Value inRing = arith::SubIOp::create(b, sub(newLen, idx(l.sinks)), nq);
      Value full = arith::CmpIOp::create(
          b, arith::CmpIPredicate::sge, inRing,
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

  Value ringKeys() {
    return view(l.ringKeys, {l.heads, l.ringSlots, l.headDim}, elt);
  }
  Value ringValues() {
    return view(l.ringValues, {l.heads, l.ringSlots, l.headDim}, elt);
  }
  Value sinkKeys() {
    return view(l.sinkKeys, {l.heads, l.sinks, l.headDim}, elt);
  }
  Value sinkValues() {
    return view(l.sinkValues, {l.heads, l.sinks, l.headDim}, elt);
  }
  Value slotKeys() {
    return view(l.slotKeys, {l.heads, l.budget, l.headDim}, elt);
  }
  Value slotValues() {
    return view(l.slotValues, {l.heads, l.budget, l.headDim}, elt);
  }
  Value slotPos() {
    return view(l.slotPos, {l.heads, l.budget}, b.getI32Type());
  }
  Value slotSum() { return view(l.slotSum, {l.heads, l.budget}, f32); }
  Value slotCount() { return view(l.slotCount, {l.heads, l.budget}, f32); }
  Value slotDeviations() {
    return view(l.slotDeviations, {l.heads, l.budget}, f32);
  }
  Value slotShield() {
    return view(l.slotShield, {l.heads, l.budget}, b.getI8Type());
  }
  Value lowFlags() {
    return view(l.lowFlags, {l.heads, l.capacity}, b.getI8Type());
  }

  /// Appends token `t` (position `len`) to a scored cache: into the next
  /// free slot, or, once all `budget` slots are taken, per head into the
  /// slot of the unprotected token with the lowest score (ties: the older),
  /// which is dropped or, in a mixed-precision cache, quantized at its
  /// position.
  void appendScored(Value keys, Value values, Value t, Value len) {
    int64_t B = l.budget;
    Type i32 = b.getI32Type();
    Value pos = slotPos(), sum = slotSum(), cnt = slotCount();
    Value len32 = arith::IndexCastOp::create(b, i32, len);
    auto place = [&](Value h, Value slot) {
      copyTokenHead(keys, values, t, h, slotKeys(), slotValues(), slot);
      memref::StoreOp::create(b, len32, pos, ValueRange{h, slot});
      memref::StoreOp::create(b, f(0.0f), sum, ValueRange{h, slot});
      memref::StoreOp::create(b, f(0.0f), cnt, ValueRange{h, slot});
      if (l.roco)
        memref::StoreOp::create(b, f(0.0f), slotDeviations(),
                                ValueRange{h, slot});
      if (l.mixed)
        memref::StoreOp::create(
            b, arith::ConstantIntOp::create(b, b.getI8Type(), 0), lowFlags(),
            ValueRange{h, len});
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
          Value c = arith::AndIOp::create(
              b, cmpI(arith::CmpIPredicate::sge, p, sinks32),
              cmpI(arith::CmpIPredicate::sle, p, limit));
          if (!shield)
            return c;
          Value free = arith::CmpIOp::create(
              b, arith::CmpIPredicate::eq,
              memref::LoadOp::create(b, shield, ValueRange{h, j}),
              arith::ConstantIntOp::create(b, b.getI8Type(), 0));
          return arith::AndIOp::create(b, c, free).getResult();
        };
        // The slot whose token is eligible and has the smallest (or, with
        // `largest`, the largest) value, ties to the older (the newer) one.
        auto bestSlot = [&](bool largest, function_ref<Value(Value j)> valueOf,
                            function_ref<Value(Value j, Value p)> eligible) {
          auto scan = scf::ForOp::create(
              b, idx(0), idx(B), idx(1),
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
              b,
              largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
              v, it[0]);
          Value tie = arith::AndIOp::create(
              b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, v, it[0]),
              cmpI(largest ? arith::CmpIPredicate::sgt
                           : arith::CmpIPredicate::slt,
                   p, it[1]));
          Value better = arith::AndIOp::create(
              b, eligible(j, p), arith::OrIOp::create(b, ahead, tie));
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
          return arith::DivFOp::create(
              b, memref::LoadOp::create(b, stat, ValueRange{h, j}),
              arith::MaximumFOp::create(b, c, f(1.0f)));
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
          memref::StoreOp::create(
              b, arith::ConstantIntOp::create(b, b.getI8Type(), 1), lowFlags(),
              ValueRange{h, old});
        }
        place(h, victim);
      });
    }
    storeHeader(0, add(len, idx(1)));
  }

  /// Adds each visible slot's attention from the softmax weights of the
  /// `rep` query heads of KV head `h` (scores hold exp(s - max), `stats`
  /// the reciprocal sums): their mean to the sum, 1 to the count.
  void accumulateAttention(Value h, Value n, Value scores, Value stats,
                           int64_t rep) {
    Value sum = slotSum(), cnt = slotCount();
    loop(idx(0), arith::MinSIOp::create(b, n, idx(l.budget)), [&](Value j) {
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
        Value before = arith::DivFOp::create(
            b, s, arith::MaximumFOp::create(b, c, f(1.0f)));
        Value after = arith::DivFOp::create(b, s1, c1);
        Value m2 = slotDeviations();
        Value d = memref::LoadOp::create(b, m2, ValueRange{h, j});
        memref::StoreOp::create(
            b,
            arith::AddFOp::create(
                b, d,
                arith::MulFOp::create(b, arith::SubFOp::create(b, a, before),
                                      arith::SubFOp::create(b, a, after))),
            m2, ValueRange{h, j});
      }
    });
  }

  Value codes(const KVLayout::Side &s) {
    return view(s.codes, {l.heads, l.quantCapacity, s.rowBytes}, b.getI8Type());
  }
  Value scales(const KVLayout::Side &s) {
    return view(s.scales, {l.heads, s.scaleRows, s.scaleCols}, f32);
  }
  Value minima(const KVLayout::Side &s) {
    return view(s.minima, {l.heads, s.scaleRows, s.scaleCols}, f32);
  }

  /// The integer holding 8 codes (`bits` bytes): i32 up to 4 bits, so that
  /// the decoding vectorizes 8 lanes wide, i64 for 8 bits.
  Type wordType(const KVLayout::Side &s) {
    return s.bits <= 4 ? b.getI32Type() : b.getI64Type();
  }

  /// The (row, column) of the scale of token `i`, channel `c`.
  std::pair<Value, Value> scaleAt(const KVLayout::Side &s, Value i, Value c) {
    if (s.perChannel)
      return {arith::DivUIOp::create(b, i, idx(s.group)), c};
    return {i, arith::DivUIOp::create(b, c, idx(s.group))};
  }

  /// The minimum of the symmetric grid, -2^(b-1) scale (`scale` an f32 or
  /// a vector of them).
  Value symmetricMinimum(const KVLayout::Side &s, Value scale) {
    Value k = f(-float(1u << (s.bits - 1)));
    if (auto vt = dyn_cast<VectorType>(scale.getType()))
      k = vector::BroadcastOp::create(b, vt, k);
    return arith::MulFOp::create(b, scale, k);
  }

  /// The stored (scale, minimum) of token i, channel c of head h, from the
  /// side's scale and minima views (`mins` null for the symmetric grid,
  /// whose minimum is -2^(b-1) scale).
  std::pair<Value, Value> groupParams(const KVLayout::Side &s, Value sc,
                                      Value mins, Value h, Value i, Value c) {
    auto [row, col] = scaleAt(s, i, c);
    Value scale = memref::LoadOp::create(b, sc, ValueRange{h, row, col});
    Value minimum =
        mins ? memref::LoadOp::create(b, mins, ValueRange{h, row, col})
             : symmetricMinimum(s, scale);
    return {scale, minimum};
  }

  /// (scale, minimum) of a group from its range: asymmetric
  /// s = (max - min) / (2^b - 1), m = min; symmetric s = max|x| / (2^(b-1) -
  /// 1), m = -2^(b-1) s. A zero range gets s = 1. Dequantization is q s + m.
  std::pair<Value, Value> params(const KVLayout::Side &s, Value mn, Value mx) {
    Value scale, minimum;
    if (s.asymmetric) {
      scale = arith::DivFOp::create(b, arith::SubFOp::create(b, mx, mn),
                                    f(float((1u << s.bits) - 1)));
      minimum = mn;
    } else {
      Value amax = arith::MaximumFOp::create(b, math::AbsFOp::create(b, mn),
                                             math::AbsFOp::create(b, mx));
      scale =
          arith::DivFOp::create(b, amax, f(float((1u << (s.bits - 1)) - 1)));
    }
    Value zero =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, scale, f(0.0f));
    scale = arith::SelectOp::create(b, zero, f(1.0f), scale);
    if (!s.asymmetric)
      minimum = symmetricMinimum(s, scale);
    return {scale, minimum};
  }

  /// The code of x: asymmetric clamp(round((x - m) / s), 0, 2^b - 1);
  /// symmetric clamp(round(x / s), -M, M) + 2^(b-1), M = 2^(b-1) - 1.
  Value code(const KVLayout::Side &s, Value x, Value scale, Value minimum) {
    Value q, lo, hi;
    if (s.asymmetric) {
      q = arith::DivFOp::create(b, arith::SubFOp::create(b, x, minimum), scale);
      lo = f(0.0f);
      hi = f(float((1u << s.bits) - 1));
    } else {
      q = arith::DivFOp::create(b, x, scale);
      float m = float((1u << (s.bits - 1)) - 1);
      lo = f(-m);
      hi = f(m);
    }
    q = math::RoundOp::create(b, q); // ties away from zero
    q = arith::MinimumFOp::create(b, arith::MaximumFOp::create(b, q, lo), hi);
    if (!s.asymmetric)
      q = arith::AddFOp::create(b, q, f(float(1u << (s.bits - 1))));
    return arith::FPToUIOp::create(b, wordType(s), q);
  }

  /// (min, max) of `at(k)` for k in [0, n).
  std::pair<Value, Value> minMax(function_ref<Value(Value)> at, int64_t n) {
    auto forOp = scf::ForOp::create(b, idx(0), idx(n), idx(1),
                                    ValueRange{f(INFINITY), f(-INFINITY)});
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    Value x = at(forOp.getInductionVar());
    Value mn = arith::MinimumFOp::create(b, forOp.getRegionIterArgs()[0], x);
    Value mx = arith::MaximumFOp::create(b, forOp.getRegionIterArgs()[1], x);
    scf::YieldOp::create(b, ValueRange{mn, mx});
    return {forOp.getResult(0), forOp.getResult(1)};
  }

  /// Stores the scale (and minimum) of the group with range [mn, mx] at
  /// (row, col) of head h.
  void storeParams(const KVLayout::Side &s, Value h, Value row, Value col,
                   Value mn, Value mx) {
    auto [scale, minimum] = params(s, mn, mx);
    memref::StoreOp::create(b, scale, scales(s), ValueRange{h, row, col});
    if (s.asymmetric)
      memref::StoreOp::create(b, minimum, minima(s), ValueRange{h, row, col});
  }

  /// Packs the codes of token i (index in the packed region) of head h,
  /// whose channel c holds `at(c)`, with the group parameters already
  /// stored: 8 channels (`bits` bytes) at a time.
  void packCodes(const KVLayout::Side &s, Value h, Value i,
                 function_ref<Value(Value)> at) {
    Value sc = scales(s), mins = s.asymmetric ? minima(s) : Value();
    Value cd = codes(s);
    loop(l.headDim / 8, [&](Value u) {
      Value word = arith::ConstantIntOp::create(b, wordType(s), 0);
      for (int64_t j = 0; j < 8; ++j) {
        Value c = add(mul(u, idx(8)), idx(j));
        auto [scale, minimum] = groupParams(s, sc, mins, h, i, c);
        Value q = code(s, at(c), scale, minimum);
        Value shifted = arith::ShLIOp::create(
            b, q, arith::ConstantIntOp::create(b, wordType(s), j * s.bits));
        word = arith::OrIOp::create(b, word, shifted);
      }
      for (unsigned byte = 0; byte < s.bits; ++byte) {
        Value v = arith::ShRUIOp::create(
            b, word, arith::ConstantIntOp::create(b, wordType(s), 8 * byte));
        v = arith::TruncIOp::create(b, b.getI8Type(), v);
        Value pos = add(mul(u, idx(s.bits)), idx(byte));
        memref::StoreOp::create(b, v, cd, ValueRange{h, i, pos});
      }
    });
  }

  /// Quantizes token i of head h (channel c = `at(c)`) with channel-axis
  /// groups: its group parameters, then its codes.
  void quantizeToken(const KVLayout::Side &s, Value h, Value i,
                     function_ref<Value(Value)> at) {
    loop(l.headDim / s.group, [&](Value g) {
      Value c0 = mul(g, idx(s.group));
      auto [mn, mx] = minMax([&](Value c) { return at(add(c0, c)); }, s.group);
      storeParams(s, h, i, g, mn, mx);
    });
    packCodes(s, h, i, at);
  }

  /// Quantizes tokens nq .. nq + chunk - 1 (indices after the sinks) of one
  /// side from the ring into the packed region.
  void quantizeChunk(Value ring, const KVLayout::Side &s, Value nq) {
    int64_t D = l.headDim, R = l.ringSlots;
    auto ringAt = [&](Value h, Value i, Value c) {
      Value slot = arith::RemUIOp::create(b, i, idx(R));
      return toF32(memref::LoadOp::create(b, ring, ValueRange{h, slot, c}));
    };
    loop(l.heads, [&](Value h) {
      if (!s.perChannel) {
        loop(l.chunk, [&](Value k) {
          Value i = add(nq, k);
          quantizeToken(s, h, i, [&](Value c) { return ringAt(h, i, c); });
        });
        return;
      }
      // Per-channel groups: the parameters of each channel over the
      // group's tokens first, then the codes token by token.
      loop(l.chunk / s.group, [&](Value sub) {
        Value i0 = add(nq, mul(sub, idx(s.group)));
        Value row = arith::DivUIOp::create(b, i0, idx(s.group));
        loop(D, [&](Value c) {
          auto [mn, mx] = minMax(
              [&](Value i) { return ringAt(h, add(i0, i), c); }, s.group);
          storeParams(s, h, row, c, mn, mx);
        });
      });
      loop(l.chunk, [&](Value k) {
        Value i = add(nq, k);
        packCodes(s, h, i, [&](Value c) { return ringAt(h, i, c); });
      });
    });
  }

  //===------------------------------------------------------------------===//
  // Attention
  //===------------------------------------------------------------------===//

  /// Dequantizes token `i` (index after the sinks) of head `h` of one side
  /// into `row` ([D] f32), 8 channels (one word of `bits` bytes) at a time
  /// in vector registers: the word broadcast to 8 lanes, shifted right by
  /// 0, b, ..., 7b, masked and converted, then scaled and offset by the
  /// group parameters (8 per-channel ones, or one per-token group's,
  /// broadcast). With `codesOnly` the codes themselves.
  void dequantRow(const KVLayout::Side &s, Value h, Value i, Value row,
                  bool codesOnly = false) {
    Value sc = scales(s), mins = s.asymmetric ? minima(s) : Value();
    Value cd = codes(s);
    Type word = wordType(s);
    auto wordVec = VectorType::get({8}, word);
    auto fVec = VectorType::get({8}, f32);
    SmallVector<int64_t> shifts, masks(8, (1 << s.bits) - 1);
    for (int64_t j = 0; j < 8; ++j)
      shifts.push_back(j * s.bits);
    auto intVec = [&](ArrayRef<int64_t> v) -> Value {
      SmallVector<APInt> bitsVals;
      for (int64_t x : v)
        bitsVals.push_back(APInt(word.getIntOrFloatBitWidth(), x));
      return arith::ConstantOp::create(
          b, wordVec, DenseElementsAttr::get(wordVec, bitsVals));
    };
    Value shiftV = intVec(shifts), maskV = intVec(masks);
    // A per-token group covers whole 8-channel words when it is a multiple
    // of 8; otherwise each channel reads its own group's parameters.
    bool perToken = !s.perChannel;
    bool wordInGroup = perToken && s.group % 8 == 0;
    loop(l.headDim / 8, [&](Value u) {
      Value w = arith::ConstantIntOp::create(b, word, 0);
      for (unsigned byte = 0; byte < s.bits; ++byte) {
        Value at = add(mul(u, idx(s.bits)), idx(byte));
        Value v = memref::LoadOp::create(b, cd, ValueRange{h, i, at});
        v = arith::ExtUIOp::create(b, word, v);
        v = arith::ShLIOp::create(
            b, v, arith::ConstantIntOp::create(b, word, 8 * byte));
        w = arith::OrIOp::create(b, w, v);
      }
      Value q = vector::BroadcastOp::create(b, wordVec, w);
      q = arith::AndIOp::create(b, arith::ShRUIOp::create(b, q, shiftV), maskV);
      Value x = arith::UIToFPOp::create(b, fVec, q);
      Value c0 = mul(u, idx(8));
      if (!codesOnly) {
        Value scale, minimum;
        if (s.perChannel || wordInGroup) {
          auto [rowIdx, col] = scaleAt(s, i, c0);
          auto load = [&](Value m) -> Value {
            if (wordInGroup)
              return vector::BroadcastOp::create(
                  b, fVec,
                  memref::LoadOp::create(b, m, ValueRange{h, rowIdx, col}));
            return vector::LoadOp::create(b, fVec, m,
                                          ValueRange{h, rowIdx, col});
          };
          scale = load(sc);
          minimum = mins ? load(mins) : symmetricMinimum(s, scale);
        } else {
          // Small per-token groups: gather each lane's parameters.
          Value sv = arith::ConstantOp::create(
              b, fVec, DenseElementsAttr::get(fVec, 0.0f));
          Value mv = sv;
          for (int64_t j = 0; j < 8; ++j) {
            auto [sj, mj] = groupParams(s, sc, mins, h, i, add(c0, idx(j)));
            sv = vector::InsertOp::create(b, sj, sv, j);
            mv = vector::InsertOp::create(b, mj, mv, j);
          }
          scale = sv;
          minimum = mv;
        }
        x = arith::AddFOp::create(b, arith::MulFOp::create(b, x, scale),
                                  minimum);
      }
      vector::StoreOp::create(b, x, row, ValueRange{c0});
    });
  }

  /// Copies `src[h, j, :]` (element type) into `row` ([D] f32).
  void copyRow(Value src, Value h, Value j, Value row) {
    loop(l.headDim, [&](Value d) {
      Value x = memref::LoadOp::create(b, src, ValueRange{h, j, d});
      memref::StoreOp::create(b, toF32(x), row, ValueRange{d});
    });
  }

  /// The token ranges [lo, hi) that attention sees among the first n: all
  /// of them, except in an evicting cache, whose dropped tokens
  /// [sinks, sinks + dropped) are skipped.
  SmallVector<std::pair<Value, Value>> visibleRanges(Value n) {
    if (l.scored) {
      // Slots, then (mixed) positions of quantized tokens, at B + p; the
      // positions of tokens in slots have score -inf there.
      SmallVector<std::pair<Value, Value>> r = {
          {idx(0), arith::MinSIOp::create(b, n, idx(l.budget))}};
      if (l.mixed)
        r.push_back({idx(l.budget), add(idx(l.budget), n)});
      return r;
    }
    if (!l.evicting)
      return {{idx(0), n}};
    Value S = idx(l.sinks);
    Value nSinks = arith::MinSIOp::create(b, n, S);
    Value after = arith::MaxSIOp::create(b, sub(n, S), idx(0));
    Value dropped = arith::MinSIOp::create(b, loadHeader(1), after);
    return {{idx(0), nSinks},
            {add(S, dropped), arith::MaxSIOp::create(b, n, S)}};
  }

  /// Head h's key at position `pos` as the attention sees it (`kt`): the
  /// stored rows of h's rotation group (`get(hh, dst)` reads head hh's),
  /// rotated back, then RoPE at `pos` from the tables, into `row`.
  void readKey(Value h, Value pos, Value row,
               function_ref<void(Value, Value)> get) {
    int64_t D = l.headDim, G = std::max<int64_t>(kt->groupHeads, 1);
    Value grp = ktGroup, first = h, off = idx(0);
    if (G > 1) {
      first = mul(arith::DivUIOp::create(b, h, idx(G)), idx(G));
      off = mul(sub(h, first), idx(D));
    }
    for (int64_t g = 0; g < G; ++g) {
      Value dst = grp;
      if (G > 1) {
        dst = memref::SubViewOp::create(
            b, grp, ArrayRef<OpFoldResult>{b.getIndexAttr(g * D)},
            ArrayRef<OpFoldResult>{b.getIndexAttr(D)},
            ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
      }
      get(G > 1 ? add(first, idx(g)) : h, dst);
    }
    // The cache holds c·H·k (seq.hadamard); c·Hᵀ undoes it.
    if (kt->groupHeads)
      emitRowHadamard(b, grp, G * D, /*transpose=*/true, /*normalized=*/true,
                      ktBaseTmp);
    ropeInto(grp, off, D, pos, row);
  }

  /// Latent cache: head h's key before RoPE is U[h D .. h D + D, :] · c for
  /// the token's latent c, whose halves `getKeys(dst)` and `getValues(dst)`
  /// read (the key and value rows of the cache's single head).
  void readLatentKey(Value h, Value pos, Value row,
                     function_ref<void(Value)> getKeys,
                     function_ref<void(Value)> getValues) {
    int64_t r = l.headDim, D = kt->headDim;
    getKeys(sub1(ktGroup, 0, r));
    getValues(sub1(ktGroup, r, r));
    Value first = mul(h, idx(D));
    loop(D, [&](Value d) {
      Value k = reduce(idx(0), idx(2 * r), f(0.0f), [&](Value i, Value a) {
        Value u =
            memref::LoadOp::create(b, kt->basis, ValueRange{add(first, d), i});
        Value c = memref::LoadOp::create(b, ktGroup, ValueRange{i});
        return arith::AddFOp::create(b, a, arith::MulFOp::create(b, u, c, fm),
                                     fm);
      });
      memref::StoreOp::create(b, k, ktGroup, ValueRange{add(idx(2 * r), d)});
    });
    ropeInto(ktGroup, idx(2 * r), D, pos, row);
  }

  /// buf[offset .. offset + n) as a memref<n x f32>.
  Value sub1(Value buf, int64_t offset, int64_t n) {
    return memref::SubViewOp::create(
        b, buf, ArrayRef<OpFoldResult>{b.getIndexAttr(offset)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  }

  /// row[0, D) = RoPE at `pos` (kt's tables) of grp[off, off + D).
  void ropeInto(Value grp, Value off, int64_t D, Value pos, Value row) {
    auto at = [&](Value d) {
      return memref::LoadOp::create(b, grp, ValueRange{add(off, d)});
    };
    int64_t rot = kt->rope ? kt->rotaryDim : 0, half = rot / 2;
    // RoPE as seq.rope's lowering computes it (same products and sums, no
    // contraction), so that keys match the unrotated model's.
    loop(half, [&](Value i) {
      Value p = kt->half ? i : mul(i, idx(2));
      Value q = kt->half ? add(i, idx(half)) : add(p, idx(1));
      Value x = at(p), y = at(q);
      Value cs = memref::LoadOp::create(b, kt->cosTable, ValueRange{pos, i});
      Value sn = memref::LoadOp::create(b, kt->sinTable, ValueRange{pos, i});
      Value ny = arith::MulFOp::create(b, f(-1.0f), y);
      Value rp = arith::AddFOp::create(b, arith::MulFOp::create(b, x, cs),
                                       arith::MulFOp::create(b, ny, sn));
      Value rq = arith::AddFOp::create(b, arith::MulFOp::create(b, y, cs),
                                       arith::MulFOp::create(b, x, sn));
      memref::StoreOp::create(b, rp, row, ValueRange{p});
      memref::StoreOp::create(b, rq, row, ValueRange{q});
    });
    loop(idx(rot), idx(D), [&](Value d) {
      memref::StoreOp::create(b, at(d), row, ValueRange{d});
    });
  }

  /// Calls `body(j)` for every visible token j < n of head h after putting
  /// its key (or value) row in `row`.
  void forEachRow(bool keys, Value h, Value n, Value row,
                  function_ref<void(Value)> body,
                  function_ref<void(Value)> onKeyGroup = nullptr,
                  function_ref<void(Value)> quantBody = nullptr,
                  function_ref<void(Value)> onSkip = nullptr) {
    int64_t H = l.heads, D = l.headDim;
    if (l.scored) {
      Value held = arith::MinSIOp::create(b, n, idx(l.budget));
      Value slots = keys ? slotKeys() : slotValues();
      loop(idx(0), held, [&](Value j) {
        copyRow(slots, h, j, row);
        body(j);
      });
      if (!l.mixed)
        return;
      // Quantized tokens, at column budget + position.
      const KVLayout::Side &s = keys ? l.key : l.value;
      Value flags = lowFlags();
      loop(idx(0), n, [&](Value p) {
        Value flag = memref::LoadOp::create(b, flags, ValueRange{h, p});
        Value low = arith::CmpIOp::create(
            b, arith::CmpIPredicate::ne, flag,
            arith::ConstantIntOp::create(b, b.getI8Type(), 0));
        auto ifOp = scf::IfOp::create(b, low,
                                      /*withElseRegion=*/bool(onSkip));
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        dequantRow(s, h, p, row);
        body(add(idx(l.budget), p));
        if (onSkip) {
          b.setInsertionPointToStart(&ifOp.getElseRegion().front());
          onSkip(add(idx(l.budget), p));
        }
      });
      return;
    }
    // Puts head h's row of the token at position `pos` in `row`, where
    // get(side, hh, dst) reads head hh's stored key (side true) or value
    // row into dst. A latent cache's value rows are the whole latent [2r]
    // (its key rows, then its value rows, of its single head).
    auto put = [&](Value pos, function_ref<void(bool, Value, Value)> get) {
      if (kt && kt->latent()) {
        if (keys) {
          readLatentKey(
              h, pos, row, [&](Value dst) { get(true, idx(0), dst); },
              [&](Value dst) { get(false, idx(0), dst); });
        } else {
          get(true, idx(0), sub1(row, 0, D));
          get(false, idx(0), sub1(row, D, D));
        }
      } else if (keys && kt) {
        readKey(h, pos, row, [&](Value hh, Value dst) { get(true, hh, dst); });
      } else {
        get(keys, h, row);
      }
    };
    if (!l.compressed && !l.evicting) {
      Value kAll = view(l.keys, {H, l.capacity, D}, elt);
      Value vAll = view(l.values, {H, l.capacity, D}, elt);
      loop(idx(0), n, [&](Value j) {
        put(j, [&](bool side, Value hh, Value dst) {
          copyRow(side ? kAll : vAll, hh, j, dst);
        });
        body(j);
      });
      return;
    }
    Value S = idx(l.sinks);
    Value nSinks = arith::MinSIOp::create(b, n, S);
    if (l.sinks > 0)
      loop(idx(0), nSinks, [&](Value j) {
        Value kSrc = sinkKeys(), vSrc = sinkValues();
        put(j, [&](bool side, Value hh, Value dst) {
          copyRow(side ? kSrc : vSrc, hh, j, dst);
        });
        body(j);
      });
    // Visible tokens after the sinks: n - sinks (or none).
    Value after = arith::MaxSIOp::create(b, sub(n, S), idx(0));
    Value nq = arith::MinSIOp::create(b, loadHeader(1), after);
    Value kRing = ringKeys(), vRing = ringValues();
    auto ringRows = [&] {
      loop(nq, after, [&](Value i) {
        Value slot = arith::RemUIOp::create(b, i, idx(l.ringSlots));
        put(add(S, i), [&](bool side, Value hh, Value dst) {
          copyRow(side ? kRing : vRing, hh, slot, dst);
        });
        body(add(S, i));
      });
    };
    if (l.evicting) // tokens [S, S + nq) were dropped
      return ringRows();
    // Per-channel keys: the caller folds each group's scales and minima
    // into the query (onKeyGroup, at the group's first token) and takes
    // the raw codes.
    bool folded = keys && l.key.perChannel && onKeyGroup;
    loop(idx(0), nq, [&](Value i) {
      if (folded) {
        Value first = arith::CmpIOp::create(
            b, arith::CmpIPredicate::eq,
            arith::RemUIOp::create(b, i, idx(l.key.group)), idx(0));
        ifThen(first, [&] {
          onKeyGroup(arith::DivUIOp::create(b, i, idx(l.key.group)));
        });
      }
      put(add(S, i), [&](bool side, Value hh, Value dst) {
        dequantRow(side ? l.key : l.value, hh, i, dst, folded);
      });
      (folded ? quantBody : body)(add(S, i));
    });
    ringRows();
  }

  /// out[t, :, :] = attention of query row t ([T, Hq, D] f32 memrefs) over
  /// the first n tokens.
  void attend(Value query, Value out, Value t, Value n, int64_t hq, float scale,
              const AttentionScratch &scratch) {
    // A latent cache: kt's KV heads and head size; the values are summed
    // as latents (W = 2r channels) and up-projected once per query row.
    bool latent = kt && kt->latent();
    int64_t H = latent ? kt->heads : l.heads;
    int64_t D = latent ? kt->headDim : l.headDim, rep = hq / H;
    int64_t W = latent ? 2 * l.headDim : D, rowSize = std::max(D, W);
    // KV heads are independent: the loop may run on all threads
    // (seq-parallelize-loops), each head with its own scratch.
    auto headLoop = [&](function_ref<void(Value)> body) {
      if (scratch.parallel)
        parallelLoop(H, body);
      else
        loop(H, body);
    };
    headLoop([&](Value kh) {
      // Small scratch on the stack of the thread running the head (LLVM
      // then knows it aliases nothing, and vectorizes the loops over it
      // inside the outlined parallel body); heads that run in place use
      // the heap buffers of the caller.
      auto small = [&](Value heap, ArrayRef<int64_t> shape) -> Value {
        if (heap)
          return scratch.head(b, heap, kh);
        return memref::AllocaOp::create(b, MemRefType::get(shape, f32));
      };
      Value scores = scratch.head(b, scratch.scores, kh);
      Value acc = small(scratch.acc, {rep, W});
      Value row = small(scratch.row, {rowSize});
      Value stats = small(scratch.stats, {rep});
      Value qbuf = small(scratch.qbuf, {rep, D});
      Value qs = small(scratch.qs, {rep, D}), qm = small(scratch.qm, {rep});
      if (kt) {
        int64_t G = std::max<int64_t>(kt->groupHeads, 1);
        ktGroup = small(scratch.group, {latent ? W + D : G * D});
        int64_t m =
            kt->groupHeads ? seqc::factorizeHadamardOrder(G * D)->baseOrder : 1;
        ktBaseTmp = m > 1 ? small(scratch.baseTmp, {m}) : Value();
      }
      auto qHead = [&](int64_t r) { return add(mul(kh, idx(rep)), idx(r)); };
      // The group's queries, scaled, in a contiguous [rep, D] buffer (the
      // query tensor may be strided; unit stride lets the dot products
      // vectorize).
      for (int64_t r = 0; r < rep; ++r) {
        memref::StoreOp::create(b, f(-INFINITY), stats, ValueRange{idx(r)});
        Value qh = qHead(r);
        loop(D, [&](Value d) {
          Value q =
              toF32(memref::LoadOp::create(b, query, ValueRange{t, qh, d}));
          memref::StoreOp::create(b, arith::MulFOp::create(b, q, f(scale)),
                                  qbuf, ValueRange{idx(r), d});
        });
      }
      // Scores and their maximum. With per-channel key groups the scale s
      // and minimum m of a channel are shared by the group's tokens, so
      // q·(code s + m) = (q s)·code + q·m: the group's first token folds
      // them into qs and qm, and its tokens need only their codes.
      auto score = [&](Value j, Value qsrc, bool withOffset) {
        for (int64_t r = 0; r < rep; ++r) {
          Value sv = reduce(idx(0), idx(D), f(0.0f), [&](Value d, Value a) {
            Value q = memref::LoadOp::create(b, qsrc, ValueRange{idx(r), d});
            Value k = memref::LoadOp::create(b, row, ValueRange{d});
            return arith::AddFOp::create(
                b, a, arith::MulFOp::create(b, q, k, fm), fm);
          });
          if (withOffset)
            sv = arith::AddFOp::create(
                b, sv, memref::LoadOp::create(b, qm, ValueRange{idx(r)}));
          memref::StoreOp::create(b, sv, scores, ValueRange{idx(r), j});
          Value m = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
          memref::StoreOp::create(b, arith::MaximumFOp::create(b, m, sv), stats,
                                  ValueRange{idx(r)});
        }
      };
      auto foldGroup = [&](Value g) {
        const KVLayout::Side &ks = l.key;
        Value sc = scales(ks), mins = ks.asymmetric ? minima(ks) : Value();
        for (int64_t r = 0; r < rep; ++r) {
          Value off = reduce(idx(0), idx(D), f(0.0f), [&](Value d, Value a) {
            Value q = memref::LoadOp::create(b, qbuf, ValueRange{idx(r), d});
            Value s = memref::LoadOp::create(b, sc, ValueRange{kh, g, d});
            memref::StoreOp::create(b, arith::MulFOp::create(b, q, s), qs,
                                    ValueRange{idx(r), d});
            Value m =
                mins ? memref::LoadOp::create(b, mins, ValueRange{kh, g, d})
                     : symmetricMinimum(ks, s);
            return arith::AddFOp::create(
                b, a, arith::MulFOp::create(b, q, m, fm), fm);
          });
          memref::StoreOp::create(b, off, qm, ValueRange{idx(r)});
        }
      };
      if (l.compressed && l.key.perChannel && !kt)
        forEachRow(
            true, kh, n, row, [&](Value j) { score(j, qbuf, false); },
            foldGroup, [&](Value j) { score(j, qs, true); });
      else
        forEachRow(
            true, kh, n, row, [&](Value j) { score(j, qbuf, false); }, nullptr,
            nullptr,
            [&](Value j) {
              for (int64_t r = 0; r < rep; ++r)
                memref::StoreOp::create(b, f(-INFINITY), scores,
                                        ValueRange{idx(r), j});
            });
      // Softmax weights: exp(s - max) / sum.
      for (int64_t r = 0; r < rep; ++r) {
        Value m = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
        Value sum = f(0.0f);
        for (auto [lo, hi] : visibleRanges(n))
          sum = reduce(lo, hi, sum, [&](Value j, Value a) {
            Value s = memref::LoadOp::create(b, scores, ValueRange{idx(r), j});
            auto exp = math::ExpOp::create(b, arith::SubFOp::create(b, s, m));
            // Expanded to a polynomial after the lowering (see
            // runOnOperation): a call to expf per score would dominate.
            SeqDialect::SoftmaxExpAttrHelper(b.getContext())
                .setAttr(exp, b.getUnitAttr());
            Value e = exp;
            memref::StoreOp::create(b, e, scores, ValueRange{idx(r), j});
            // Reassociable, so that LLVM vectorizes the loop.
            return arith::AddFOp::create(b, a, e, fm);
          });
        Value inv = arith::DivFOp::create(b, f(1.0f), sum);
        memref::StoreOp::create(b, inv, stats, ValueRange{idx(r)});
        loop(W, [&](Value d) {
          memref::StoreOp::create(b, f(0.0f), acc, ValueRange{idx(r), d});
        });
      }
      if (l.scored)
        accumulateAttention(kh, n, scores, stats, rep);
      // Weighted sum of the values.
      forEachRow(false, kh, n, row, [&](Value j) {
        for (int64_t r = 0; r < rep; ++r) {
          Value e = memref::LoadOp::create(b, scores, ValueRange{idx(r), j});
          Value inv = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
          Value w = arith::MulFOp::create(b, e, inv);
          loop(W, [&](Value d) {
            Value v = memref::LoadOp::create(b, row, ValueRange{d});
            Value a = memref::LoadOp::create(b, acc, ValueRange{idx(r), d});
            a = arith::AddFOp::create(b, a, arith::MulFOp::create(b, w, v, fm),
                                      fm);
            memref::StoreOp::create(b, a, acc, ValueRange{idx(r), d});
          });
        }
      });
      for (int64_t r = 0; r < rep; ++r) {
        Value qh = qHead(r);
        if (latent) {
          // out = U_v[kh] · (sum_j a_j c_j).
          Value first = add(idx(H * D), mul(kh, idx(D)));
          loop(D, [&](Value d) {
            Value o = reduce(idx(0), idx(W), f(0.0f), [&](Value i, Value a) {
              Value u = memref::LoadOp::create(b, kt->basis,
                                               ValueRange{add(first, d), i});
              Value c = memref::LoadOp::create(b, acc, ValueRange{idx(r), i});
              return arith::AddFOp::create(
                  b, a, arith::MulFOp::create(b, u, c, fm), fm);
            });
            memref::StoreOp::create(b, o, out, ValueRange{t, qh, d});
          });
          continue;
        }
        loop(D, [&](Value d) {
          Value a = memref::LoadOp::create(b, acc, ValueRange{idx(r), d});
          memref::StoreOp::create(b, a, out, ValueRange{t, qh, d});
        });
      }
    });
  }

  /// How keys are read back (null: as stored).
  const KeyTransform *kt = nullptr;

private:
  /// readKey's scratch, set by attend for the head being emitted.
  Value ktGroup, ktBaseTmp;
  ImplicitLocOpBuilder &b;
  const KVLayout &l;
  Type elt, f32;
  Value state, base;
  arith::FastMathFlagsAttr fm;
};

/// A cache value's storage: the state buffer, the slot and its layout.
struct CacheRef {
  Value state, slot;
  KVLayout layout;
};

struct ConvertSeqKVToLoopsPass
    : mlir::seq::impl::ConvertSeqKVToLoopsPassBase<ConvertSeqKVToLoopsPass> {
  llvm::DenseMap<Value, CacheRef> caches;

  /// A memref view of a tensor ([T, H, D] f32 or a latent basis), for
  /// reading.
  static Value readBuffer(ImplicitLocOpBuilder &b, Value tensor) {
    auto type = cast<RankedTensorType>(tensor.getType());
    int64_t dyn = ShapedType::kDynamic;
    auto layout = StridedLayoutAttr::get(
        b.getContext(), dyn, SmallVector<int64_t>(type.getRank(), dyn));
    auto memType =
        MemRefType::get(type.getShape(), type.getElementType(), layout);
    return bufferization::ToBufferOp::create(b, memType, tensor,
                                             /*read_only=*/true);
  }

  /// The cache that `op` updates: it must be known and used by nothing after
  /// `op`.
  FailureOr<CacheRef> takeCache(Operation *op, Value cache) {
    auto it = caches.find(cache);
    if (it == caches.end())
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
  }

  LogicalResult lowerLoad(KVLoadOp op) {
    KVLayout layout;
    std::string error;
    if (!getKVLayout(op.getCache().getType(), layout, error))
      return op.emitOpError()
             << "cannot lower " << op.getCache().getType() << ": " << error;
    caches[op.getCache()] = {op.getState(), op.getSlot(), layout};
    return success();
  }

  KVEmitter emitter(ImplicitLocOpBuilder &b, const CacheRef &ref, Type elt) {
    Value base = arith::MulIOp::create(
        b, ref.slot, arith::ConstantIndexOp::create(b, ref.layout.bytes));
    return KVEmitter(b, ref.layout, elt, ref.state, base);
  }

  /// cos and sin of the RoPE angles of every position [0, capacity), as
  /// seq.rope's lowering computes them (seqc/Support/Rope.h: angle, exp and
  /// cosine in f64, then f32), in read-only globals of the module shared by
  /// every attention with the same parameters: computed once at compile time
  /// instead of n x rotaryDim / 2 f64 cosines and sines per attention call.
  static void ropeTables(ImplicitLocOpBuilder &b, ModuleOp module,
                         KeyTransform &kt, float theta, int64_t capacity) {
    int64_t half = kt.rotaryDim / 2;
    auto type = MemRefType::get({capacity, half}, b.getF32Type());
    std::string suffix = llvm::formatv("{0}x{1}_{2:x}", capacity, kt.rotaryDim,
                                       llvm::bit_cast<uint32_t>(theta));
    SymbolTable symbols(module);
    auto global = [&](StringRef kind, bool sine) -> Value {
      std::string name = ("__seqc_rope_" + kind + "_" + suffix).str();
      if (!symbols.lookup(name)) {
        std::vector<float> values =
            seqc::ropeTable(theta, kt.rotaryDim, capacity, sine);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(module.getBody());
        auto op = memref::GlobalOp::create(
            b, name, b.getStringAttr("private"), type,
            DenseElementsAttr::get(
                RankedTensorType::get({capacity, half}, b.getF32Type()),
                ArrayRef<float>(values)),
            /*constant=*/true, /*alignment=*/b.getI64IntegerAttr(64));
        symbols.insert(op);
      }
      return memref::GetGlobalOp::create(b, type, name);
    };
    kt.cosTable = global("cos", false);
    kt.sinTable = global("sin", true);
  }

  /// Lowers `attention` (and `append`, when it produced the attention's
  /// cache from the same tokens: then token t is appended right before
  /// query t attends, exactly as one step at a time would).
  LogicalResult lowerAttention(KVAttentionOp op, KVAppendOp append) {
    Value cacheIn = append ? append.getCache() : op.getCache();
    FailureOr<CacheRef> ref = takeCache(append ? append : op, cacheIn);
    if (failed(ref))
      return failure();
    if (!cast<RankedTensorType>(op.getQuery().getType())
             .getElementType()
             .isF32())
      return op.emitOpError() << "the lowering takes f32 queries";
    if (!append && ref->layout.scored)
      return op.emitOpError()
             << "over a cache that chooses its tokens by attention (evict = "
                "h2o or roco) must read the tokens just appended by a "
                "seq.kv_append of the same tokens (the lowering appends and "
                "attends one token at a time)";
    ImplicitLocOpBuilder b(op.getLoc(), op);
    KVCacheType type = op.getCache().getType();
    KVEmitter e = emitter(b, *ref, type.getElementType());
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    // Heads and head size of the attention (a latent cache's differ from
    // its own); W: channels of a value row (2r for a latent cache).
    bool latent = bool(op.getLatentBasis());
    int64_t hq = qType.getDimSize(1),
            D = latent ? qType.getDimSize(2) : type.getHeadDim();
    int64_t H = op.getKVHeads(), rep = hq / H;
    int64_t W = latent ? 2 * type.getHeadDim() : D;
    Value query = readBuffer(b, op.getQuery());
    Value T = memref::DimOp::create(b, query, 0);
    auto outType = MemRefType::get(qType.getShape(), b.getF32Type());
    SmallVector<Value> dynSizes;
    if (qType.isDynamicDim(0))
      dynSizes.push_back(T);
    Value out = memref::AllocOp::create(b, outType, dynSizes);
    Type f32 = b.getF32Type();
    auto alloc = [&](ArrayRef<int64_t> shape) -> Value {
      SmallVector<int64_t> full = {H};
      full.append(shape.begin(), shape.end());
      return memref::AllocOp::create(b, MemRefType::get(full, f32));
    };
    AttentionScratch scratch;
    // Heads in parallel when there are several and a full cache is a
    // sizeable scan (capacity x head_dim x query heads per KV head >= 2^18
    // multiply-adds per head): for small caches the dispatch per token
    // costs more (a 4 x 128 model with a 256-token context ran its
    // perplexity 30% slower with parallel heads).
    scratch.parallel =
        H > 1 && type.getCapacity() * D * rep >= (int64_t(1) << 18);
    scratch.scores = alloc({rep, ref->layout.scoreColumns()});
    if (!scratch.parallel) {
      scratch.acc = alloc({rep, W});
      scratch.row = alloc({std::max(D, W)});
      scratch.stats = alloc({rep});
      scratch.qbuf = alloc({rep, D});
      scratch.qs = alloc({rep, D});
      scratch.qm = alloc({rep});
    }
    KeyTransform kt;
    if (op.hasKeyTransform()) {
      kt.groupHeads = op.getKeyRotationHeads().value_or(0);
      int64_t G = std::max<int64_t>(kt.groupHeads, 1);
      if (latent) {
        kt.basis = readBuffer(b, op.getLatentBasis());
        kt.heads = H;
        kt.headDim = D;
      }
      if (!scratch.parallel) {
        scratch.group = alloc({latent ? W + D : G * D});
        if (kt.groupHeads) {
          int64_t m = seqc::factorizeHadamardOrder(G * D)->baseOrder;
          if (m > 1)
            scratch.baseTmp = alloc({m});
        }
      }
      if (std::optional<APFloat> theta = op.getKeyRopeTheta()) {
        kt.rope = true;
        kt.half =
            op.getKeyRopeStyle().value_or(RopeStyle::Half) == RopeStyle::Half;
        kt.rotaryDim = op.getKeyRotaryDim().value_or(D);
        ropeTables(b, op->getParentOfType<ModuleOp>(), kt,
                   theta->convertToFloat(), type.getCapacity());
      }
      e.kt = &kt;
    }
    float scale = op.getEffectiveScale();
    Value keys = append ? readBuffer(b, append.getKeys()) : Value();
    Value values = append ? readBuffer(b, append.getValues()) : Value();
    // Without a fused append the queries are the last T tokens.
    Value len0 = append ? Value() : e.loadHeader(0);
    e.loop(e.idx(0), T, [&](Value t) {
      Value n;
      if (append) {
        e.append(keys, values, t);
        n = e.loadHeader(0);
      } else {
        n = e.add(e.sub(len0, T), e.add(t, e.idx(1)));
      }
      e.attend(query, out, t, n, hq, scale, scratch);
    });
    Value result = bufferization::ToTensorOp::create(
        b, op.getOutput().getType(), out, /*restrict=*/true,
        /*writable=*/true);
    caches[op.getNewCache()] = *ref;
    op.getOutput().replaceAllUsesWith(result);
    return success();
  }

  LogicalResult lowerAppend(KVAppendOp op) {
    FailureOr<CacheRef> ref = takeCache(op, op.getCache());
    if (failed(ref))
      return failure();
    ImplicitLocOpBuilder b(op.getLoc(), op);
    KVEmitter e = emitter(b, *ref, op.getCache().getType().getElementType());
    Value keys = readBuffer(b, op.getKeys());
    Value values = readBuffer(b, op.getValues());
    Value T = memref::DimOp::create(b, keys, 0);
    e.loop(e.idx(0), T, [&](Value t) { e.append(keys, values, t); });
    caches[op.getResult()] = *ref;
    return success();
  }

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<KVLoadOp, KVLengthOp, KVAppendOp, KVAttentionOp, KVStoreOp,
              KVEmptyOp, KVEvictOp>(op))
        ops.push_back(op);
    });
    llvm::DenseSet<Operation *> fused;
    for (Operation *op : ops) {
      if (fused.contains(op))
        continue;
      LogicalResult r = success();
      if (auto load = dyn_cast<KVLoadOp>(op)) {
        r = lowerLoad(load);
      } else if (auto len = dyn_cast<KVLengthOp>(op)) {
        auto it = caches.find(len.getCache());
        if (it == caches.end()) {
          r = len.emitOpError() << "reads a cache that does not come from "
                                   "seq.kv_load";
        } else {
          ImplicitLocOpBuilder b(len.getLoc(), len);
          KVEmitter e =
              emitter(b, it->second, len.getCache().getType().getElementType());
          len.getLength().replaceAllUsesWith(e.loadHeader(0));
        }
      } else if (auto append = dyn_cast<KVAppendOp>(op)) {
        // Fused with the attention that reads its result, when that is the
        // only use and the queries are the appended tokens.
        KVAttentionOp attention;
        if (append.getResult().hasOneUse())
          attention = dyn_cast<KVAttentionOp>(*append.getResult().user_begin());
        if (attention && attention.getQuery().getType().getDimSize(0) ==
                             append.getKeys().getType().getDimSize(0)) {
          r = lowerAttention(attention, append);
          fused.insert(attention);
        } else {
          r = lowerAppend(append);
        }
      } else if (auto attention = dyn_cast<KVAttentionOp>(op)) {
        r = lowerAttention(attention, KVAppendOp());
      } else if (auto store = dyn_cast<KVStoreOp>(op)) {
        auto it = caches.find(store.getCache());
        if (it == caches.end() || it->second.state != store.getState() ||
            it->second.slot != store.getSlot())
          r = store.emitOpError()
              << "stores a cache to a slot other than the one it was loaded "
                 "from; the lowering updates caches in place";
        else if (failed(takeCache(store, store.getCache())))
          r = failure();
      } else {
        r = op->emitOpError() << "is not lowered by convert-seq-kv-to-loops";
      }
      // The first error stops the lowering: later operations would only
      // report its consequences.
      if (failed(r))
        return signalPassFailure();
    }
    // Erase in reverse order: users before producers.
    for (Operation *op : llvm::reverse(ops)) {
      op->dropAllUses();
      op->erase();
    }
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
      RewritePatternSet patterns(&getContext());
      populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
        return name == math::ExpOp::getOperationName();
      });
      GreedyRewriteConfig config;
      config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
      (void)applyOpPatternsGreedily(exps, std::move(patterns), config);
    }
  }
};

} // namespace
