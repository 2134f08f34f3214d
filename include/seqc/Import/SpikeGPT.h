//===- SpikeGPT.h - SpikeGPT's import options -------------------*- C++ -*-===//
//
// SpikeGPT (ridgerchu/SpikeGPT, RNN mode `model_run.py`) is RWKV-4 with
// leaky integrate-and-fire neurons on the outputs of both halves of every
// block. Its checkpoints have exactly RWKV-4's tensors (the neurons have no
// parameters), so the user names the architecture (`--arch=spikegpt`) and
// says what the checkpoint cannot: these options. The defaults are those of
// the official inference code. lib/Import/SpikeGPT.cpp imports it with the
// RWKV-4 builder of RWKV.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_SPIKEGPT_H
#define SEQC_IMPORT_SPIKEGPT_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace seqc {

struct SpikeGPTOptions {
  /// Embedding rows binarized to (e >= 0) before ln0: nullopt is `auto`, on
  /// exactly when the vocabulary has 77 symbols (as model_run.py decides).
  std::optional<bool> binaryEmbedding;
  /// Every `rescaleEvery` layers the residual is halved, and layer i's
  /// att.output and ffn.value weights are divided by 2^(i / rescaleEvery)
  /// when loaded (RWKV_RESCALE_LAYER); 0: never.
  int64_t rescaleEvery = 6;
  /// The checkpoint must have this many layers (0: whatever it has); the
  /// official configuration's n_layer, checked rather than trusted.
  int64_t layers = 0;
  /// The LIF neurons (seq.lif's attributes): SpikingJelly's LIFNode.
  float tau = 2.0f;
  float vThreshold = 1.0f;
  float vReset = 0.0f;
  bool hardReset = true;
  bool decayInput = true;
  /// Fire when the membrane reaches (>=) the threshold, not only when it
  /// exceeds it (>).
  bool fireGE = true;

  /// Errors for values no LIF neuron can have (the flags' names in them).
  llvm::Error validate() const;
  /// "LIF tau 2, threshold 1, reset 0 (hard), fire >=".
  std::string describeLIF() const;
};

/// State rows of each SpikeGPT layer after RWKV-4's five (att x, aa, bb, pp,
/// ffn x): the membranes of the att and ffn neurons, then their spike counts
/// since the state was initialized (f32, exact up to 2^24 spikes per neuron).
enum SpikeGPTStateRow : int64_t {
  kMembraneAtt = 5,
  kMembraneFfn = 6,
  kSpikeCountAtt = 7,
  kSpikeCountFfn = 8,
  kSpikeGPTRows = 9,
};

} // namespace seqc

#endif // SEQC_IMPORT_SPIKEGPT_H
