//===- TileLoops.cpp - threads for the greedy GPU mapping
//------------------===//
//
// Described in Passes.td (seq-gpu-tile-loops).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUTILELOOPSPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Tiles the innermost dimension of more than one iteration of each
/// outermost unmapped parallel loop by `kThreads`, so that the greedy mapping
/// gives the tiles to workgroups and the iterations within a tile to threads
/// (without it every workgroup has one thread). Bounds that are not a multiple
/// stay exact: the inner loop has the tile's constant bound and its body a
/// guard.
struct GPUTileLoopsPass
    : public seq::impl::SeqGPUTileLoopsPassBase<GPUTileLoopsPass> {
  static constexpr int64_t kThreads = 64;
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation().walk([&](scf::ParallelOp op) {
      if (!op->getParentOfType<scf::ParallelOp>() &&
          !op->hasAttr(gpu::getMappingAttrName()))
        loops.push_back(op);
    });
    for (scf::ParallelOp op : loops) {
      // The innermost dimension of more than one iteration (a product's
      // output may be [rows, 1]).
      for (int d = op.getNumLoops() - 1; d >= 0; --d) {
        auto lb = getConstantIntValue(op.getLowerBound()[d]);
        auto ub = getConstantIntValue(op.getUpperBound()[d]);
        auto step = getConstantIntValue(op.getStep()[d]);
        if (!lb || !ub || !step || *step <= 0)
          break;
        int64_t trips = (*ub - *lb + *step - 1) / *step;
        if (trips <= 1)
          continue;
        SmallVector<int64_t> sizes(op.getNumLoops(), 1);
        sizes[d] = std::min(kThreads, trips);
        scf::tileParallelLoop(op, sizes, /*noMinMaxBounds=*/true);
        break;
      }
    }
  }
};

} // namespace
