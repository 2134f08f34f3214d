//===- KVLoopBuilder.h - loops over a KV cache's bytes ---------*- C++ -*-===//
//
// The builder every KV lowering pattern emits through: typed views of the
// regions of one cache in its state buffer (seqc/Support/KVLayout.h), its
// header, and the scf loops the lowering is written in. Nothing here is
// specific to a target: a view is a memref.view of the state bytes at the
// cache's base offset, a loop an scf.for.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVLOOPBUILDER_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVLOOPBUILDER_H

#include "dialects/Seq/IR/SeqKVLayout.h"
#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seq::kv {

using seqc::KVLayout;

/// Emits the loops of one cache's operations. All indices are `index`.
class KVLoopBuilder {
public:
  KVLoopBuilder(ImplicitLocOpBuilder &b, const KVLayout &l, Type elt,
                Value state, Value base)
      : b(b), l(l), elt(elt), state(state), base(base) {
    f32 = b.getF32Type();
    fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                       arith::FastMathFlags::reassoc |
                                           arith::FastMathFlags::contract);
  }

  ImplicitLocOpBuilder &builder() { return b; }
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
    Value h = header();
    Value v = memref::LoadOp::create(b, h, ValueRange{idx(i)});
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  void storeHeader(int64_t i, Value v) {
    Value w = arith::IndexCastOp::create(b, b.getI64Type(), v);
    Value h = header();
    memref::StoreOp::create(b, w, h, ValueRange{idx(i)});
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

  /// for (i = lo; i < hi; ++i) body(i). `maxTrips`: the most iterations
  /// of a loop with run-time bounds (see tokenBound).
  void loop(Value lo, Value hi, function_ref<void(Value)> body,
            int64_t maxTrips = 0) {
    auto forOp = scf::ForOp::create(b, lo, hi, idx(1));
    boundTrips(forOp, maxTrips);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    body(forOp.getInductionVar());
  }
  void loop(int64_t n, function_ref<void(Value)> body) {
    Value lo = idx(0);
    Value hi = idx(n);
    loop(lo, hi, body);
  }
  /// A loop whose iterations are independent, marked for
  /// seq-parallelize-loops.
  /// Stack allocations in `body` are released at the end of each
  /// iteration.
  void parallelLoop(int64_t n, function_ref<void(Value)> body) {
    Value lo = idx(0);
    Value hi = idx(n);
    Value step = idx(1);
    auto forOp = scf::ForOp::create(b, lo, hi, step);
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
  /// A loop carrying `init` (any types): body(i, carried) returns the
  /// values of the next iteration; the results are those after the last.
  SmallVector<Value>
  carry(Value lo, Value hi, ValueRange init,
        function_ref<SmallVector<Value>(Value, ValueRange)> body,
        int64_t maxTrips = 0) {
    auto forOp = scf::ForOp::create(b, lo, hi, idx(1), init);
    boundTrips(forOp, maxTrips);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    scf::YieldOp::create(
        b, body(forOp.getInductionVar(), forOp.getRegionIterArgs()));
    return SmallVector<Value>(forOp.getResults());
  }
  /// Token splits (flash-decoding, GPU targets): an attention's tokens are
  /// dealt to `splits` invocations by blocks of `splitBlock` consecutive
  /// tokens, block k to invocation k mod splits; `split` is this
  /// invocation's. A token loop over [lo, hi) numbers its tokens u = i -
  /// base, so that every loop over the same tokens deals them alike.
  /// With one split, tokenLoop and tokenCarry are loop and carry.
  int64_t splits = 1, splitBlock = 1;
  Value split;
  /// With a bound (GPU targets), the token loops and the loops of run-time
  /// bounds inside them carry `seq.max_trips` (SeqDialect.td): a token
  /// range spans at most `tokenBound` tokens (the score columns).
  int64_t tokenBound = 0;
  void boundTrips(scf::ForOp op, int64_t maxTrips) {
    if (tokenBound && maxTrips)
      SeqDialect::MaxTripsAttrHelper(b.getContext())
          .setAttr(op, b.getI64IntegerAttr(maxTrips));
  }
  void tokenLoop(Value lo, Value hi, Value base, function_ref<void(Value)> body,
                 int64_t block = 0) {
    if (splits == 1)
      return loop(lo, hi, body, tokenBound);
    tokenCarry(lo, hi, base, {}, block,
               [&](Value i, ValueRange) -> SmallVector<Value> {
                 body(i);
                 return {};
               });
  }
  /// A token loop's base: none without splits.
  Value tokenBase(int64_t v) { return splits > 1 ? idx(v) : Value(); }
  /// carry() over this split's tokens of [lo, hi), in blocks of `block`
  /// (0: splitBlock).
  SmallVector<Value>
  tokenCarry(Value lo, Value hi, Value base, ValueRange init, int64_t block,
             function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    if (splits == 1)
      return carry(lo, hi, init, body, tokenBound);
    int64_t blk = block ? block : splitBlock;
    // Iterations: blocks of this split, then tokens of a block.
    int64_t splitTrips = llvm::divideCeil(tokenBound, blk * splits) + 1;
    Value S = idx(splits);
    // The first block k >= first with k mod splits == split.
    auto firstOwn = [&](Value first) {
      Value r = arith::RemUIOp::create(b, first, S);
      Value d = arith::RemUIOp::create(b, add(sub(split, r), S), S);
      return add(first, d);
    };
    Value ulo = sub(lo, base), uhi = sub(hi, base);
    if (blk == 1)
      return stepCarry(
          firstOwn(ulo), uhi, S, init,
          [&](Value u, ValueRange a) { return body(add(u, base), a); },
          splitTrips);
    Value B = idx(blk);
    Value k0 = firstOwn(arith::DivUIOp::create(b, ulo, B));
    Value kEnd = arith::CeilDivUIOp::create(b, uhi, B);
    return stepCarry(
        k0, kEnd, S, init,
        [&](Value k, ValueRange a) {
          Value start = mul(k, B);
          Value from = arith::MaxUIOp::create(b, ulo, start);
          Value to = arith::MinUIOp::create(b, uhi, add(start, B));
          return stepCarry(
              from, to, idx(1), a,
              [&](Value u, ValueRange c) { return body(add(u, base), c); },
              blk);
        },
        splitTrips);
  }
  /// A reduction of one f32 over this split's tokens of [lo, hi).
  Value tokenReduce(Value lo, Value hi, Value base, Value init,
                    function_ref<Value(Value, Value)> body, int64_t block = 0) {
    if (splits == 1 && !tokenBound)
      return reduce(lo, hi, init, body);
    return tokenCarry(lo, hi, base, ValueRange{init}, block,
                      [&](Value i, ValueRange a) -> SmallVector<Value> {
                        return {body(i, a[0])};
                      })[0];
  }
  /// carry() with a step (an empty `init`: a plain loop).
  SmallVector<Value>
  stepCarry(Value lo, Value hi, Value step, ValueRange init,
            function_ref<SmallVector<Value>(Value, ValueRange)> body,
            int64_t maxTrips) {
    auto forOp = scf::ForOp::create(b, lo, hi, step, init);
    boundTrips(forOp, maxTrips);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    SmallVector<Value> next =
        body(forOp.getInductionVar(), forOp.getRegionIterArgs());
    if (init.empty())
      return {};
    scf::YieldOp::create(b, next);
    return SmallVector<Value>(forOp.getResults());
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

protected:
  ImplicitLocOpBuilder &b;
  const KVLayout &l;
  Type elt, f32;
  Value state, base;
  arith::FastMathFlagsAttr fm;
};

} // namespace mlir::seq::kv

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVLOOPBUILDER_H
