//===- HostKernels.cpp - an entry's remaining host code into kernels ------===//
//
// Described in Passes.td (seq-gpu-host-kernels).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUHOSTKERNELSPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// The buffer a memref is a view of: an entry argument or an allocation.
Value rootOf(Value memref) {
  while (auto like = memref.getDefiningOp<ViewLikeOpInterface>())
    memref = like.getViewSource();
  return memref;
}

/// Whether `op` or an op nested in it may write memory of `root` (an
/// effect on an unknown value counts).
bool mayWrite(Operation *op, Value root) {
  WalkResult result = op->walk([&](Operation *nested) {
    auto iface = dyn_cast<MemoryEffectOpInterface>(nested);
    if (!iface) {
      // Ops whose effects are those of their regions are walked into.
      if (nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return WalkResult::advance();
      return WalkResult::interrupt();
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (const MemoryEffects::EffectInstance &e : effects) {
      if (!isa<MemoryEffects::Write>(e.getEffect()))
        continue;
      Value v = e.getValue();
      if (!v || !isa<MemRefType>(v.getType()) || rootOf(v) == root)
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// The buffers an op that only reads memory reads (none for other ops).
SmallVector<Value> readRoots(Operation &op) {
  auto iface = dyn_cast<MemoryEffectOpInterface>(op);
  if (!iface)
    return {};
  SmallVector<MemoryEffects::EffectInstance> effects;
  iface.getEffects(effects);
  SmallVector<Value> roots;
  for (const MemoryEffects::EffectInstance &e : effects) {
    Value v = e.getValue();
    if (!isa<MemoryEffects::Read>(e.getEffect()) || !v ||
        !isa<MemRefType>(v.getType()))
      return {};
    roots.push_back(rootOf(v));
  }
  return roots;
}

struct GPUHostKernelsPass
    : public seq::impl::SeqGPUHostKernelsPassBase<GPUHostKernelsPass> {

  /// Host bookkeeping the schedule compiles: buffers and views of them,
  /// launches (parallel loops, here) and constants.
  static bool isBookkeeping(Operation &op) {
    return isa<memref::AllocOp, memref::DeallocOp, scf::ParallelOp,
               func::ReturnOp>(op) ||
           isa<ViewLikeOpInterface>(op);
  }

  /// A scalar the host would read from memory, or compute from one: a
  /// memref.load, or an op without effects or regions using such a value.
  static bool isRuntimeScalar(Operation &op,
                              const DenseSet<Operation *> &runtime) {
    if (op.getNumRegions() || op.getNumResults() == 0 ||
        llvm::any_of(op.getResultTypes(), llvm::IsaPred<MemRefType>))
      return false;
    // A read (memref.load, vector.load of a Hadamard row).
    if (!readRoots(op).empty())
      return true;
    if (!isMemoryEffectFree(&op))
      return false;
    return llvm::any_of(op.getOperands(), [&](Value v) {
      Operation *def = v.getDefiningOp();
      return def && runtime.contains(def);
    });
  }

  /// Each run of host ops that read or write memory or have regions (an
  /// append under scf.if, a loop the lowering left sequential) becomes one
  /// single-thread kernel: a parallel loop of one iteration. A runtime
  /// scalar ends a run: it stays where it is and is sunk into its users.
  static LogicalResult wrap(func::FuncOp func, IRRewriter &rewriter) {
    Block &block = func.getBody().front();
    DenseSet<Operation *> runtime;
    SmallVector<SmallVector<Operation *>> runs;
    SmallVector<Operation *> run;
    auto close = [&] {
      if (!run.empty())
        runs.push_back(run);
      run.clear();
    };
    for (Operation &op : block) {
      if (isRuntimeScalar(op, runtime)) {
        runtime.insert(&op);
        close();
        continue;
      }
      if (isBookkeeping(op) ||
          (isMemoryEffectFree(&op) && op.getNumRegions() == 0)) {
        close();
        continue;
      }
      run.push_back(&op);
    }
    close();
    for (ArrayRef<Operation *> ops : runs) {
      for (Operation *op : ops)
        for (Operation *user : op->getUsers())
          if (llvm::none_of(ops, [&](Operation *o) {
                return o == user || o->isProperAncestor(user);
              }))
            return op->emitError("the host part of a GPU entry computes a "
                                 "value here that it uses outside a kernel");
      rewriter.setInsertionPoint(ops.front());
      Location loc = ops.front()->getLoc();
      Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
      Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
      auto par = scf::ParallelOp::create(rewriter, loc, ValueRange{zero},
                                         ValueRange{one}, ValueRange{one});
      Operation *terminator = par.getBody()->getTerminator();
      for (Operation *op : ops)
        op->moveBefore(terminator);
    }
    return success();
  }

  /// Moves the runtime scalars each top-level parallel loop uses into its
  /// body, where the kernel reads them; fails where memory the scalar was
  /// read from may be written in between.
  static LogicalResult sink(func::FuncOp func, IRRewriter &rewriter) {
    Block &block = func.getBody().front();
    DenseSet<Operation *> runtime;
    for (Operation &op : block)
      if (isRuntimeScalar(op, runtime))
        runtime.insert(&op);
    SmallVector<scf::ParallelOp> loops(block.getOps<scf::ParallelOp>());
    for (scf::ParallelOp par : loops) {
      for (Value bound : par->getOperands())
        if (Operation *def = bound.getDefiningOp();
            def && runtime.contains(def))
          return par.emitError("a GPU kernel's grid must be known when the "
                               "model is compiled; this loop's bounds are "
                               "read from memory at run time");
      // The runtime scalars the loop uses, with what they are computed
      // from, in block order.
      SetVector<Operation *> slice;
      SmallVector<Operation *> work;
      par->walk([&](Operation *nested) {
        for (Value v : nested->getOperands())
          if (Operation *def = v.getDefiningOp();
              def && def->getBlock() == &block && runtime.contains(def))
            work.push_back(def);
      });
      while (!work.empty()) {
        Operation *op = work.pop_back_val();
        if (!slice.insert(op))
          continue;
        for (Value v : op->getOperands())
          if (Operation *def = v.getDefiningOp(); def && runtime.contains(def))
            work.push_back(def);
      }
      if (slice.empty())
        continue;
      SmallVector<Operation *> ordered = slice.takeVector();
      llvm::sort(ordered, [](Operation *a, Operation *b) {
        return a->isBeforeInBlock(b);
      });
      for (Operation *op : ordered)
        for (Value root : readRoots(*op))
          for (Operation *between = op->getNextNode(); between != par;
               between = between->getNextNode())
            if (mayWrite(between, root)) {
              InFlightDiagnostic diag =
                  op->emitError("this read runs on the GPU, inside the "
                                "kernel that uses it, but the memory it "
                                "reads may be written before that kernel");
              diag.attachNote(between->getLoc()) << "written here";
              return diag;
            }
      IRMapping map;
      rewriter.setInsertionPointToStart(par.getBody());
      for (Operation *op : ordered)
        rewriter.clone(*op, map);
      for (Operation *op : ordered)
        for (auto [from, to] :
             llvm::zip(op->getResults(), map.lookup(op)->getResults()))
          from.replaceUsesWithIf(to, [&](OpOperand &use) {
            return par->isProperAncestor(use.getOwner());
          });
    }
    // What the host no longer uses.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
      if (runtime.contains(&op) && op.use_empty())
        rewriter.eraseOp(&op);
    for (Operation &op : block)
      if (runtime.contains(&op))
        return op.emitError("a value read from memory is used by the host "
                            "part of a GPU entry, which has no host code");
    return success();
  }

  /// Views of an entry's buffers at fixed offsets inside a kernel move out
  /// of it: the kernel then takes the view (static shape: a binding the
  /// schedule places), not the whole buffer.
  static void hoistViews(func::FuncOp func) {
    Block &block = func.getBody().front();
    for (auto par : llvm::to_vector(block.getOps<scf::ParallelOp>())) {
      SmallVector<memref::ViewOp> views;
      par->walk([&](memref::ViewOp view) { views.push_back(view); });
      for (memref::ViewOp view : views)
        if (llvm::all_of(view->getOperands(),
                         [&](Value v) { return v.getParentBlock() == &block; }))
          view->moveBefore(par);
    }
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal() || !func.getBody().hasOneBlock())
      return;
    IRRewriter rewriter(&getContext());
    if (failed(wrap(func, rewriter)) || failed(sink(func, rewriter)))
      return signalPassFailure();
    hoistViews(func);
  }
};

} // namespace
