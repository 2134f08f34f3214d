//===- Report.cpp - seqc-run report: operations and energy per token ------===//
//
//   seqc-run report ARTIFACT (--tokens 1,2,3 | -p TEXT) [-n N] [-o FILE]
//                   [--plot FILE.svg]
//
// For an artifact of --target=neuro: feeds the tokens one step at a time
// (then N more, each the previous step's most likely token), reads the
// event code's counters (the event driver's) and the spike counters of the
// state after every step, and writes the operation and energy report as
// JSON: per token and per layer, as the compiled code counted them, the
// dense host part's multiply-accumulates (MACs), the accumulates the event
// code does for dequeued spikes (ACs, one per spike added to the residual
// stream), synaptic events, spikes and firing rate per population, membrane
// updates; and two energy rows, labelled: as
// built (MAC x 4.6 pJ + AC x 0.9 pJ) and the paper convention's what-if
// (the projections priced as spike-driven at the measured firing rate).
// --plot draws the firing rates and the two energy rows per layer (SVG).
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "SpikeStats.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

using namespace seqcrun;

namespace {

// Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: FP32 multiply
// 3.7 pJ + add 0.9 pJ.
constexpr double kMacPJ = 4.6, kAcPJ = 0.9;

std::vector<double> numbers(const seqc_model *model, const char *key) {
  std::vector<double> out;
  const char *text = seqc_model_get(model, key);
  if (!text)
    return out;
  std::istringstream in(text);
  for (double v; in >> v;)
    out.push_back(v);
  return out;
}

std::string num(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.12g", v);
  return text;
}

std::string list(const std::vector<double> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + num(v[i]);
  return s + "]";
}

std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if ((unsigned char)c < 0x20)
      continue;
    out += c;
  }
  return out + "\"";
}

std::string shortNum(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

/// Two panels of bars, one group per layer: the populations' firing rates,
/// and the two energy rows (nJ per token).
std::string svgPlot(const std::vector<std::string> &sites,
                    const std::vector<std::vector<double>> &rates,
                    const std::vector<double> &asBuilt,
                    const std::vector<double> &whatIf) {
  size_t layers = asBuilt.size();
  const int W = 640, H = 220, left = 60, top = 30, plotH = 140;
  const char *colors[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52"};
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W
    << "\" height=\"" << 2 * H << "\" font-family=\"sans-serif\" "
    << "font-size=\"11\">\n";
  auto panel = [&](int y0, const std::string &title,
                   const std::vector<std::string> &names,
                   const std::vector<std::vector<double>> &series,
                   const char *unit) {
    double top_ = 0;
    for (const auto &v : series)
      for (double x : v)
        top_ = std::max(top_, x);
    if (!(top_ > 0))
      top_ = 1;
    double groupW = (double)(W - left - 20) / std::max<size_t>(1, layers);
    double barW = groupW * 0.8 / std::max<size_t>(1, series.size());
    o << "<text x=\"" << left << "\" y=\"" << y0 + 15 << "\" "
      << "font-weight=\"bold\">" << title << "</text>\n";
    int base = y0 + top + plotH;
    o << "<line x1=\"" << left << "\" y1=\"" << base << "\" x2=\"" << W - 20
      << "\" y2=\"" << base << "\" stroke=\"black\"/>\n";
    o << "<text x=\"" << left - 5 << "\" y=\"" << y0 + top + 4
      << "\" text-anchor=\"end\">" << shortNum(top_) << "</text>\n"
      << "<text x=\"" << left - 5 << "\" y=\"" << base
      << "\" text-anchor=\"end\">0</text>\n"
      << "<text x=\"5\" y=\"" << y0 + top + plotH / 2 << "\">" << unit
      << "</text>\n";
    for (size_t l = 0; l < layers; ++l) {
      double gx = left + l * groupW + groupW * 0.1;
      for (size_t k = 0; k < series.size(); ++k) {
        double h = series[k][l] / top_ * plotH;
        o << "<rect x=\"" << gx + k * barW << "\" y=\"" << base - h
          << "\" width=\"" << barW * 0.95 << "\" height=\"" << h << "\" fill=\""
          << colors[k % 4] << "\"><title>layer " << l << " " << names[k] << ": "
          << shortNum(series[k][l]) << "</title></rect>\n";
      }
      o << "<text x=\"" << gx + groupW * 0.4 << "\" y=\"" << base + 14
        << "\" text-anchor=\"middle\">layer " << l << "</text>\n";
    }
    for (size_t k = 0; k < names.size(); ++k)
      o << "<rect x=\"" << W - 220 << "\" y=\"" << y0 + 5 + 14 * k
        << "\" width=\"10\" height=\"10\" fill=\"" << colors[k % 4]
        << "\"/><text x=\"" << W - 205 << "\" y=\"" << y0 + 14 + 14 * k << "\">"
        << names[k] << "</text>\n";
  };
  panel(0, "firing rate per population", sites, rates, "rate");
  std::vector<double> a, b;
  for (size_t l = 0; l < layers; ++l) {
    a.push_back(asBuilt[l] / 1000);
    b.push_back(whatIf[l] / 1000);
  }
  panel(H, "energy per token and layer (45 nm, Horowitz 2014)",
        {"as built", "paper-convention what-if"}, {a, b}, "nJ");
  o << "</svg>\n";
  return o.str();
}

} // namespace

int seqcrun::cmdReport(Args &args) {
  Loaded l;
  load(l, args.positional.at(0), args);
  std::vector<int32_t> ids = inputTokens(l, args, "report");
  long more = (long)args.integer("-n", 0, 0, 1000000);
  std::string out = args.str("-o", "-");
  std::string plot = args.str("--plot", "");
  args.finish();
  if (ids.empty())
    die("report: the text has no tokens");
  if (out != "-")
    checkOutputPath(out);
  if (!plot.empty())
    checkOutputPath(plot);

  SpikeCounters counters(l.model);
  std::vector<double> layerMacs = numbers(l.model, "neuro_layer_macs");
  std::vector<double> head = numbers(l.model, "neuro_head_macs");
  std::vector<double> fanout = numbers(l.model, "neuro_site_fanout");
  const char *shape = seqc_model_get(l.model, "state_shape");
  const char *sitesText = seqc_model_get(l.model, "spike_sites");
  if (counters.empty() || layerMacs.empty() || head.size() != 1 || !shape ||
      !sitesText)
    die("report: the artifact has no operation counts (compile it with "
        "--target=neuro)");
  std::vector<std::string> sites;
  {
    std::istringstream in(sitesText);
    for (std::string s; in >> s;)
      sites.push_back(s);
  }
  long layers = 0, rows = 0, width = 0;
  std::istringstream(shape) >> layers >> rows >> width;
  if ((long)layerMacs.size() != layers || fanout.size() != sites.size() ||
      width <= 0)
    die("report: the manifest's operation counts do not match its state "
        "shape");
  const char *description = seqc_model_get(l.model, "description");

  // The event code's counters: 4 per population (layer x sites + site:
  // spikes, synaptic events, accumulates, membrane updates), then the dense
  // MACs of each layer and of the head.
  const size_t nsites = sites.size();
  const size_t popCounters = 4 * (size_t)layers * nsites;
  std::vector<double> declared = numbers(l.model, "event_counters");
  size_t ncounters = seqc_model_counters(l.model, nullptr, 0);
  if (ncounters == 0)
    die("report: the artifact has no event counters (compile it again with "
        "--target=neuro)");
  if (declared.size() != 1 || (size_t)declared[0] != ncounters ||
      ncounters != popCounters + (size_t)layers + 1)
    die("report: the event counters (" + std::to_string(ncounters) +
        ") do not match the manifest's layers and sites");
  auto readCounters = [&] {
    std::vector<int64_t> c(ncounters);
    seqc_model_counters(l.model, c.data(), c.size());
    return c;
  };

  // One step per token; the spikes of each step from the state's spike
  // counts, and every operation from the event counters.
  seqc_session *s;
  check(seqc_session_create(l.model, &s));
  std::vector<SpikeCounters::Reading> steps; // [token][site][layer]
  std::vector<std::vector<int64_t>> counted; // [token][counter]
  std::vector<int32_t> fed;
  SpikeCounters::Reading before = counters.read(s);
  std::vector<int64_t> countedBefore = readCounters();
  int32_t vocab = seqc_model_vocab(l.model);
  for (size_t i = 0; i < ids.size() + (size_t)more; ++i) {
    int32_t tok;
    if (i < ids.size()) {
      tok = ids[i];
    } else {
      const float *logits = seqc_session_logits(s);
      tok = (int32_t)(std::max_element(logits, logits + vocab) - logits);
    }
    check(seqc_session_step(s, tok));
    fed.push_back(tok);
    SpikeCounters::Reading after = counters.read(s);
    SpikeCounters::Reading d = after;
    for (size_t k = 0; k < d.size(); ++k)
      for (long j = 0; j < layers; ++j)
        d[k][j] -= before[k][j];
    steps.push_back(d);
    before = after;
    std::vector<int64_t> c = readCounters(), dc(ncounters);
    for (size_t k = 0; k < ncounters; ++k)
      dc[k] = c[k] - countedBefore[k];
    countedBefore = c;
    // The event code's spikes are the state's: anything else is a broken
    // artifact, not a report.
    for (size_t k = 0; k < nsites; ++k)
      for (long j = 0; j < layers; ++j)
        if ((double)dc[4 * (j * nsites + k)] != d[k][j])
          die("report: token " + std::to_string(i) + ": layer " +
              std::to_string(j) + " " + sites[k] + ": the event code counted " +
              std::to_string(dc[4 * (j * nsites + k)]) + " spikes, the state " +
              num(d[k][j]));
    counted.push_back(dc);
  }
  seqc_session_free(s);
  double tokens = (double)fed.size();
  auto mean = [&](size_t k) {
    double n = 0;
    for (const auto &c : counted)
      n += (double)c[k];
    return n / tokens;
  };

  // Per layer, averaged over the tokens.
  std::ostringstream o;
  double headMacs = mean(popCounters + layers);
  double allMacs = headMacs, allAcs = 0, allSpikes = 0, allUpdates = 0,
         allEvents = 0;
  double whatIf = headMacs * kMacPJ;
  std::string perLayer;
  std::vector<std::vector<double>> rates(sites.size());
  std::vector<double> layerAsBuilt, layerWhatIf;
  for (long j = 0; j < layers; ++j) {
    double spikes = 0, acs = 0, updates = 0, events = 0;
    double macs = mean(popCounters + j);
    std::string pops;
    for (size_t k = 0; k < nsites; ++k) {
      size_t p = 4 * (j * nsites + k);
      double n = mean(p), ev = mean(p + 1), ac = mean(p + 2), up = mean(p + 3);
      spikes += n;
      acs += ac;
      events += ev;
      updates += up;
      rates[k].push_back(n / up);
      pops += (k ? ", " : "") + quoted(sites[k]) +
              ": {\"neurons\": " + num(width) + ", \"spikes\": " + num(n) +
              ", \"firing_rate\": " + num(n / up) +
              ", \"fanout\": " + num(fanout[k]) + ", \"acs\": " + num(ac) +
              ", \"synaptic_events\": " + num(ev) +
              ", \"membrane_updates\": " + num(up) + "}";
    }
    double rate = spikes / updates;
    double asBuilt = macs * kMacPJ + acs * kAcPJ;
    double paper = macs * rate * kAcPJ + acs * kAcPJ;
    layerAsBuilt.push_back(asBuilt);
    layerWhatIf.push_back(paper);
    allAcs += acs;
    allEvents += events;
    allSpikes += spikes;
    allUpdates += updates;
    allMacs += macs;
    whatIf += paper;
    perLayer += std::string(j ? ",\n" : "") +
                "    {\"layer\": " + std::to_string(j) +
                ", \"dense_macs\": " + num(macs) +
                ", \"compiler_dense_macs\": " + num(layerMacs[j]) +
                ", \"acs\": " + num(acs) + ", \"spikes\": " + num(spikes) +
                ", \"firing_rate\": " + num(rate) +
                ", \"synaptic_events\": " + num(events) +
                ", \"membrane_updates\": " + num(updates) +
                ", \"energy_as_built_pj\": " + num(asBuilt) +
                ", \"energy_paper_convention_what_if_pj\": " + num(paper) +
                ",\n     \"populations\": {" + pops + "}}";
  }
  double asBuilt = allMacs * kMacPJ + allAcs * kAcPJ;

  o << "{\n";
  o << "  \"model\": " << quoted(description ? description : "") << ",\n";
  o << "  \"tokens\": " << num(tokens) << ",\n";
  o << "  \"prompt_tokens\": " << ids.size() << ",\n";
  o << "  \"layers\": " << layers << ",\n";
  o << "  \"populations\": " << layers * (long)sites.size() << ",\n";
  o << "  \"constants\": {\"e_mac_pj\": " << num(kMacPJ)
    << ", \"e_ac_pj\": " << num(kAcPJ)
    << ", \"source\": \"Horowitz, Computing's energy problem, ISSCC 2014: "
       "45 nm, FP32 multiply 3.7 pJ + add 0.9 pJ = MAC 4.6 pJ, add 0.9 pJ = "
       "AC\", \"excludes\": \"memory and data movement; the host part's "
       "elementwise work (LayerNorm, WKV, sigmoid, token shift)\"},\n";
  o << "  \"definitions\": {\"dense_macs\": \"multiply-accumulates of the "
       "host part's contractions per token (projections and head), counted "
       "by the compiled code as it runs (compiler_dense_macs: the "
       "compiler's static count)\", \"acs\": \"accumulates the event code "
       "does for dequeued spikes (a spike adds 1 to the residual stream)\", "
       "\"membrane_updates\": \"LIF neurons the event code updated per "
       "token (every neuron, every tick)\", \"synaptic_events\": \"spikes "
       "dequeued and delivered to a target\"},\n";
  o << "  \"counted_by\": \"the event code's counters (model.so's "
       "seqc_event_counters, read by the event driver after every step)\",\n";
  o << "  \"per_token\": {\"dense_macs\": " << num(allMacs)
    << ", \"head_macs\": " << num(headMacs)
    << ", \"compiler_head_macs\": " << num(head[0])
    << ", \"acs\": " << num(allAcs) << ", \"spikes\": " << num(allSpikes)
    << ", \"synaptic_events\": " << num(allEvents)
    << ", \"membrane_updates\": " << num(allUpdates)
    << ", \"firing_rate\": " << num(allSpikes / allUpdates) << "},\n";
  o << "  \"energy_per_token_pj\": {\n"
    << "    \"as_built\": {\"label\": \"as built: the code seqc compiles; "
       "every projection reads LN(x), real-valued, so every MAC is priced "
       "at E_MAC, and only the spikes' residual adds at E_AC\", \"formula\": "
       "\"MAC x 4.6 + AC x 0.9\", \"pj\": "
    << num(asBuilt) << "},\n"
    << "    \"paper_convention_what_if\": {\"label\": \"what-if, not what "
       "seqc builds: the SpikeGPT paper's convention prices each layer's "
       "projections as spike-driven accumulates at that layer's measured "
       "firing rate; the head stays at E_MAC\", \"formula\": \"layer MAC x "
       "firing rate x 0.9 + AC x 0.9 + head MAC x 4.6\", \"pj\": "
    << num(whatIf) << "}\n  },\n";
  o << "  \"per_layer\": [\n" << perLayer << "\n  ],\n";
  o << "  \"trace\": [\n";
  for (size_t t = 0; t < steps.size(); ++t) {
    o << "    {\"token\": " << fed[t] << ", \"spikes\": {";
    for (size_t k = 0; k < sites.size(); ++k)
      o << (k ? ", " : "") << quoted(sites[k]) << ": " << list(steps[t][k]);
    // The counters of this token, as the event code counted them.
    const std::vector<int64_t> &c = counted[t];
    o << "}, \"counted\": {";
    const char *fields[] = {"spikes", "synaptic_events", "acs",
                            "membrane_updates"};
    for (size_t k = 0; k < nsites; ++k) {
      o << quoted(sites[k]) << ": {";
      for (size_t f = 0; f < 4; ++f) {
        std::vector<double> v;
        for (long j = 0; j < layers; ++j)
          v.push_back((double)c[4 * (j * nsites + k) + f]);
        o << (f ? ", " : "") << quoted(fields[f]) << ": " << list(v);
      }
      o << "}, ";
    }
    std::vector<double> macs;
    for (long j = 0; j < layers; ++j)
      macs.push_back((double)c[popCounters + j]);
    o << "\"dense_macs\": " << list(macs)
      << ", \"head_macs\": " << num((double)c[popCounters + layers]) << "}}"
      << (t + 1 < steps.size() ? ",\n" : "\n");
  }
  o << "  ]\n}\n";
  if (out == "-")
    std::fputs(o.str().c_str(), stdout);
  else
    writeOutputFile(out, o.str());
  if (!plot.empty())
    writeOutputFile(plot, svgPlot(sites, rates, layerAsBuilt, layerWhatIf));
  std::fprintf(stderr,
               "report: %.0f tokens: %.0f dense MACs, %.1f ACs, %.1f spikes "
               "(firing rate %.4f), %.0f membrane updates per token; energy "
               "per token as built %.1f nJ, paper-convention what-if %.1f "
               "nJ\n",
               tokens, allMacs, allAcs, allSpikes, allSpikes / allUpdates,
               allUpdates, asBuilt / 1000, whatIf / 1000);
  return 0;
}
