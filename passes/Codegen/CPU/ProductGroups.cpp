//===- ProductGroups.cpp - one parallel region for independent products ---===//
//
// A decode step runs each large product on all threads: one fork and join
// per product. Products that do not depend on each other and cover the same
// rows can share one parallel loop instead. seq-group-products (on tensors)
// delays each such product to where its result is first needed, so that
// independent products of the same extent end up next to each other;
// seq-fuse-product-loops (on buffers, after seq-parallelize-products) merges
// the loops of neighbouring ones.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/Passes.h"
#include "passes/Codegen/CPU/ProductTiles.h"

#include "dialects/Seq/IR/SeqDialect.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGROUPPRODUCTSPASS
#define GEN_PASS_DEF_SEQFUSEPRODUCTLOOPSPASS
#include "passes/Codegen/CPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

//===----------------------------------------------------------------------===//
// seq-group-products
//===----------------------------------------------------------------------===//

namespace {

/// Every block in `op`, collected before a pass changes them.
static SmallVector<Block *> blocksIn(Operation *op) {
  SmallVector<Block *> blocks;
  op->walk([&](Block *block) { blocks.push_back(block); });
  return blocks;
}

/// The ops of `block` (its terminator aside) that `op` uses the results of,
/// in its operands or inside its regions.
static llvm::SetVector<Operation *> blockDeps(Block &block, Operation *op) {
  llvm::SetVector<Operation *> deps;
  op->walk([&](Operation *inner) {
    for (Value v : inner->getOperands())
      if (Operation *def = v.getDefiningOp())
        if (Operation *top = block.findAncestorOpInBlock(*def);
            top && top != op)
          deps.insert(top);
  });
  return deps;
}

/// Reorders `block`: each grouped product (a decode product on all threads,
/// on tensors, free of memory effects) is delayed until an op needs its
/// result. Then the products ready at that point whose parallel extents
/// equal those of the first product needed are placed together, in their
/// order, each after the ops it waits for that had not been placed yet
/// (its output's tensor.empty and fill, its weight's view: ops without
/// memory effects, or a `restrict` to_tensor). Every other op keeps its
/// order. Results are unchanged: ops move only after their operands'
/// definitions and before their users, and none that reads or writes
/// memory others touch.
static void groupProducts(Block &block, int64_t minDecodeElements,
                          seq::SeqDialect::ParallelAttrHelper marked) {
  Operation *terminator =
      !block.empty() && block.back().hasTrait<OpTrait::IsTerminator>()
          ? &block.back()
          : nullptr;
  SmallVector<Operation *> order;
  llvm::DenseMap<Operation *, SmallVector<int64_t>> extents;
  for (Operation &op : block) {
    if (&op == terminator)
      continue;
    order.push_back(&op);
    auto product = dyn_cast<linalg::GenericOp>(op);
    if (!product || !marked.isAttrPresent(product) ||
        !product.hasPureTensorSemantics() || !isMemoryEffectFree(product) ||
        !seq::cpu::decodeOnAllThreads(product, minDecodeElements)
             .value_or(false))
      continue;
    SmallVector<int64_t> ranges = product.getStaticLoopRanges();
    ranges.pop_back(); // the reduction
    extents[&op] = ranges;
  }
  if (extents.size() < 2)
    return;

  llvm::DenseMap<Operation *, llvm::SetVector<Operation *>> deps;
  llvm::DenseMap<Operation *, size_t> position;
  for (Operation *op : order) {
    deps[op] = blockDeps(block, op);
    position[op] = position.size();
  }
  llvm::DenseSet<Operation *> placed;
  SmallVector<Operation *> schedule;
  auto place = [&](Operation *op) {
    placed.insert(op);
    schedule.push_back(op);
  };
  // Ops that may be placed before their turn to make a product ready: no
  // memory effects (the output's tensor.empty and fill, the weight's view),
  // or a weight read through a `restrict` to_tensor (nothing else accesses
  // its buffer).
  auto hoistable = [&](Operation *op) {
    if (extents.contains(op))
      return false;
    if (auto toTensor = dyn_cast<bufferization::ToTensorOp>(op))
      return toTensor.getRestrict();
    return isMemoryEffectFree(op);
  };
  // Walks the unplaced ops `op` waits for, each once: `visit` says whether
  // to go on through an op's own dependencies, not, or to stop (false).
  enum class Walk { Through, Skip, Stop };
  auto walkUnplaced = [&](Operation *op,
                          llvm::function_ref<Walk(Operation *)> visit) {
    SmallVector<Operation *> stack(deps[op].begin(), deps[op].end());
    llvm::DenseSet<Operation *> seen;
    while (!stack.empty()) {
      Operation *d = stack.pop_back_val();
      if (placed.contains(d) || !seen.insert(d).second)
        continue;
      Walk w = visit(d);
      if (w == Walk::Stop)
        return false;
      if (w == Walk::Through)
        stack.append(deps[d].begin(), deps[d].end());
    }
    return true;
  };
  // The unplaced ops `op` waits for, if they are all hoistable, in order.
  auto readySlice =
      [&](Operation *op) -> std::optional<SmallVector<Operation *>> {
    SmallVector<Operation *> slice;
    if (!walkUnplaced(op, [&](Operation *d) {
          if (!hoistable(d))
            return Walk::Stop;
          slice.push_back(d);
          return Walk::Through;
        }))
      return std::nullopt;
    llvm::sort(slice, [&](Operation *x, Operation *y) {
      return position[x] < position[y];
    });
    return slice;
  };
  // The unplaced products `op` waits for through ops that are not
  // products.
  auto waitsOn = [&](Operation *op) {
    SmallVector<Operation *> products;
    walkUnplaced(op, [&](Operation *d) {
      if (!extents.contains(d))
        return Walk::Through;
      products.push_back(d);
      return Walk::Skip;
    });
    return products;
  };
  // Places every product with extents `key` that is ready before any of
  // them is placed (so none waits for another), in order, each after the
  // ops it waits for.
  auto placeReady = [&](ArrayRef<int64_t> key) {
    SmallVector<std::pair<Operation *, SmallVector<Operation *>>> ready;
    for (Operation *op : order)
      if (!placed.contains(op) && extents.contains(op) &&
          ArrayRef<int64_t>(extents[op]) == key)
        if (std::optional<SmallVector<Operation *>> slice = readySlice(op))
          ready.emplace_back(op, std::move(*slice));
    for (auto &[op, slice] : ready) {
      for (Operation *d : slice)
        if (!placed.contains(d))
          place(d);
      place(op);
    }
  };
  // The group of `first`'s extents. First the ready products of other
  // extents that its members wait for (RWKV-7's gate down-projection, so
  // that the gate's up-projection joins the receptance).
  auto placeGroup = [&](Operation *first) {
    SmallVector<int64_t> key = extents[first];
    for (Operation *op : order) {
      if (placed.contains(op) || !extents.contains(op) || extents[op] != key ||
          readySlice(op))
        continue;
      for (Operation *d : waitsOn(op))
        if (!placed.contains(d) && extents[d] != key && readySlice(d))
          placeReady(extents[d]);
    }
    placeReady(key);
  };
  // The first unplaced product `op` needs (directly or through other
  // products) that can be made ready.
  auto neededProduct = [&](Operation *op) {
    Operation *first = nullptr;
    walkUnplaced(op, [&](Operation *d) {
      if (extents.contains(d) && readySlice(d) &&
          (!first || position[d] < position[first]))
        first = d;
      return Walk::Through;
    });
    return first;
  };
  for (Operation *op : order) {
    if (placed.contains(op) || extents.contains(op))
      continue;
    // The products `op` waits for: a group at a time, the first one's.
    while (llvm::any_of(deps[op],
                        [&](Operation *d) { return !placed.contains(d); })) {
      Operation *first = neededProduct(op);
      if (!first)
        return; // Not expected: leave the block as it is.
      placeGroup(first);
    }
    // (A product's group may have placed `op`, on which a later product
    // of the group waits.)
    if (!placed.contains(op))
      place(op);
  }
  // Products whose results only the terminator uses, or nothing.
  for (Operation *op : order)
    if (!placed.contains(op))
      placeGroup(op);
  if (schedule.size() != order.size())
    return;
  for (Operation *op : schedule) {
    if (terminator)
      op->moveBefore(terminator);
    else
      op->moveBefore(&block, block.end());
  }
}

struct SeqGroupProductsPass
    : public seq::impl::SeqGroupProductsPassBase<SeqGroupProductsPass> {
  using Base::Base;
  void runOnOperation() override {
    seq::SeqDialect::ParallelAttrHelper marked(&getContext());
    for (Block *block : blocksIn(getOperation()))
      groupProducts(*block, minDecodeElements, marked);
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// seq-fuse-product-loops
//===----------------------------------------------------------------------===//

namespace {

/// The buffer a memref is a view of: through view-like ops to an
/// allocation or a block argument.
static Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// The buffers an op and the ops in its regions read and write (frees
/// count as writes; allocations as neither: a new buffer is no one's).
struct Accesses {
  llvm::DenseSet<Value> reads, writes;
  /// An op whose effects are not known, or not tied to a buffer.
  bool unknown = false;

  explicit Accesses(Operation *root) {
    root->walk([&](Operation *op) {
      if (auto prefetch = dyn_cast<memref::PrefetchOp>(op)) {
        reads.insert(rootBuffer(prefetch.getMemref()));
        return;
      }
      // The x86 kernels' intrinsics compute on vectors.
      if (auto call = dyn_cast<LLVM::CallIntrinsicOp>(op)) {
        if (llvm::any_of(call->getOperandTypes(),
                         llvm::IsaPred<LLVM::LLVMPointerType, MemRefType>))
          unknown = true;
        return;
      }
      // An op with recursive effects has its nested ops' (visited too)
      // and possibly effects of its own (a linalg op on buffers).
      auto iface = dyn_cast<MemoryEffectOpInterface>(op);
      if (!iface) {
        if (!op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
          unknown = true;
        return;
      }
      SmallVector<MemoryEffects::EffectInstance> effects;
      iface.getEffects(effects);
      for (const MemoryEffects::EffectInstance &e : effects) {
        if (isa<MemoryEffects::Allocate>(e.getEffect()))
          continue;
        Value v = e.getValue();
        if (!v || !isa<BaseMemRefType>(v.getType())) {
          unknown = true;
          continue;
        }
        (isa<MemoryEffects::Read>(e.getEffect()) ? reads : writes)
            .insert(rootBuffer(v));
      }
    });
  }

  /// Whether running `other` before or after this could change either's
  /// result: one writes a buffer the other uses. Distinct buffers do not
  /// alias: allocations are distinct, and so are a function's arguments,
  /// as one-shot bufferization assumes (a caller that passes one buffer
  /// twice where one is written gets a copy).
  bool conflicts(const Accesses &other) const {
    if (unknown || other.unknown)
      return true;
    auto touches = [](const Accesses &a, const llvm::DenseSet<Value> &set) {
      return llvm::any_of(set, [&](Value v) {
        return a.reads.contains(v) || a.writes.contains(v);
      });
    };
    return touches(other, writes) || touches(*this, other.writes);
  }
};

/// Whether `op` or an op in its regions uses a result of one of `ops`.
static bool usesAny(Operation *op, const llvm::DenseSet<Operation *> &ops) {
  WalkResult r = op->walk([&](Operation *inner) {
    for (Value v : inner->getOperands())
      if (Operation *def = v.getDefiningOp(); def && ops.contains(def))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return r.wasInterrupted();
}

static bool sameBounds(scf::ParallelOp a, scf::ParallelOp b) {
  auto constants = [](ValueRange values) {
    SmallVector<std::optional<int64_t>> c;
    for (Value v : values)
      c.push_back(getConstantIntValue(v));
    return c;
  };
  auto known = [](ArrayRef<std::optional<int64_t>> c) {
    return llvm::all_of(c, [](auto v) { return v.has_value(); });
  };
  for (auto [x, y] : {std::pair(a.getLowerBound(), b.getLowerBound()),
                      std::pair(a.getUpperBound(), b.getUpperBound()),
                      std::pair(a.getStep(), b.getStep())}) {
    auto cx = constants(x), cy = constants(y);
    if (!known(cx) || cx != cy)
      return false;
  }
  return true;
}

/// Merges `b` into `a` (the later loop's body after the earlier's, at the
/// same indices), moving the ops between them out of the way: above `a`
/// those that do not conflict with it, below `b` the others (buffers `a`
/// frees after its last use). Fails, changing nothing, where the loops
/// differ in bounds, either conflicts with the other, or an op between
/// them can go neither way.
static LogicalResult fuseLoops(scf::ParallelOp a, scf::ParallelOp b) {
  if (!a.getInitVals().empty() || !b.getInitVals().empty() || !sameBounds(a, b))
    return failure();
  Accesses accA(a), accB(b);
  if (accA.conflicts(accB))
    return failure();
  SmallVector<Operation *> up, down;
  llvm::DenseSet<Operation *> downSet;
  SmallVector<Accesses> downAcc;
  for (Operation *op = a->getNextNode(); op != b; op = op->getNextNode()) {
    Accesses acc(op);
    bool canRise = !usesAny(op, downSet) && !acc.conflicts(accA) &&
                   llvm::none_of(downAcc, [&](const Accesses &d) {
                     return acc.conflicts(d);
                   });
    if (canRise) {
      up.push_back(op);
      continue;
    }
    if (acc.conflicts(accB))
      return failure();
    down.push_back(op);
    downSet.insert(op);
    downAcc.push_back(std::move(acc));
  }
  if (usesAny(b, downSet))
    return failure();
  for (Operation *op : up)
    op->moveBefore(a);
  Operation *after = b;
  for (Operation *op : down) {
    op->moveAfter(after);
    after = op;
  }
  Block *into = a.getBody(), *from = b.getBody();
  for (auto [x, y] : llvm::zip(a.getInductionVars(), b.getInductionVars()))
    y.replaceAllUsesWith(x);
  into->getOperations().splice(into->getTerminator()->getIterator(),
                               from->getOperations(), from->begin(),
                               std::prev(from->end()));
  b->erase();
  return success();
}

struct SeqFuseProductLoopsPass
    : public seq::impl::SeqFuseProductLoopsPassBase<SeqFuseProductLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    // The marked loops by block, in order, gathered first: merging erases
    // the later loop's body block (never a block that holds marked loops).
    llvm::MapVector<Block *, SmallVector<scf::ParallelOp>> loops;
    getOperation()->walk([&](scf::ParallelOp loop) {
      if (loop->hasAttr(seq::cpu::kDecodeLoopAttr))
        loops[loop->getBlock()].push_back(loop);
    });
    for (auto &[block, inBlock] : loops) {
      scf::ParallelOp into;
      for (scf::ParallelOp loop : inBlock)
        if (!into || failed(fuseLoops(into, loop)))
          into = loop;
    }
  }
};

} // namespace
