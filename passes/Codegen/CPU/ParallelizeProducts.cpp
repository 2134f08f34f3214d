//===- ParallelizeProducts.cpp - marked linalg products to scf.parallel ---===//
//
// The generic part of the CPU products: which products run on all threads,
// tiles of prefill products, reductions into register accumulators. Int8
// and group products (q4 .. q8, q4k) go to the integer kernels of
// X86Int8Kernels.cpp and X86Q4Kernels.cpp when asked.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/Passes.h"
#include "passes/Codegen/CPU/ProductTiles.h"
#include "passes/Codegen/CPU/X86Int8Kernels.h"
#include "passes/Codegen/CPU/X86Q4Kernels.h"

#include "dialects/Seq/IR/SeqDialect.h"
#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQPARALLELIZEPRODUCTSPASS
#include "passes/Codegen/CPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;
using namespace mlir::seq::cpu;

bool seq::cpu::isTiled(std::optional<int64_t> rows,
                       std::optional<int64_t> tokens) {
  return rows && *rows >= kTileRows && (!tokens || *tokens >= kTileTokens);
}

void seq::cpu::parallelTiles(RewriterBase &rewriter, Location loc, int64_t rows,
                             Value T, TileFn tile) {
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  auto loops = [&](Value n0, Value n1, Value t0, Value t1, int64_t nr,
                   int64_t tr) {
    scf::ParallelOp::create(rewriter, loc, ValueRange{n0, t0},
                            ValueRange{n1, t1}, ValueRange{cst(nr), cst(tr)},
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              tile(b, l, ivs[0], ivs[1], nr, tr);
                            });
  };
  Value tileT = arith::SubIOp::create(
      rewriter, loc, T,
      arith::RemUIOp::create(rewriter, loc, T, cst(kTileTokens)));
  int64_t tileN = rows / kTileRows * kTileRows;
  Value tileN0 = cst(0);
  Value tileN1 = cst(tileN);
  // The whole tiles in blocks of kBlockTokens tokens, one after the other:
  // a block's activations stay in the cache while every row reads them
  // (a 2048-token prompt in one block re-read its 4 MiB of activations
  // from memory for each pair of rows, and ran at 0.53x the speed of the
  // same prompt fed in 128-token calls).
  auto blocks =
      scf::ForOp::create(rewriter, loc, cst(0), tileT, cst(kBlockTokens));
  {
    OpBuilder::InsertionGuard g(rewriter);
    rewriter.setInsertionPointToStart(blocks.getBody());
    Value t0 = blocks.getInductionVar();
    Value t1 = arith::MinUIOp::create(
        rewriter, loc,
        arith::AddIOp::create(rewriter, loc, t0, cst(kBlockTokens)), tileT);
    loops(tileN0, tileN1, t0, t1, kTileRows, kTileTokens);
  }
  Value tailN0 = cst(0);
  Value tailN1 = cst(rows);
  loops(tailN0, tailN1, tileT, T, 1, 1);
  if (tileN < rows) {
    Value edgeN0 = cst(tileN);
    Value edgeN1 = cst(rows);
    Value edgeT0 = cst(0);
    loops(edgeN0, edgeN1, edgeT0, tileT, 1, 1);
  }
}

void seq::cpu::prefetchRowsAhead(OpBuilder &b, Location l, ValueRange weights,
                                 Value n) {
  // The arrays with static contiguous rows, and their elements a row and
  // a 64-byte line.
  SmallVector<std::tuple<Value, int64_t, int64_t>> rows;
  int64_t rowBytes = 0;
  for (Value w : weights) {
    auto type = dyn_cast<MemRefType>(w.getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (!type || type.getRank() != 2 || type.isDynamicDim(1) ||
        !type.getElementType().isIntOrFloat() ||
        failed(type.getStridesAndOffset(strides, offset)) || strides[1] != 1)
      continue;
    int64_t bits = type.getElementTypeBitWidth();
    rows.emplace_back(w, type.getDimSize(1), std::max<int64_t>(1, 512 / bits));
    rowBytes += type.getDimSize(1) * bits / 8;
  }
  if (rowBytes <= 0)
    return;
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, l, v);
  };
  int64_t ahead = std::max<int64_t>(1, kPrefetchBytes / rowBytes);
  Value first = std::get<0>(rows.front());
  Value last = arith::SubIOp::create(
      b, l, memref::DimOp::create(b, l, first, 0), cst(1));
  Value row = arith::MinUIOp::create(
      b, l, arith::AddIOp::create(b, l, n, cst(ahead)), last);
  for (auto [w, cols, perLine] : rows)
    for (int64_t col = 0; col < cols; col += perLine)
      memref::PrefetchOp::create(b, l, w, ValueRange{row, cst(col)},
                                 /*isWrite=*/false, /*localityHint=*/2,
                                 /*isDataCache=*/true);
}

std::optional<bool> seq::cpu::decodeOnAllThreads(linalg::GenericOp op,
                                                 int64_t minDecodeElements) {
  if (op.getNumDpsInputs() == 0)
    return std::nullopt;
  auto x = dyn_cast<ShapedType>(op.getDpsInputs()[0].getType());
  if (!x || !x.hasRank() || x.getRank() != 2 || x.getDimSize(0) != 1)
    return std::nullopt;
  auto w = op.getDpsInputs().size() > 1
               ? dyn_cast<ShapedType>(op.getDpsInputs()[1].getType())
               : ShapedType();
  // Group weights other than q8's hold two codes a byte.
  int64_t elements = w && w.hasStaticShape() ? w.getNumElements() : 0;
  if (auto format = seq::matchGroupProduct(op);
      format && *format != seq::GroupFormat::Q8)
    elements *= 2;
  return minDecodeElements > 0 && elements >= minDecodeElements;
}

namespace {

/// `op` as loops over its parallel dimensions — one scf.parallel when
/// `parallel`, nested scf.for otherwise — with the trailing reduction as an
/// inner scf.for that carries the accumulator in a register (loaded from the
/// output once, stored once): LLVM then vectorizes the dot product (given
/// reassociation), which an accumulator kept in memory prevents. Fails
/// (leaving `op`) unless the iterators are parallel loops then one
/// reduction, the single output does not depend on the reduction and every
/// indexing map is a projected permutation.
static LogicalResult toReductionLoops(RewriterBase &rewriter,
                                      linalg::GenericOp op, bool parallel,
                                      bool prefetch) {
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  unsigned nLoops = iters.size();
  if (nLoops < 2 || iters.back() != utils::IteratorType::reduction ||
      op.getNumDpsInits() != 1)
    return failure();
  for (unsigned i = 0; i + 1 < nLoops; ++i)
    if (iters[i] != utils::IteratorType::parallel)
      return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap m : maps)
    if (!m.isProjectedPermutation())
      return failure();
  if (maps.back().isFunctionOfDim(nLoops - 1))
    return failure();

  Location loc = op.getLoc();
  SmallVector<Range, 4> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(rewriter, loc);
  auto value = [&](OpFoldResult r) {
    return getValueOrCreateConstantIndexOp(rewriter, loc, r);
  };
  SmallVector<Value> lbs, ubs, steps;
  for (unsigned i = 0; i + 1 < nLoops; ++i) {
    lbs.push_back(value(ranges[i].offset));
    ubs.push_back(value(ranges[i].size));
    steps.push_back(value(ranges[i].stride));
  }
  auto indices = [&](AffineMap m, ValueRange ivs) {
    SmallVector<Value> idx;
    for (AffineExpr e : m.getResults())
      idx.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
    return idx;
  };
  Value out = op.getDpsInits()[0];
  Block *body = op.getBody();
  // The outputs at `par` plus (r, j) for r < nr along the first parallel
  // dimension and j < tr along the last: one reduction loop carrying all
  // their accumulators, so that each input element the outputs share is
  // loaded once (a prefill product's weight element serves `tr` tokens,
  // a token's activation `nr` rows).
  auto reduceTile = [&](OpBuilder &b, Location l, ValueRange par, int64_t nr,
                        int64_t tr) {
    unsigned last = par.size() - 1;
    SmallVector<SmallVector<Value>> outIvs;
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t j = 0; j < tr; ++j) {
        SmallVector<Value> ivs(par.begin(), par.end());
        if (r)
          ivs[0] = arith::AddIOp::create(
              b, l, ivs[0], arith::ConstantIndexOp::create(b, l, r));
        if (j)
          ivs[last] = arith::AddIOp::create(
              b, l, ivs[last], arith::ConstantIndexOp::create(b, l, j));
        ivs.push_back(Value()); // the reduction index: unused
        outIvs.push_back(ivs);
      }
    // One output at a time (decode): the weights, the inputs indexed by the
    // first loop (the output row) and the reduction, are prefetched ahead.
    if (prefetch && nr * tr == 1 && nLoops == 3) {
      SmallVector<Value> weights;
      for (OpOperand *in : op.getDpsInputOperands()) {
        AffineMap m = maps[in->getOperandNumber()];
        if (m.getNumResults() == 2 && m.getDimPosition(0) == 0 &&
            m.getDimPosition(1) == nLoops - 1)
          weights.push_back(in->get());
      }
      prefetchRowsAhead(b, l, weights, par[0]);
    }
    SmallVector<Value> inits;
    for (auto &ivs : outIvs)
      inits.push_back(
          memref::LoadOp::create(b, l, out, indices(maps.back(), ivs)));
    Value lb = value(ranges.back().offset);
    Value ub = value(ranges.back().size);
    Value step = value(ranges.back().stride);
    auto red = scf::ForOp::create(
        b, l, lb, ub, step, inits,
        [&](OpBuilder &fb, Location fl, Value k, ValueRange acc) {
          SmallVector<Value> results;
          for (auto [i, outIv] : llvm::enumerate(outIvs)) {
            SmallVector<Value> ivs(outIv.begin(), outIv.end());
            ivs.back() = k;
            IRMapping map;
            for (OpOperand *in : op.getDpsInputOperands())
              map.map(body->getArgument(in->getOperandNumber()),
                      memref::LoadOp::create(
                          fb, fl, in->get(),
                          indices(maps[in->getOperandNumber()], ivs)));
            map.map(body->getArguments().back(), acc[i]);
            for (Operation &inner : body->without_terminator())
              fb.clone(inner, map);
            results.push_back(map.lookupOrDefault(
                cast<linalg::YieldOp>(body->getTerminator()).getOperand(0)));
          }
          scf::YieldOp::create(fb, fl, results);
        });
    for (auto [i, ivs] : llvm::enumerate(outIvs))
      memref::StoreOp::create(b, l, red.getResult(i), out,
                              indices(maps.back(), ivs));
  };
  auto reduce = [&](OpBuilder &b, Location l, ValueRange par) {
    reduceTile(b, l, par, 1, 1);
  };
  if (!parallel) {
    scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps,
        [&](OpBuilder &b, Location l, ValueRange ivs) { reduce(b, l, ivs); });
    return success();
  }
  // Prefill products (two parallel dimensions from 0 in unit steps): tiles.
  std::optional<int64_t> rows = getConstantIntValue(ranges[0].size);
  bool unitRanges =
      llvm::all_of(ArrayRef(ranges).take_front(2), [](const Range &r) {
        return isConstantIntValue(r.offset, 0) &&
               isConstantIntValue(r.stride, 1);
      });
  if (nLoops != 3 || !unitRanges ||
      !isTiled(rows, getConstantIntValue(ranges[1].size))) {
    scf::ParallelOp::create(rewriter, loc, lbs, ubs, steps, reduce);
    return success();
  }
  parallelTiles(
      rewriter, loc, *rows, ubs[1],
      [&](OpBuilder &b, Location l, Value n0, Value t0, int64_t nr,
          int64_t tr) { reduceTile(b, l, ValueRange{n0, t0}, nr, tr); });
  return success();
}

struct SeqParallelizeProductsPass
    : public seq::impl::SeqParallelizeProductsPassBase<
          SeqParallelizeProductsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (floatLanes != 0 && floatLanes != 8 && floatLanes != 16) {
      getOperation().emitError()
          << "seq-parallelize-products: float-lanes="
          << static_cast<int64_t>(floatLanes) << ": expected 0, 8 or 16";
      return signalPassFailure();
    }
    if (activationBlock <= 0 || activationBlock % 4) {
      getOperation().emitError()
          << "seq-parallelize-products: activation-block="
          << static_cast<int64_t>(activationBlock)
          << ": expected a positive multiple of 4";
      return signalPassFailure();
    }
    // Each marked product, whether it is worth all threads (dot products
    // marked seq.dot stay on one thread), and whether it is a decode
    // product that is (its loops are marked for seq-fuse-product-loops).
    struct Product {
      linalg::GenericOp op;
      bool parallel, decode;
    };
    SmallVector<Product> products;
    seq::SeqDialect::DotAttrHelper dot(&getContext());
    seq::SeqDialect::ParallelAttrHelper marked(&getContext());
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      if (dot.isAttrPresent(op)) {
        products.push_back({op, false, false});
        return;
      }
      if (!marked.isAttrPresent(op))
        return;
      // A single-token product (decode) stays on one thread unless its
      // weight is large: measured on 2 cores, task dispatch costs more than
      // the second core gains for small weights.
      std::optional<bool> decode =
          seq::cpu::decodeOnAllThreads(op, minDecodeElements);
      products.push_back({op, decode.value_or(true), decode.value_or(false)});
    });
    // Elementwise ops over a dynamic extent (prefill: [T, C] activations,
    // tens of them per layer, with exp, log and divisions) on all threads
    // as well; decode's single rows stay sequential (too small to pay for
    // a dispatch).
    SmallVector<linalg::GenericOp> elementwise;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op.hasPureBufferSemantics() || dot.isAttrPresent(op) ||
          marked.isAttrPresent(op) || op.getNumDpsInits() == 0 ||
          op.getNumReductionLoops() != 0 ||
          !llvm::is_contained(op.getStaticLoopRanges(), ShapedType::kDynamic))
        return;
      if (llvm::all_of(op.getIndexingMapsArray(),
                       [](AffineMap m) { return m.isProjectedPermutation(); }))
        elementwise.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : elementwise) {
      rewriter.setInsertionPoint(op);
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op.emitOpError("could not be lowered to parallel loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
    for (const Product &product : products) {
      linalg::GenericOp op = product.op;
      bool parallel = product.parallel, decode = product.decode;
      rewriter.setInsertionPoint(op);
      // The loops that replace a decode product on all threads are marked
      // for seq-fuse-product-loops.
      Block *block = op->getBlock();
      Operation *before = op->getPrevNode();
      auto lowered = [&] {
        if (decode)
          for (Operation &made : llvm::make_range(
                   before ? std::next(before->getIterator()) : block->begin(),
                   op->getIterator()))
            if (isa<scf::ParallelOp>(made))
              made.setAttr(seq::cpu::kDecodeLoopAttr, rewriter.getUnitAttr());
        rewriter.eraseOp(op);
      };
      if (int8Kernel != seqc::Int8Kernel::None && seq::matchGroupProduct(op)) {
        if (succeeded(lowerQ4Product(rewriter, op, int8Kernel, parallel))) {
          lowered();
          continue;
        }
        op.emitWarning() << "group product left to the generic loops (int8-dot="
                         << seqc::stringifyInt8Kernel(int8Kernel)
                         << "): its weight or scale rows are not contiguous";
      }
      if (int8Kernel != seqc::Int8Kernel::None && isInt8Product(op)) {
        if (succeeded(lowerInt8Product(rewriter, op, int8Kernel,
                                       activationBlock, parallel))) {
          lowered();
          continue;
        }
        op.emitWarning() << "int8 product left with f32 activations (int8-dot="
                         << seqc::stringifyInt8Kernel(int8Kernel)
                         << "): its reduction length is dynamic or not a "
                         << "multiple of activation-block="
                         << static_cast<int64_t>(activationBlock)
                         << ", or its weight rows are not contiguous";
      }
      if (floatLanes && parallel &&
          succeeded(lowerFloatPanels(rewriter, op, floatLanes))) {
        lowered();
        continue;
      }
      if (succeeded(toReductionLoops(rewriter, op, parallel,
                                     /*prefetch=*/!dot.isAttrPresent(op)))) {
        lowered();
        continue;
      }
      // Sequential ones that are not a reduction into registers are left
      // for convert-linalg-to-loops.
      if (!parallel)
        continue;
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op.emitOpError("could not be lowered to parallel loops");
        return signalPassFailure();
      }
      lowered();
    }
  }
};
} // namespace
