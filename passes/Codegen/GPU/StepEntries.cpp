//===- StepEntries.cpp - the entries a GPU schedule runs
//-------------------===//
//
// Described in Passes.td (seq-gpu-step-entries).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUSTEPENTRIESPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Erases the entries whose host part loops over tokens (seqc_prefill,
/// seqc_prefill_all): their schedule would not be static. The GPU drivers
/// run a prompt token by token through seqc_step.
struct GPUStepEntriesPass
    : public seq::impl::SeqGPUStepEntriesPassBase<GPUStepEntriesPass> {
  void runOnOperation() override {
    // KV caches: their attention loops over a length known at run time and
    // their state is bytes; neither is lowered for GPUs yet.
    WalkResult kv =
        getOperation().walk([](Operation *op) {
          if (op->getName().getStringRef().starts_with("seq.kv_")) {
            auto func = op->getParentOfType<func::FuncOp>();
            op->emitError("'")
                << op->getName() << "' in @" << (func ? func.getName() : "?")
                << ": the GPU targets compile recurrent models (RWKV-4/5/6/7, "
                   "SpikeGPT) so far; attention over a KV cache is not lowered "
                   "for them yet (compile this model with --target=cpu)";
            return WalkResult::interrupt();
          }
          return WalkResult::advance();
        });
    if (kv.wasInterrupted())
      return signalPassFailure();
    for (auto func :
         llvm::make_early_inc_range(getOperation().getOps<func::FuncOp>()))
      if (func.getName() == "seqc_prefill" ||
          func.getName() == "seqc_prefill_all")
        func.erase();
  }
};

} // namespace
