//===- SpikeStats.cpp - spike counts of a spiking model's sessions --------===//

#include "SpikeStats.h"

#include <cstdio>
#include <cstring>
#include <sstream>

using namespace seqcrun;

SpikeCounters::SpikeCounters(const seqc_model *model) {
  const char *siteList = seqc_model_get(model, "spike_sites");
  const char *rowList = seqc_model_get(model, "spike_count_rows");
  const char *shape = seqc_model_get(model, "state_shape");
  if (!siteList || !rowList || !shape)
    return;
  std::istringstream s(siteList), r(rowList), d(shape);
  for (std::string x; s >> x;)
    sites.push_back(x);
  for (long x; r >> x;)
    rows.push_back(x);
  d >> layers >> rowsPerLayer >> width;
  bool ok = d && rows.size() == sites.size() && layers > 0 && width > 0;
  for (long row : rows)
    ok = ok && row >= 0 && row < rowsPerLayer;
  if (!ok)
    sites.clear();
}

SpikeCounters::Reading SpikeCounters::read(const seqc_session *session) const {
  size_t bytes = 0;
  const float *state =
      static_cast<const float *>(seqc_session_state_data(session, &bytes));
  Reading out(sites.size(), std::vector<double>(layers, 0.0));
  if (bytes < sizeof(float) * layers * rowsPerLayer * width)
    return out;
  for (size_t i = 0; i < sites.size(); ++i)
    for (long l = 0; l < layers; ++l) {
      const float *row = state + (l * rowsPerLayer + rows[i]) * width;
      for (long c = 0; c < width; ++c)
        out[i][l] += row[c];
    }
  return out;
}

std::string SpikeCounters::text(const Reading &before, const Reading &after,
                                double tokens) const {
  double total = 0;
  for (size_t i = 0; i < sites.size(); ++i)
    for (long l = 0; l < layers; ++l)
      total += after[i][l] - before[i][l];
  double neurons = (double)sites.size() * layers * width;
  char line[256];
  std::snprintf(line, sizeof line,
                "spikes: %.1f per token over %.0f tokens (firing rate %.4f "
                "of %.0f neurons)\n",
                tokens > 0 ? total / tokens : 0.0, tokens,
                tokens > 0 ? total / tokens / neurons : 0.0, neurons);
  std::string out = line;
  out += "firing rate per layer:\n  layer";
  for (const std::string &site : sites) {
    std::snprintf(line, sizeof line, "  %6s", site.c_str());
    out += line;
  }
  out += "\n";
  for (long l = 0; l < layers; ++l) {
    std::snprintf(line, sizeof line, "  %5ld", l);
    out += line;
    for (size_t i = 0; i < sites.size(); ++i) {
      double rate =
          tokens > 0 ? (after[i][l] - before[i][l]) / tokens / width : 0.0;
      std::snprintf(line, sizeof line, "  %.4f", rate);
      out += line;
    }
    out += "\n";
  }
  return out;
}

std::string SpikeCounters::json(const Reading &before, const Reading &after,
                                double tokens,
                                const std::string &indent) const {
  std::ostringstream o;
  double total = 0;
  for (size_t i = 0; i < sites.size(); ++i)
    for (long l = 0; l < layers; ++l)
      total += after[i][l] - before[i][l];
  double neurons = (double)sites.size() * layers * width;
  o << indent << "\"spike_tokens\": " << tokens << ",\n"
    << indent << "\"spikes_per_token\": " << (tokens > 0 ? total / tokens : 0)
    << ",\n"
    << indent
    << "\"firing_rate\": " << (tokens > 0 ? total / tokens / neurons : 0)
    << ",\n"
    << indent << "\"firing_rate_per_layer\": {";
  for (size_t i = 0; i < sites.size(); ++i) {
    o << (i ? ", " : "") << "\"" << sites[i] << "\": [";
    for (long l = 0; l < layers; ++l)
      o << (l ? ", " : "")
        << (tokens > 0 ? (after[i][l] - before[i][l]) / tokens / width : 0);
    o << "]";
  }
  o << "}";
  return o.str();
}
