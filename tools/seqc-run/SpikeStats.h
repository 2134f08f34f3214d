//===- SpikeStats.h - spike counts of spiking models ------------*- C++ -*-===//
//
// A spiking model (SpikeGPT) counts each neuron's spikes in rows of its
// recurrent state (the manifest's spike_sites and spike_count_rows name
// them), so the counts are read from the state buffer: they cost the compiled
// code one add per neuron and token and no interface of their own, and they
// cover prefill as well as steps. seqc-run reports spikes per token and the
// firing rate of each layer and site from the difference of two readings.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TOOLS_SEQC_RUN_SPIKESTATS_H
#define SEQC_TOOLS_SEQC_RUN_SPIKESTATS_H

#include "seqc/runtime.h"

#include <string>
#include <vector>

namespace seqcrun {

class SpikeCounters {
public:
  /// The counters of `model`; empty() when it has none (or its manifest's
  /// entries are inconsistent).
  explicit SpikeCounters(const seqc_model *model);
  bool empty() const { return sites.empty(); }

  /// Spikes so far by site and layer (summed over the layer's neurons).
  using Reading = std::vector<std::vector<double>>;
  Reading read(const seqc_session *session) const;

  /// Text lines for people: spikes per token, the overall firing rate, and
  /// the rate per layer and site, over the `tokens` fed between two readings.
  std::string text(const Reading &before, const Reading &after,
                   double tokens) const;
  /// The same as JSON members (no braces): "spikes_per_token": ...,
  /// "firing_rate": ..., "firing_rate_per_layer": {"att": [...], ...}.
  std::string json(const Reading &before, const Reading &after, double tokens,
                   const std::string &indent) const;

private:
  std::vector<std::string> sites;
  std::vector<long> rows;
  long layers = 0, rowsPerLayer = 0, width = 0;
};

} // namespace seqcrun

#endif // SEQC_TOOLS_SEQC_RUN_SPIKESTATS_H
