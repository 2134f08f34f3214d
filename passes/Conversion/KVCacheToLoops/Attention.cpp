//===- Attention.cpp - kv_attention as a conversion pattern ---------------===//
//
// seq.kv_attention over a cache in place: per KV head, the scores of all
// its query heads, softmax, then the weighted sum of values. Each token row
// is read once into a head_dim scratch row shared by the query heads of the
// group: copied, or dequantized (KVCodec), or for the key transforms of
// the attention rotated back by groups of heads, up-projected from a
// latent, and RoPE-d at its position; bit-packed rows of caches that keep
// every token are read whole in vector registers (KVPackedAttention.h).
// The cache is never dequantized as a whole. An attention over tokens a
// kv_append has just added (the append's only use) appends them itself, one
// before each query.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HadamardRow.h"
#include "passes/Conversion/KVCacheToLoops/KVCacheToLoops.h"
#include "passes/Conversion/KVCacheToLoops/KVKeyTransform.h"
#include "passes/Conversion/KVCacheToLoops/KVSplitAttention.h"

#include "seqc/Support/Hadamard.h"
#include "seqc/Support/Rope.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

#include <numeric>

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::kv;

namespace {

/// The attention over one cache (and the append it is fused with).
class KVAttentionEmitter : public KVSplitAttention {
public:
  using KVSplitAttention::KVSplitAttention;

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
    Value past = sub(n, S);
    Value zero = idx(0);
    Value after = arith::MaxSIOp::create(b, past, zero);
    Value dropped = arith::MinSIOp::create(b, loadHeader(1), after);
    return {{idx(0), nSinks},
            {add(S, dropped), arith::MaxSIOp::create(b, n, S)}};
  }
  /// visibleRanges with the base each token loop of forEachRow numbers
  /// the range's tokens from (see KVLoopBuilder::tokenCarry): the sinks
  /// from 0, the tokens after them from `sinks`.
  SmallVector<std::tuple<Value, Value, Value>> tokenRanges(Value n) {
    SmallVector<std::tuple<Value, Value, Value>> r;
    if (splits > 1 && l.compressed && !l.evicting && l.sinks > 0) {
      Value S = idx(l.sinks);
      r.push_back({idx(0), arith::MinSIOp::create(b, n, S), idx(0)});
      r.push_back({S, arith::MaxSIOp::create(b, n, S), S});
      return r;
    }
    // Without splits the bases are unused; an evicting cache's second
    // range is the ring, after the sinks.
    for (auto [lo, hi] : visibleRanges(n)) {
      Value base;
      if (splits > 1)
        base = idx(l.evicting && !r.empty() ? l.sinks : 0);
      r.push_back({lo, hi, base});
    }
    return r;
  }
  /// Calls `body(j)` for every visible token j < n of head h after putting
  /// its key (or value) row in `row`.
  void forEachRow(bool keys, Value h, Value n, Value row,
                  function_ref<void(Value)> body,
                  function_ref<void(Value)> onKeyGroup = nullptr,
                  function_ref<void(Value)> quantBody = nullptr,
                  function_ref<void(Value)> onSkip = nullptr,
                  function_ref<void(Value)> packedRegion = nullptr) {
    int64_t H = l.heads, D = l.headDim;
    if (l.scored) {
      Value held = arith::MinSIOp::create(b, n, idx(l.budget));
      Value slots = keys ? slotKeys() : slotValues();
      tokenLoop(idx(0), held, tokenBase(0), [&](Value j) {
        copyRow(slots, h, j, row);
        body(j);
      });
      if (!l.mixed)
        return;
      // Quantized tokens, at column budget + position.
      const KVLayout::Side &s = keys ? l.key : l.value;
      Value flags = lowFlags();
      tokenLoop(idx(0), n, tokenBase(0), [&](Value p) {
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
          Value kHead = idx(0);
          Value kDst = sub1(row, 0, D);
          get(true, kHead, kDst);
          Value vHead = idx(0);
          Value vDst = sub1(row, D, D);
          get(false, vHead, vDst);
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
      tokenLoop(idx(0), n, tokenBase(0), [&](Value j) {
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
      tokenLoop(idx(0), nSinks, tokenBase(0), [&](Value j) {
        Value kSrc = sinkKeys(), vSrc = sinkValues();
        put(j, [&](bool side, Value hh, Value dst) {
          copyRow(side ? kSrc : vSrc, hh, j, dst);
        });
        body(j);
      });
    // Visible tokens after the sinks: n - sinks (or none).
    Value past = sub(n, S);
    Value zero = idx(0);
    Value after = arith::MaxSIOp::create(b, past, zero);
    Value nq = arith::MinSIOp::create(b, loadHeader(1), after);
    Value kRing = ringKeys(), vRing = ringValues();
    auto ringRows = [&] {
      tokenLoop(nq, after, tokenBase(0), [&](Value i) {
        Value slot = arith::RemUIOp::create(b, i, idx(l.ringSlots));
        put(add(S, i), [&](bool side, Value hh, Value dst) {
          copyRow(side ? kRing : vRing, hh, slot, dst);
        });
        body(add(S, i));
      });
    };
    if (l.evicting) // tokens [S, S + nq) were dropped
      return ringRows();
    // The bit-packed tokens [0, nq) as whole rows in vector registers
    // (packedRegion), or row by row through `row`.
    if (packedRegion) {
      packedRegion(nq);
      return ringRows();
    }
    // Per-channel keys: the caller folds each group's scales and minima
    // into the query (onKeyGroup, at the group's first token) and takes
    // the raw codes.
    // With splits, a split's tokens are whole blocks of whole groups.
    bool folded = keys && l.key.perChannel && onKeyGroup;
    tokenLoop(idx(0), nq, tokenBase(0), [&](Value i) {
      if (folded) {
        Value inGroup = arith::RemUIOp::create(b, i, idx(l.key.group));
        Value c0 = idx(0);
        Value first =
            arith::CmpIOp::create(b, arith::CmpIPredicate::eq, inGroup, c0);
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
    // (seq-parallelize-loops), each head with its own scratch; with splits,
    // each (head, split) pair, its scratch at `slot` = head x splits +
    // split.
    int64_t S = splits;
    auto headLoop = [&](function_ref<void(Value, Value)> body) {
      if (S > 1)
        parallelLoop(H * S, [&](Value slot) {
          split = arith::RemUIOp::create(b, slot, idx(S));
          body(arith::DivUIOp::create(b, slot, idx(S)), slot);
        });
      else if (scratch.parallel)
        parallelLoop(H, [&](Value kh) { body(kh, kh); });
      else
        loop(H, [&](Value kh) { body(kh, kh); });
    };
    headLoop([&](Value kh, Value slot) {
      // Small scratch on the stack of the thread running the head (LLVM
      // then knows it aliases nothing, and vectorizes the loops over it
      // inside the outlined parallel body); heads that run in place use
      // the heap buffers of the caller.
      auto small = [&](Value heap, ArrayRef<int64_t> shape) -> Value {
        if (heap)
          return scratch.head(b, heap, slot);
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
      auto qHead = [&](int64_t r) {
        Value head0 = mul(kh, idx(rep));
        Value off = idx(r);
        return add(head0, off);
      };
      // The group's queries, scaled, in a contiguous [rep, D] buffer (the
      // query tensor may be strided; unit stride lets the dot products
      // vectorize).
      for (int64_t r = 0; r < rep; ++r) {
        Value ninf = f(-INFINITY);
        memref::StoreOp::create(b, ninf, stats, ValueRange{idx(r)});
        Value qh = qHead(r);
        loop(D, [&](Value d) {
          Value q =
              toF32(memref::LoadOp::create(b, query, ValueRange{t, qh, d}));
          Value scaled = arith::MulFOp::create(b, q, f(scale));
          memref::StoreOp::create(b, scaled, qbuf, ValueRange{idx(r), d});
        });
      }
      // Scores and their maximum. With per-channel key groups the scale s
      // and minimum m of a channel are shared by the group's tokens, so
      // q·(code s + m) = (q s)·code + q·m: the group's first token folds
      // them into qs and qm, and its tokens need only their codes.
      auto score = [&](Value j, Value qsrc, bool withOffset) {
        for (int64_t r = 0; r < rep; ++r) {
          Value lo = idx(0);
          Value hi = idx(D);
          Value zero = f(0.0f);
          Value sv = reduce(lo, hi, zero, [&](Value d, Value a) {
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
          Value m1 = arith::MaximumFOp::create(b, m, sv);
          memref::StoreOp::create(b, m1, stats, ValueRange{idx(r)});
        }
      };
      auto foldGroup = [&](Value g) {
        const KVLayout::Side &ks = l.key;
        Value sc = scales(ks), mins = ks.asymmetric ? minima(ks) : Value();
        for (int64_t r = 0; r < rep; ++r) {
          Value lo = idx(0);
          Value hi = idx(D);
          Value zero = f(0.0f);
          Value off = reduce(lo, hi, zero, [&](Value d, Value a) {
            Value q = memref::LoadOp::create(b, qbuf, ValueRange{idx(r), d});
            Value s = memref::LoadOp::create(b, sc, ValueRange{kh, g, d});
            Value qsv = arith::MulFOp::create(b, q, s);
            memref::StoreOp::create(b, qsv, qs, ValueRange{idx(r), d});
            Value m =
                mins ? memref::LoadOp::create(b, mins, ValueRange{kh, g, d})
                     : symmetricMinimum(ks, s);
            return arith::AddFOp::create(
                b, a, arith::MulFOp::create(b, q, m, fm), fm);
          });
          memref::StoreOp::create(b, off, qm, ValueRange{idx(r)});
        }
      };
      function_ref<void(Value)> packedKeys = nullptr, packedValues = nullptr;
      auto scoreRegion = [&](Value nq) {
        scorePacked(kh, nq, qbuf, scores, stats, rep);
      };
      auto valueRegion = [&](Value nq) {
        accumulatePacked(kh, nq, scores, stats, acc, rep);
      };
      if (packedRows(true))
        packedKeys = scoreRegion;
      if (packedRows(false))
        packedValues = valueRegion;
      if (l.compressed && l.key.perChannel && !kt)
        forEachRow(
            true, kh, n, row, [&](Value j) { score(j, qbuf, false); },
            foldGroup, [&](Value j) { score(j, qs, true); }, nullptr,
            packedKeys);
      else if (packedKeys)
        forEachRow(
            true, kh, n, row, [&](Value j) { score(j, qbuf, false); }, nullptr,
            nullptr, nullptr, packedKeys);
      else
        forEachRow(
            true, kh, n, row, [&](Value j) { score(j, qbuf, false); }, nullptr,
            nullptr,
            [&](Value j) {
              for (int64_t r = 0; r < rep; ++r) {
                Value ninf = f(-INFINITY);
                memref::StoreOp::create(b, ninf, scores, ValueRange{idx(r), j});
              }
            });
      // Softmax weights: exp(s - max) / sum (a split's own maximum and sum:
      // combine() rescales them).
      for (int64_t r = 0; r < rep; ++r) {
        Value m = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
        Value sum = f(0.0f);
        for (auto [lo, hi, base] : tokenRanges(n))
          sum = tokenReduce(lo, hi, base, sum, [&](Value j, Value a) {
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
        if (S > 1) {
          Value part[] = {slot, idx(r)};
          memref::StoreOp::create(b, m, scratch.partMax, part);
          memref::StoreOp::create(b, sum, scratch.partSum, part);
          memref::StoreOp::create(b, f(1.0f), stats, ValueRange{idx(r)});
        } else {
          Value inv = arith::DivFOp::create(b, f(1.0f), sum);
          memref::StoreOp::create(b, inv, stats, ValueRange{idx(r)});
        }
        loop(W, [&](Value d) {
          Value zero = f(0.0f);
          memref::StoreOp::create(b, zero, acc, ValueRange{idx(r), d});
        });
      }
      if (l.scored)
        accumulateAttention(kh, n, scores, stats, rep);
      // Weighted sum of the values.
      forEachRow(
          false, kh, n, row,
          [&](Value j) {
            for (int64_t r = 0; r < rep; ++r) {
              Value e =
                  memref::LoadOp::create(b, scores, ValueRange{idx(r), j});
              Value inv = memref::LoadOp::create(b, stats, ValueRange{idx(r)});
              Value w = arith::MulFOp::create(b, e, inv);
              loop(W, [&](Value d) {
                Value v = memref::LoadOp::create(b, row, ValueRange{d});
                Value a = memref::LoadOp::create(b, acc, ValueRange{idx(r), d});
                a = arith::AddFOp::create(
                    b, a, arith::MulFOp::create(b, w, v, fm), fm);
                memref::StoreOp::create(b, a, acc, ValueRange{idx(r), d});
              });
            }
          },
          nullptr, nullptr, nullptr, packedValues);
      if (S > 1)
        return;
      for (int64_t r = 0; r < rep; ++r)
        writeOutput(out, t, kh, r, hq, acc);
    });
    if (S > 1)
      combine(out, t, hq, scratch);
  }
};

/// seq.kv_attention: per query row t, attend over the first n tokens (n
/// the cache's length after the fused append of token t, or the queries
/// are its last T tokens). The output is a fresh buffer, returned as a
/// tensor; the cache's storage is unchanged (updated in place).
struct KVAttentionLowering : OpConversionPattern<KVAttentionOp> {
  KVAttentionLowering(TypeConverter &converter, MLIRContext *context,
                      bool parallelHeads, int64_t splits)
      : OpConversionPattern(converter, context), parallelHeads(parallelHeads),
        splits(splits) {}
  /// Every heads' loop parallel, with heap scratch (GPU targets).
  bool parallelHeads;
  /// Token splits per KV head with parallel heads (0: by capacity).
  int64_t splits;

  /// The splits of a head's tokens and the block they are dealt by: whole
  /// groups of per-channel codes where a group is read as one (keys folded
  /// into the query by group, bit-packed rows by group); `packedValues`:
  /// the value rows are read whole (KVPackedAttention::packedRows).
  /// A scored cache's eviction needs every token's normalized weight in
  /// one place: no splits. Otherwise one block of a full cache per split
  /// up to 64 splits, and past that 64 tokens per split: the combine reads
  /// every split's partial results for each output channel, cheap next to
  /// the scan, and a scan of 64 tokens keeps a thread's loops short.
  std::pair<int64_t, int64_t> splitsFor(const KVLayout &l, int64_t capacity,
                                        bool keyTransform,
                                        bool packedValues) const {
    if (!parallelHeads || l.scored)
      return {1, 1};
    int64_t block = 1;
    if (l.compressed) {
      if (l.key.perChannel && !keyTransform)
        block = std::lcm(block, l.key.group);
      if (l.value.perChannel && packedValues)
        block = std::lcm(block, l.value.group);
    }
    if (splits)
      return {splits, block};
    int64_t blocks = llvm::divideCeil(capacity, block);
    int64_t most = std::max<int64_t>(64, capacity / 64);
    return {
        std::max<int64_t>(1, llvm::bit_floor(uint64_t(std::min(blocks, most)))),
        block};
  }

  LogicalResult
  matchAndRewrite(KVAttentionOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto append = op.getCache().getDefiningOp<KVAppendOp>();
    if (append && fusedAttention(append) != op)
      append = {};
    std::string error;
    FailureOr<KVStorage> ref =
        getKVStorage(op.getCache().getType(), adaptor.getCache(), error);
    if (failed(ref))
      return rewriter.notifyMatchFailure(op, error);
    if (!op.getQuery().getType().getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "the lowering takes f32 queries");
    if (!append && ref->layout.scored)
      return rewriter.notifyMatchFailure(
          op, "a scored cache is attended only with the append of the same "
              "tokens");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    KVCacheType type = op.getCache().getType();
    KVAttentionEmitter e(b, ref->layout, type.getElementType(), ref->state,
                         cacheBase(b, *ref));
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
    // GPU targets: always parallel, the heads' scratch on the heap (a
    // kernel has no stack to speak of).
    scratch.parallel =
        parallelHeads ||
        (H > 1 && type.getCapacity() * D * rep >= (int64_t(1) << 18));
    bool heap = parallelHeads || !scratch.parallel;
    const KVLayout &layout = ref->layout;
    bool packedValues = !latent && layout.compressed && !layout.evicting &&
                        e.wholeRows(layout.value);
    std::tie(e.splits, e.splitBlock) = splitsFor(
        layout, type.getCapacity(), op.hasKeyTransform(), packedValues);
    if (parallelHeads)
      e.tokenBound = ref->layout.scoreColumns();
    // Scores by head (the splits' columns are disjoint); the small buffers
    // by head and split.
    scratch.scores = alloc({rep, ref->layout.scoreColumns()});
    auto allocSplit = [&](ArrayRef<int64_t> shape) -> Value {
      SmallVector<int64_t> full = {H * e.splits};
      full.append(shape.begin(), shape.end());
      return memref::AllocOp::create(b, MemRefType::get(full, f32));
    };
    if (heap) {
      scratch.acc = allocSplit({rep, W});
      scratch.row = allocSplit({std::max(D, W)});
      scratch.stats = allocSplit({rep});
      scratch.qbuf = allocSplit({rep, D});
      scratch.qs = allocSplit({rep, D});
      scratch.qm = allocSplit({rep});
    }
    if (e.splits > 1) {
      scratch.partMax = allocSplit({rep});
      scratch.partSum = allocSplit({rep});
      if (latent)
        scratch.combined = alloc({rep, W});
    }
    KeyTransform kt;
    if (KeyFormAttr form = op.getKeyForm()) {
      kt.groupHeads = form.getRotationHeads();
      int64_t G = std::max<int64_t>(kt.groupHeads, 1);
      if (latent) {
        kt.basis = readBuffer(b, op.getLatentBasis());
        kt.heads = H;
        kt.headDim = D;
      }
      if (heap) {
        scratch.group = allocSplit({latent ? W + D : G * D});
        if (kt.groupHeads) {
          int64_t m = seqc::factorizeHadamardOrder(G * D)->baseOrder;
          if (m > 1)
            scratch.baseTmp = allocSplit({m});
        }
      }
      if (form.hasRope()) {
        float theta = form.getRopeTheta().getValue().convertToFloat();
        kt.rope = true;
        kt.half = form.getRopeStyle() == RopeStyle::Half;
        kt.rotaryDim = form.getRotaryDimOr(D);
        // GPU kernels bind no module globals: the angles in the kernel.
        if (parallelHeads)
          kt.ropeStep = seqc::ropeExponentStep(theta, kt.rotaryDim);
        else
          ropeTables(b, op->getParentOfType<ModuleOp>(), kt, theta,
                     type.getCapacity());
      }
      e.kt = &kt;
    }
    float scale = op.getEffectiveScale();
    Value keys = append ? readBuffer(b, append.getKeys()) : Value();
    Value values = append ? readBuffer(b, append.getValues()) : Value();
    // Without a fused append the queries are the last T tokens.
    Value len0 = append ? Value() : e.loadHeader(0);
    auto query1 = [&](Value t) {
      Value n;
      if (append) {
        e.append(keys, values, t);
        n = e.loadHeader(0);
      } else {
        Value first = e.sub(len0, T);
        Value next = e.add(t, e.idx(1));
        n = e.add(first, next);
      }
      e.attend(query, out, t, n, hq, scale, scratch);
    };
    // With parallel heads a known number of queries one after another, so
    // that each query's heads are a parallel loop outside any other loop
    // (one kernel per query on a GPU, not one thread for all of them).
    if (parallelHeads && !qType.isDynamicDim(0))
      for (int64_t t = 0; t < qType.getDimSize(0); ++t)
        query1(e.idx(t));
    else
      e.loop(e.idx(0), T, query1);
    Value result = bufferization::ToTensorOp::create(
        b, op.getOutput().getType(), out, /*restrict=*/true,
        /*writable=*/true);
    SmallVector<SmallVector<Value>> replacements = {
        {result}, llvm::to_vector(adaptor.getCache())};
    rewriter.replaceOpWithMultiple(op, replacements);
    return success();
  }
};

} // namespace

void mlir::seq::populateKVAttentionPatterns(TypeConverter &converter,
                                            RewritePatternSet &patterns,
                                            bool parallelHeads,
                                            int64_t splits) {
  patterns.add<KVAttentionLowering>(converter, patterns.getContext(),
                                    parallelHeads, splits);
}
