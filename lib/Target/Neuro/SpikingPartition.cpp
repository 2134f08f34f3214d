//===- SpikingPartition.cpp - the populations and the host's MACs ---------===//
//
// Reads seqc_step, the one-token step every recurrent model has: each
// top-level call whose callee holds a seq.lif is a layer (in call order);
// inside, each seq.lif is a population and each contraction a dense part of
// the host. Contractions that read spikes are not MACs: they are the
// populations' fan-out (one accumulate per spike and output).
//
//===----------------------------------------------------------------------===//

#include "SpikingPartition.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace seqc::neuro;

namespace {

/// The product of a linalg op's static loop ranges (a dynamic range, a
/// token dimension in a multi-token function, counts 1: per token).
uint64_t loopProduct(linalg::LinalgOp op) {
  uint64_t n = 1;
  for (int64_t r : op.getStaticLoopRanges())
    if (r != ShapedType::kDynamic && r > 0)
      n *= (uint64_t)r;
  return n;
}

/// True for an all-parallel generic whose body yields the sum of its two
/// inputs (x + spikes).
bool isElementwiseAdd(linalg::GenericOp g) {
  if (g.getNumReductionLoops() != 0 || g.getNumDpsInputs() != 2)
    return false;
  auto yield = cast<linalg::YieldOp>(g.getBody()->getTerminator());
  if (yield.getNumOperands() != 1)
    return false;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  return add && isa<BlockArgument>(add.getLhs()) &&
         isa<BlockArgument>(add.getRhs());
}

std::string locationText(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

class PartitionReader {
public:
  PartitionReader(ModuleOp module, SpikingPartition &out)
      : module(module), out(out) {}

  LogicalResult run() {
    bool spiking = false;
    module.walk([&](seq::LIFOp) { spiking = true; });
    if (!spiking)
      return module.emitError(
          "--target=neuro: the module has no spiking op (seq.lif), so "
          "nothing in it can run on neuromorphic hardware; compile it with "
          "--target=cpu");
    auto step = module.lookupSymbol<func::FuncOp>("seqc_step");
    if (!step || step.isExternal())
      return module.emitError(
          "--target=neuro: the module has no seqc_step function (one "
          "token's step), from which the populations and the host part's "
          "operations per token are read");
    for (Operation &op : step.getBody().getOps()) {
      auto call = dyn_cast<func::CallOp>(op);
      if (call && holdsLIF(call)) {
        int64_t layer = out.layerMacs.size();
        out.layerMacs.push_back(0);
        int64_t sites = 0;
        if (failed(count(call, layer, sites, 0)))
          return failure();
        if (layer == 0)
          out.sitesPerLayer = sites;
        else if (sites != out.sitesPerLayer)
          return call.emitError("--target=neuro: layer ")
                 << layer << " has " << sites << " LIF sites, layer 0 has "
                 << out.sitesPerLayer
                 << "; the report needs the same sites in every layer";
        continue;
      }
      int64_t none = 0;
      if (failed(count(&op, -1, none, 0)))
        return failure();
      if (none)
        return op.emitError("--target=neuro: a seq.lif outside the layer "
                            "calls of seqc_step is not supported");
    }
    if (out.populations.empty())
      return step.emitError("--target=neuro: seqc_step reaches no seq.lif "
                            "through its layer calls");
    return success();
  }

private:
  ModuleOp module;
  SpikingPartition &out;

  func::FuncOp callee(func::CallOp call) {
    return module.lookupSymbol<func::FuncOp>(call.getCallee());
  }

  bool holdsLIF(func::CallOp call) {
    func::FuncOp f = callee(call);
    if (!f)
      return false;
    bool found = false;
    f.walk([&](Operation *op) {
      if (isa<seq::LIFOp>(op))
        found = true;
      else if (auto inner = dyn_cast<func::CallOp>(op))
        found = found || (inner.getCallee() != f.getName() && holdsLIF(inner));
    });
    return found;
  }

  /// Counts `root` and what it calls into layer `layer` (-1: the head).
  LogicalResult count(Operation *root, int64_t layer, int64_t &sites,
                      int depth) {
    if (depth > 16)
      return root->emitError("--target=neuro: calls nested deeper than 16");
    WalkResult r = root->walk([&](Operation *op) -> WalkResult {
      if (auto lif = dyn_cast<seq::LIFOp>(op)) {
        Population p;
        p.layer = layer;
        p.site = sites++;
        p.neurons = cast<ShapedType>(lif.getV().getType()).getNumElements();
        p.tau = lif.getTau().convertToFloat();
        p.vThreshold = lif.getVThreshold().convertToFloat();
        p.vReset = lif.getVReset().convertToFloat();
        p.hardReset = lif.getReset() == seq::ResetMode::Hard;
        p.decayInput = lif.getDecayInput();
        p.fireGE = lif.getFire() == seq::FireCmp::GE;
        p.location = locationText(lif.getLoc());
        for (Operation *user : lif.getSpikes().getUsers()) {
          auto l = dyn_cast<linalg::LinalgOp>(user);
          if (!l)
            continue;
          if (isDenseProduct(l))
            p.fanout += loopProduct(l) / std::max<int64_t>(1, p.neurons);
          else if (auto g = dyn_cast<linalg::GenericOp>(user))
            p.fanout += isElementwiseAdd(g) ? 1 : 0;
        }
        if (layer >= 0)
          out.populations.push_back(p);
        return WalkResult::advance();
      }
      if (auto l = dyn_cast<linalg::LinalgOp>(op)) {
        if (isDenseProduct(l) && !readsSpikes(l))
          (layer >= 0 ? out.layerMacs[layer] : out.headMacs) += loopProduct(l);
        return WalkResult::advance();
      }
      if (auto call = dyn_cast<func::CallOp>(op)) {
        func::FuncOp f = callee(call);
        if (f && !f.isExternal() && failed(count(f, layer, sites, depth + 1)))
          return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(r.wasInterrupted());
  }
};

class SpikingPartitionPass
    : public PassWrapper<SpikingPartitionPass, OperationPass<ModuleOp>> {
public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(SpikingPartitionPass)

  explicit SpikingPartitionPass(std::shared_ptr<SpikingPartition> out)
      : out(std::move(out)) {}
  StringRef getArgument() const final { return "seq-neuro-partition"; }
  StringRef getDescription() const final {
    return "Read the spiking partition for --target=neuro";
  }
  void runOnOperation() override {
    *out = SpikingPartition();
    if (failed(PartitionReader(getOperation(), *out).run()))
      signalPassFailure();
  }

private:
  std::shared_ptr<SpikingPartition> out;
};

} // namespace

bool seqc::neuro::isDenseProduct(linalg::LinalgOp op) {
  if (linalg::isaContractionOpInterface(op))
    return true;
  auto g = dyn_cast<linalg::GenericOp>(op.getOperation());
  return g && seq::matchGroupProduct(g);
}

bool seqc::neuro::readsSpikes(linalg::LinalgOp op) {
  for (Value in : op.getDpsInputs())
    if (auto r = dyn_cast<OpResult>(in))
      if (isa<seq::LIFOp>(r.getOwner()) && r.getResultNumber() == 0)
        return true;
  return false;
}

std::unique_ptr<Pass>
seqc::neuro::createSpikingPartitionPass(std::shared_ptr<SpikingPartition> out) {
  return std::make_unique<SpikingPartitionPass>(std::move(out));
}

std::string
seqc::neuro::populationName(const Population &p,
                            const std::vector<std::string> &siteNames) {
  std::string site = (size_t)p.site < siteNames.size()
                         ? siteNames[p.site]
                         : "lif" + std::to_string(p.site);
  return "layer" + std::to_string(p.layer) + "_" + site;
}
