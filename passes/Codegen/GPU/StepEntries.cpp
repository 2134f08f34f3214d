//===- StepEntries.cpp - the entries a GPU schedule runs
//-------------------===//
//
// Described in Passes.td (seq-gpu-step-entries).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "dialects/Seq/IR/SeqDialect.h"
#include "dialects/Seq/IR/SeqKVLayout.h"
#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/KVLayout.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUSTEPENTRIESPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Erases the entries whose host part loops over tokens (seqc_prefill_all,
/// and seqc_prefill unless it was built for a static token count): their
/// schedule would not be static. The GPU drivers run a prompt in chunks
/// through a static seqc_prefill, the rest token by token through
/// seqc_step.
struct GPUStepEntriesPass
    : public seq::impl::SeqGPUStepEntriesPassBase<GPUStepEntriesPass> {
  /// The bytes a model's KV caches take in its state: one cache layout per
  /// slot up to the largest slot a seq.kv_load reaches (a constant, or an
  /// argument of its function that every call passes as a constant); 0
  /// without KV caches.
  static FailureOr<int64_t> kvStateBytes(ModuleOp module) {
    int64_t bytes = 0;
    WalkResult walked = module.walk([&](seq::KVLoadOp op) {
      SmallVector<Value> slots = {op.getSlot()};
      if (auto arg = dyn_cast<BlockArgument>(op.getSlot())) {
        auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
        if (func && arg.getOwner() == &func.getBody().front()) {
          slots.clear();
          module.walk([&](func::CallOp call) {
            if (call.getCallee() == func.getName())
              slots.push_back(call.getOperand(arg.getArgNumber()));
          });
        }
      }
      std::string error;
      seqc::KVLayout layout;
      if (!seqc::computeKVLayout(seq::getKVCacheDesc(op.getCache().getType()),
                                 layout, error)) {
        op.emitError("KV cache ") << error;
        return WalkResult::interrupt();
      }
      for (Value slot : slots) {
        std::optional<int64_t> n = getConstantIntValue(slot);
        if (!n) {
          op.emitError("a GPU target sizes the state by the KV caches' "
                       "slots, and this cache's slot is not a constant at "
                       "every call");
          return WalkResult::interrupt();
        }
        bytes = std::max<int64_t>(bytes, (*n + 1) * (int64_t)layout.bytes);
      }
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      return failure();
    return bytes;
  }

  /// Whether an entry's tokens (its first argument) have a static count.
  static bool hasStaticTokens(func::FuncOp func) {
    if (func.getNumArguments() == 0)
      return false;
    auto type = dyn_cast<ShapedType>(func.getArgument(0).getType());
    return type && type.hasStaticShape();
  }

  void runOnOperation() override {
    // seqc_init_state of a KV model fills its whole state buffer, whose
    // size its IR leaves open: a GPU kernel's grid is fixed, so the buffer
    // is viewed at the size its caches take.
    FailureOr<int64_t> stateBytes = kvStateBytes(getOperation());
    if (failed(stateBytes))
      return signalPassFailure();
    auto init = getOperation().lookupSymbol<func::FuncOp>("seqc_init_state");
    if (*stateBytes && init && !init.isExternal() &&
        init.getNumArguments() == 1) {
      BlockArgument state = init.getArgument(0);
      auto type = dyn_cast<MemRefType>(state.getType());
      if (type && type.getRank() == 1 && type.isDynamicDim(0) &&
          type.getElementType().isInteger(8)) {
        OpBuilder b = OpBuilder::atBlockBegin(&init.getBody().front());
        Location loc = init.getLoc();
        Value zero = arith::ConstantIndexOp::create(b, loc, 0);
        Value whole = memref::ViewOp::create(
            b, loc, MemRefType::get({*stateBytes}, b.getI8Type()), state, zero,
            ValueRange{});
        state.replaceAllUsesExcept(whole, whole.getDefiningOp());
      }
    }
    // What a GPU model cannot hold, each refused at its op:
    // - prefill-time selection (FastKV, DynamicKV) compresses a prompt's
    //   rows at the end of its prefill, scored over the whole prompt; in the
    //   fixed chunks of a static prefill schedule it would score each chunk
    //   alone, and the model would silently differ from the CPU's;
    // - per-channel tables still held as attributes (MiKV's balancing
    //   factors, calibrated key orders) would lower to module constants,
    //   which a GPU schedule has no buffer for; `seqc compile` moves them
    //   into the weight file first (seqc::moveConstantsToWeights).
    WalkResult refused = getOperation().walk([](Operation *op) {
      auto scale = dyn_cast<seq::ScaleChannelsOp>(op);
      auto permute = dyn_cast<seq::PermuteChannelsOp>(op);
      if (isa<seq::KVSelectOp>(op))
        op->emitError("prefill-time KV selection (--kv-select) scores a whole "
                      "prompt at the end of its prefill; the GPU targets run "
                      "a prompt in fixed chunks (--prefill-chunk), so each "
                      "chunk would be selected alone; compile this model for "
                      "the CPU, or without --kv-select");
      else if ((scale && scale.getScalesAttr()) ||
               (permute && permute.getOrderAttr()))
        op->emitError("a per-channel KV table held as an attribute would be "
                      "a module constant, which a GPU schedule cannot bind; "
                      "give it as a weight (the op's 'by' operand, as seqc "
                      "compile does)");
      else
        return WalkResult::advance();
      return WalkResult::interrupt();
    });
    if (refused.wasInterrupted())
      return signalPassFailure();
    for (auto func :
         llvm::make_early_inc_range(getOperation().getOps<func::FuncOp>()))
      if (func.getName() == "seqc_prefill_all" ||
          (func.getName() == "seqc_prefill" && !hasStaticTokens(func)))
        func.erase();
  }
};

} // namespace
