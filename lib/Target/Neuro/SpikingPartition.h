//===- SpikingPartition.h - what of a module NIR can hold -------*- C++ -*-===//
//
// The hybrid partition of a spiking model, read from its one-token step
// (seqc_step) before lowering: the LIF populations (each seq.lif of each
// layer: its neurons, parameters and downstream fan-out) and the dense
// multiply-accumulates of the host part per layer and outside the layers.
// Private to lib/Target/Neuro.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_TARGET_NEURO_SPIKINGPARTITION_H
#define SEQC_LIB_TARGET_NEURO_SPIKINGPARTITION_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seqc::neuro {

/// Whether `op` is one of the model's dense products, whose multiply-adds
/// the counters count: a linalg contraction or a q4 product (its body
/// unpacks the codes, so it is no contraction by the interface).
bool isDenseProduct(mlir::linalg::LinalgOp op);

/// Whether `op` reads the spikes of a seq.lif.
bool readsSpikes(mlir::linalg::LinalgOp op);

/// One LIF population: the neurons of one seq.lif in one layer.
struct Population {
  int64_t layer = 0; // 0-based; the order of the step's layer calls
  int64_t site = 0;  // the seq.lif's index within its layer
  int64_t neurons = 0;
  float tau = 2, vThreshold = 1, vReset = 0;
  bool hardReset = true, decayInput = true, fireGE = true;
  /// Accumulates one spike does downstream: 1 per elementwise add of the
  /// spikes (into the residual stream), plus the output width of each
  /// projection that reads them.
  int64_t fanout = 0;
  /// Where the seq.lif is (its source location, for messages).
  std::string location;
};

struct SpikingPartition {
  std::vector<Population> populations;
  /// Dense multiply-accumulates per token (contractions whose inputs are
  /// not spikes), per layer and outside the layers (the head).
  std::vector<uint64_t> layerMacs;
  uint64_t headMacs = 0;
  /// seq.lif ops per layer (the same in every layer).
  int64_t sitesPerLayer = 0;
  /// event.c: the event functions (EventCode.cpp) as C; the model's module
  /// keeps their declarations.
  std::string eventC;
};

/// A pass that reads the partition of the module into `*out`; it fails with
/// an error at the module when the module has no seq.lif or no seqc_step.
std::unique_ptr<mlir::Pass>
createSpikingPartitionPass(std::shared_ptr<SpikingPartition> out);

/// A pass that replaces each seq.lif of the layer functions (and the
/// residual add of its spikes) by a call to event-driven code it generates
/// as C into `partition->eventC`, and counts the operations in the module
/// global `seqc_event_counters` reads (EventCode.cpp). Runs after the
/// partition pass, which fills `partition`.
std::unique_ptr<mlir::Pass>
createEventCodePass(std::shared_ptr<SpikingPartition> partition);

/// The number of event counters: 4 per population (spikes, synaptic events,
/// accumulates, membrane updates; population = layer x sites + site), then
/// the dense multiply-accumulates of each layer, then of the head.
int64_t eventCounterCount(const SpikingPartition &partition);

/// The attribute of an event function naming its arguments (for event.c).
constexpr llvm::StringLiteral kEventArgumentNames = "seqc.event_arguments";

/// The event functions of `eventCode` (a module of them alone) as C
/// (EventC.cpp); rewrites the module.
llvm::Expected<std::string> translateEventCodeToC(mlir::ModuleOp eventCode);

/// model.nir: the populations as a NIR 1.0.8 graph in an HDF5 file image.
/// `siteNames` name each layer's sites (att, ffn); `description` is the
/// model's line of the manifest.
struct NIROptions {
  double dt = 1e-4;
  std::vector<std::string> siteNames;
  std::string description;
};
llvm::Expected<std::string> writeNIR(const SpikingPartition &partition,
                                     const NIROptions &options);

/// The population's node name in model.nir (layer0_att).
std::string populationName(const Population &p,
                           const std::vector<std::string> &siteNames);

} // namespace seqc::neuro

#endif // SEQC_LIB_TARGET_NEURO_SPIKINGPARTITION_H
