//===- LoopTrips.cpp - bounds on a kernel's loop iterations ---------------===//

#include "passes/Codegen/GPU/LoopTrips.h"

#include "dialects/Seq/IR/SeqDialect.h"

#include "mlir/Analysis/DataFlow/IntegerRangeAnalysis.h"
#include "mlir/Analysis/DataFlow/Utils.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace {

/// The range the solver inferred for `v`, if any.
std::optional<ConstantIntRanges> rangeOf(DataFlowSolver &solver, Value v) {
  auto *lattice = solver.lookupState<dataflow::IntegerValueRangeLattice>(v);
  if (!lattice || lattice->getValue().isUninitialized())
    return std::nullopt;
  return lattice->getValue().getValue();
}

/// The most trips of `loop` its bounds' ranges allow (none if a bound is
/// unbounded).
std::optional<uint64_t> rangeTrips(DataFlowSolver &solver, scf::ForOp loop) {
  std::optional<ConstantIntRanges> lo = rangeOf(solver, loop.getLowerBound()),
                                   hi = rangeOf(solver, loop.getUpperBound()),
                                   step = rangeOf(solver, loop.getStep());
  if (!lo || !hi || !step)
    return std::nullopt;
  // A bound the analysis could not limit spans its type (a 32-bit value
  // read from a buffer and cast to index spans 32 bits): no bound.
  if (hi->smax().getBitWidth() > 64 || lo->smin().getBitWidth() > 64 ||
      step->smin().getBitWidth() > 64 || step->smin().isNonPositive())
    return std::nullopt;
  int64_t most = hi->smax().getSExtValue(), least = lo->smin().getSExtValue();
  constexpr int64_t kUnbounded = INT32_MAX;
  int64_t span;
  if (most >= kUnbounded || least <= -kUnbounded ||
      llvm::SubOverflow(most, least, span))
    return std::nullopt;
  if (span <= 0)
    return 0;
  return (uint64_t)llvm::divideCeil(span, step->smin().getSExtValue());
}

} // namespace

FailureOr<uint64_t> mlir::seq::kernelLoopIterations(gpu::GPUFuncOp kernel,
                                                    scf::ForOp &unbounded) {
  DataFlowSolver solver;
  dataflow::loadBaselineAnalyses(solver);
  solver.load<dataflow::IntegerRangeAnalysis>();
  if (failed(solver.initializeAndRun(kernel)))
    return failure();
  SeqDialect::MaxTripsAttrHelper maxTrips(kernel.getContext());
  DenseMap<Operation *, uint64_t> trips;
  auto tripsOf = [&](scf::ForOp loop) -> std::optional<uint64_t> {
    std::optional<uint64_t> t = rangeTrips(solver, loop);
    if (IntegerAttr attr = maxTrips.getAttr(loop)) {
      uint64_t m = (uint64_t)std::max<int64_t>(0, attr.getInt());
      t = t ? std::min(*t, m) : m;
    }
    return t;
  };
  uint64_t total = 0;
  WalkResult walk = kernel.walk<WalkOrder::PreOrder>([&](scf::ForOp loop) {
    std::optional<uint64_t> t = tripsOf(loop);
    if (!t) {
      unbounded = loop;
      return WalkResult::interrupt();
    }
    // Times the trips of the loop around it (walked first).
    uint64_t outer = 1;
    if (auto parent = loop->getParentOfType<scf::ForOp>();
        parent && kernel->isProperAncestor(parent))
      outer = trips.lookup(parent);
    uint64_t all = llvm::SaturatingMultiply(outer, *t);
    trips[loop] = all;
    total = llvm::SaturatingAdd(total, all);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return total;
}
