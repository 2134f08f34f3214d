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
  /// Workgroups a grid dimension may have (Vulkan's guaranteed minimum of
  /// maxComputeWorkGroupCount, lavapipe's value).
  static constexpr int64_t kMaxWorkgroups = 65535;
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
        // More tiles than a grid dimension holds (a large KV state's
        // fill): each thread takes `k` consecutive iterations, the tile's
        // innermost loop, which stays sequential in the thread.
        int64_t threads = std::min(kThreads, trips);
        int64_t k = llvm::divideCeil(trips, threads * kMaxWorkgroups);
        SmallVector<int64_t> sizes(op.getNumLoops(), 1);
        sizes[d] = threads * k;
        auto [outer, inner] =
            scf::tileParallelLoop(op, sizes, /*noMinMaxBounds=*/true);
        (void)outer;
        if (k > 1) {
          SmallVector<int64_t> perThread(inner.getNumLoops(), 1);
          perThread[d] = k;
          scf::tileParallelLoop(inner, perThread, /*noMinMaxBounds=*/true);
        }
        break;
      }
    }
  }
};

} // namespace
