//===- SplitAttention.cpp - attention split over the tokens ---------------===//
//
// Described in KVSplitAttention.h.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KVCacheToLoops/KVSplitAttention.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::seq::kv;

void KVSplitAttention::writeOutput(Value out, Value t, Value kh, int64_t r,
                                   int64_t hq, Value acc) {
  bool latent = kt && kt->latent();
  int64_t H = latent ? kt->heads : l.heads;
  int64_t D = latent ? kt->headDim : l.headDim, rep = hq / H;
  int64_t W = latent ? 2 * l.headDim : D;
  Value head0 = mul(kh, idx(rep));
  Value off = idx(r);
  Value qh = add(head0, off);
  if (latent) {
    // out = U_v[kh] · (sum_j a_j c_j).
    Value values = idx(H * D);
    Value head = mul(kh, idx(D));
    Value first = add(values, head);
    loop(D, [&](Value d) {
      Value lo = idx(0);
      Value hi = idx(W);
      Value zero = f(0.0f);
      Value o = reduce(lo, hi, zero, [&](Value i, Value a) {
        Value u =
            memref::LoadOp::create(b, kt->basis, ValueRange{add(first, d), i});
        Value c = memref::LoadOp::create(b, acc, ValueRange{idx(r), i});
        return arith::AddFOp::create(b, a, arith::MulFOp::create(b, u, c, fm),
                                     fm);
      });
      memref::StoreOp::create(b, o, out, ValueRange{t, qh, d});
    });
    return;
  }
  loop(D, [&](Value d) {
    Value a = memref::LoadOp::create(b, acc, ValueRange{idx(r), d});
    memref::StoreOp::create(b, a, out, ValueRange{t, qh, d});
  });
}

void KVSplitAttention::combine(Value out, Value t, int64_t hq,
                               const AttentionScratch &scratch) {
  bool latent = kt && kt->latent();
  int64_t H = latent ? kt->heads : l.heads, rep = hq / H;
  int64_t W = latent ? 2 * l.headDim : l.headDim, S = splits;
  parallelLoop(H * rep * W, [&](Value i) {
    Value d = arith::RemUIOp::create(b, i, idx(W));
    Value hr = arith::DivUIOp::create(b, i, idx(W));
    Value r = arith::RemUIOp::create(b, hr, idx(rep));
    Value kh = arith::DivUIOp::create(b, hr, idx(rep));
    Value first = mul(kh, idx(S));
    Value M = reduce(idx(0), idx(S), f(-INFINITY), [&](Value s, Value a) {
      Value m = memref::LoadOp::create(b, scratch.partMax,
                                       ValueRange{add(first, s), r});
      return arith::MaximumFOp::create(b, a, m);
    });
    SmallVector<Value> sums = carry(
        idx(0), idx(S), ValueRange{f(0.0f), f(0.0f)},
        [&](Value s, ValueRange a) -> SmallVector<Value> {
          Value slot = add(first, s);
          Value m =
              memref::LoadOp::create(b, scratch.partMax, ValueRange{slot, r});
          Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m,
                                             f(-INFINITY));
          Value e = math::ExpOp::create(b, arith::SubFOp::create(b, m, M));
          Value w = arith::SelectOp::create(b, none, f(0.0f), e);
          Value part =
              memref::LoadOp::create(b, scratch.partSum, ValueRange{slot, r});
          Value v =
              memref::LoadOp::create(b, scratch.acc, ValueRange{slot, r, d});
          return {arith::AddFOp::create(
                      b, a[0], arith::MulFOp::create(b, w, part, fm), fm),
                  arith::AddFOp::create(
                      b, a[1], arith::MulFOp::create(b, w, v, fm), fm)};
        });
    Value o = arith::DivFOp::create(b, sums[1], sums[0]);
    if (latent) {
      memref::StoreOp::create(b, o, scratch.combined, ValueRange{kh, r, d});
      return;
    }
    Value qh = add(mul(kh, idx(rep)), r);
    memref::StoreOp::create(b, o, out, ValueRange{t, qh, d});
  });
  if (!latent)
    return;
  parallelLoop(H, [&](Value kh) {
    Value acc = scratch.head(b, scratch.combined, kh);
    for (int64_t r = 0; r < rep; ++r)
      writeOutput(out, t, kh, r, hq, acc);
  });
}
