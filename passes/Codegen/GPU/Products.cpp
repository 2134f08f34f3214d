//===- Products.cpp - the model's products as workgroup reductions -------===//
//
// The greedy GPU mapping gives a matrix product's output elements to
// threads and leaves each thread the whole reduction: one thread walks a
// weight row alone, its neighbours walk other rows, so a warp's loads are
// a row apart (uncoalesced) and a decode step of a 2048-wide model has too
// few threads to fill a GPU. seq-gpu-products gives each output element a
// workgroup instead, as the hand-written decode kernels do
// (lib/Target/GPU/kernels/decode.mlir): its 64 threads take every 64th
// reduction index, so neighbouring threads read neighbouring weights, then
// add their partial sums by a tree in workgroup memory. The body of the
// product is the model's own (f32, f16 or int8 weights, q4 nibbles with
// their group scales), cloned into the loop: the pass needs only that the
// product adds a term to its output (linalg.yield of arith.addf with the
// output), which is how every product of the model pipeline is written
// and which the `reassoc` the products carry allows to reorder.
//
// Before bufferization, seq-gpu-fuse-elementwise fuses elementwise producers
// into their consumers except into products: fused there, a token-shift
// mix would be recomputed for every output row.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "dialects/Seq/IR/SeqDialect.h"

#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUPRODUCTSPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Threads of a product's workgroup (a power of two: the tree halves it).
constexpr int64_t kThreads = 64;
/// Tokens of a prefill product one workgroup computes (8, or 4 or 2 when
/// the token count is not a multiple of 8).
constexpr int64_t kTokenTile = 8;

/// The term a product adds to its output: the operand of the yielded
/// arith.addf that is not the output, when the output is used by nothing
/// else.
Value productTerm(linalg::GenericOp op, arith::AddFOp &add) {
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  if (yield.getNumOperands() != 1)
    return nullptr;
  add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument out = op.getBody()->getArguments().back();
  if (!add || !out.hasOneUse())
    return nullptr;
  if (add.getLhs() == out)
    return add.getRhs();
  if (add.getRhs() == out)
    return add.getLhs();
  return nullptr;
}

struct GPUProductsPass
    : public seq::impl::SeqGPUProductsPassBase<GPUProductsPass> {
  using Base::Base;

  /// Whether `op` is a product this pass lowers: static, on buffers, two
  /// parallel dimensions and one reduction, one output it adds a term to.
  static bool matches(linalg::GenericOp op) {
    if (!op->hasAttr("seq.parallel") || !op.hasPureBufferSemantics() ||
        op.getNumDpsInits() != 1 || op.getNumLoops() != 3 ||
        op.getNumReductionLoops() != 1)
      return false;
    for (int64_t n : op.getStaticLoopRanges())
      if (ShapedType::isDynamic(n))
        return false;
    auto out = dyn_cast<MemRefType>(op.getDpsInitOperand(0)->get().getType());
    arith::AddFOp add;
    return out && out.getElementType().isF32() && productTerm(op, add);
  }

  void lower(linalg::GenericOp op) {
    MLIRContext *ctx = &getContext();
    Location loc = op.getLoc();
    OpBuilder b(op);
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    unsigned reduction = 0;
    SmallVector<unsigned> parallel;
    for (auto [d, it] : llvm::enumerate(iterators))
      if (it == utils::IteratorType::reduction)
        reduction = d;
      else
        parallel.push_back(d);
    arith::AddFOp add;
    Value term = productTerm(op, add);

    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    Value c0 = index(0), c1 = index(1);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    auto identity = AffineMap::getMultiDimIdentityMap(1, ctx);
    auto mapping = [&](gpu::Processor p) {
      return gpu::ParallelLoopDimMappingAttr::get(ctx, p, identity, identity);
    };
    // Indices of an operand at the loops' induction variables.
    auto indices = [&](OpBuilder &ib, AffineMap map, ArrayRef<Value> ivs) {
      SmallVector<Value> out;
      for (AffineExpr e : map.getResults()) {
        if (auto dim = dyn_cast<AffineDimExpr>(e))
          out.push_back(ivs[dim.getPosition()]);
        else
          out.push_back(affine::AffineApplyOp::create(
              ib, loc, AffineMap::get(map.getNumDims(), 0, e), ivs));
      }
      return out;
    };

    // The tokens' dimension: the parallel dimension the largest input (the
    // weight matrix) does not index. A workgroup computes `tile`
    // consecutive tokens of it, so each weight it loads serves them all
    // (prefill); a step's products have one token and keep tile 1.
    unsigned tokenDim = parallel[0];
    int64_t tile = 1;
    OpOperand *weights = nullptr;
    int64_t most = 0;
    for (OpOperand *in : op.getDpsInputOperands())
      if (auto type = dyn_cast<MemRefType>(in->get().getType());
          type && type.hasStaticShape() && type.getNumElements() > most) {
        most = type.getNumElements();
        weights = in;
      }
    for (unsigned p : parallel)
      if (weights && !op.getMatchingIndexingMap(weights).isFunctionOfDim(p)) {
        tokenDim = p;
        for (int64_t t : {kTokenTile, kTokenTile / 2, kTokenTile / 4})
          if (t > 1 && ranges[p] % t == 0) {
            tile = t;
            break;
          }
        break;
      }
    auto gridRange = [&](unsigned d) {
      return index(d == tokenDim ? ranges[d] / tile : ranges[d]);
    };

    // A workgroup per output element (or tile of tokens).
    auto outer = scf::ParallelOp::create(
        b, loc, ValueRange{c0, c0},
        ValueRange{gridRange(parallel[0]), gridRange(parallel[1])},
        ValueRange{c1, c1});
    (void)gpu::setMappingAttr(outer, {mapping(gpu::Processor::BlockX),
                                      mapping(gpu::Processor::BlockY)});
    b.setInsertionPointToStart(outer.getBody());
    auto workgroup =
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    Value partial = memref::AllocOp::create(
        b, loc,
        MemRefType::get({tile * kThreads}, b.getF32Type(),
                        MemRefLayoutAttrInterface(), workgroup));
    auto inner = scf::ParallelOp::create(
        b, loc, ValueRange{c0}, ValueRange{index(kThreads)}, ValueRange{c1});
    (void)gpu::setMappingAttr(inner, {mapping(gpu::Processor::ThreadX)});
    b.setInsertionPointToStart(inner.getBody());
    Value t = inner.getInductionVars()[0];

    // The loops' indices for token r of the tile.
    SmallVector<Value> ivs(3);
    ivs[parallel[0]] = outer.getInductionVars()[0];
    ivs[parallel[1]] = outer.getInductionVars()[1];
    SmallVector<SmallVector<Value>> tokenIvs(tile, ivs);
    if (tile > 1) {
      Value base = arith::MulIOp::create(b, loc, ivs[tokenDim], index(tile));
      for (int64_t r = 0; r < tile; ++r)
        tokenIvs[r][tokenDim] =
            r ? arith::AddIOp::create(b, loc, base, index(r)).getResult()
              : base;
    }
    // Where partial sum r of thread `thread` lives.
    auto slot = [&](OpBuilder &ib, Location l, int64_t r, Value thread) {
      return r ? arith::AddIOp::create(ib, l, thread, index(r * kThreads))
                     .getResult()
               : thread;
    };

    // Each thread sums the terms of every kThreads-th reduction index, for
    // each token of the tile. What does not depend on the token (the
    // weight, its dequantization) is computed once.
    SmallVector<Value> zeros(tile, zero);
    auto loop = scf::ForOp::create(
        b, loc, t, index(ranges[reduction]), index(kThreads), zeros,
        [&](OpBuilder &lb, Location l, Value k, ValueRange acc) {
          SmallVector<IRMapping> maps(tile);
          DenseSet<Value> shared;
          auto at = [&](int64_t r) {
            SmallVector<Value> v = tokenIvs[r];
            v[reduction] = k;
            return v;
          };
          for (OpOperand *input : op.getDpsInputOperands()) {
            AffineMap m = op.getMatchingIndexingMap(input);
            BlockArgument arg = op.getMatchingBlockArgument(input);
            bool perToken = tile > 1 && m.isFunctionOfDim(tokenDim);
            for (int64_t r = 0; r < tile; ++r) {
              if (r && !perToken) {
                maps[r].map(arg, maps[0].lookup(arg));
                continue;
              }
              maps[r].map(arg, memref::LoadOp::create(lb, l, input->get(),
                                                      indices(lb, m, at(r))));
            }
            if (!perToken)
              shared.insert(arg);
          }
          for (Operation &inner : op.getBody()->without_terminator()) {
            if (&inner == add.getOperation())
              continue;
            if (auto idx = dyn_cast<linalg::IndexOp>(inner)) {
              for (int64_t r = 0; r < tile; ++r)
                maps[r].map(idx.getResult(), at(r)[idx.getDim()]);
              if (idx.getDim() != tokenDim || tile == 1)
                shared.insert(idx.getResult());
              continue;
            }
            bool once = llvm::all_of(inner.getOperands(), [&](Value v) {
              return shared.contains(v) ||
                     v.getParentRegion() != &op.getRegion();
            });
            for (int64_t r = 0; r < tile; ++r) {
              if (r && once) {
                for (Value res : inner.getResults())
                  maps[r].map(res, maps[0].lookup(res));
                continue;
              }
              lb.clone(inner, maps[r]);
            }
            if (once)
              shared.insert(inner.getResults().begin(),
                            inner.getResults().end());
          }
          SmallVector<Value> sums;
          for (int64_t r = 0; r < tile; ++r)
            sums.push_back(arith::AddFOp::create(lb, l, acc[r],
                                                 maps[r].lookupOrDefault(term),
                                                 add.getFastmathAttr()));
          scf::YieldOp::create(lb, l, sums);
        });
    if (subgroupReduce) {
      // Each subgroup adds its threads' sums in registers; its first
      // thread puts the subgroup's sum at partial[r * kThreads + subgroup]
      // and thread 0 adds the subgroups' (however many the device makes of
      // kThreads threads): one barrier instead of the tree's.
      SmallVector<Value> sums;
      for (int64_t r = 0; r < tile; ++r)
        sums.push_back(gpu::SubgroupReduceOp::create(
            b, loc, loop.getResult(r), gpu::AllReduceOperation::ADD,
            /*uniform=*/false));
      Value lane = gpu::LaneIdOp::create(b, loc, /*upperBound=*/nullptr);
      Value leader =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, c0);
      scf::IfOp::create(b, loc, leader, [&](OpBuilder &ib, Location il) {
        Value sg = gpu::SubgroupIdOp::create(
            ib, il, /*upperBound=*/ib.getIndexAttr(kThreads));
        for (int64_t r = 0; r < tile; ++r)
          memref::StoreOp::create(ib, il, sums[r], partial,
                                  slot(ib, il, r, sg));
        scf::YieldOp::create(ib, il);
      });
      gpu::BarrierOp::create(b, loc);
    } else {
      for (int64_t r = 0; r < tile; ++r)
        memref::StoreOp::create(b, loc, loop.getResult(r), partial,
                                slot(b, loc, r, t));
      gpu::BarrierOp::create(b, loc);
      // The tree: halving strides, a barrier after each step.
      auto tree = scf::ForOp::create(
          b, loc, c0, index(llvm::Log2_64(kThreads)), c1,
          ValueRange{index(kThreads / 2)},
          [&](OpBuilder &lb, Location l, Value, ValueRange stride) {
            Value active = arith::CmpIOp::create(
                lb, l, arith::CmpIPredicate::ult, t, stride[0]);
            scf::IfOp::create(lb, l, active, [&](OpBuilder &ib, Location il) {
              Value other = arith::AddIOp::create(ib, il, t, stride[0]);
              for (int64_t r = 0; r < tile; ++r) {
                Value mine = slot(ib, il, r, t);
                Value a = memref::LoadOp::create(ib, il, partial, mine);
                Value c = memref::LoadOp::create(ib, il, partial,
                                                 slot(ib, il, r, other));
                memref::StoreOp::create(
                    ib, il, arith::AddFOp::create(ib, il, a, c), partial, mine);
              }
              scf::YieldOp::create(ib, il);
            });
            gpu::BarrierOp::create(lb, l);
            Value half = arith::DivUIOp::create(lb, l, stride[0], index(2));
            scf::YieldOp::create(lb, l, half);
          });
      (void)tree;
    }
    // Thread 0's total for token r of the tile: the subgroups' sums
    // (however many the device makes of kThreads threads, at most kThreads
    // of one thread each), or the tree's root.
    auto total = [&](OpBuilder &ib, Location il, int64_t r) -> Value {
      if (!subgroupReduce)
        return memref::LoadOp::create(ib, il, partial,
                                      r ? index(r * kThreads) : c0);
      Value n = gpu::NumSubgroupsOp::create(
          ib, il, /*upperBound=*/ib.getIndexAttr(kThreads));
      Value zeroF = arith::ConstantOp::create(ib, il, ib.getF32FloatAttr(0.0f));
      auto sum = scf::ForOp::create(
          ib, il, c0, n, c1, ValueRange{zeroF},
          [&](OpBuilder &fb, Location fl, Value i, ValueRange a) {
            Value v =
                memref::LoadOp::create(fb, fl, partial, slot(fb, fl, r, i));
            scf::YieldOp::create(
                fb, fl, ValueRange{arith::AddFOp::create(fb, fl, a[0], v)});
          });
      seq::SeqDialect::MaxTripsAttrHelper(ctx).setAttr(
          sum, ib.getI64IntegerAttr(kThreads));
      return sum.getResult(0);
    };
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t, c0);
    scf::IfOp::create(b, loc, first, [&](OpBuilder &ib, Location il) {
      OpOperand *init = op.getDpsInitOperand(0);
      for (int64_t r = 0; r < tile; ++r) {
        SmallVector<Value> at =
            indices(ib, op.getMatchingIndexingMap(init), tokenIvs[r]);
        Value old = memref::LoadOp::create(ib, il, init->get(), at);
        memref::StoreOp::create(ib, il,
                                arith::AddFOp::create(ib, il, old,
                                                      total(ib, il, r),
                                                      add.getFastmathAttr()),
                                init->get(), at);
      }
      scf::YieldOp::create(ib, il);
    });
    op.erase();
  }

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> products;
    getOperation().walk([&](linalg::GenericOp op) {
      if (matches(op))
        products.push_back(op);
    });
    for (linalg::GenericOp op : products)
      lower(op);
  }
};

} // namespace
