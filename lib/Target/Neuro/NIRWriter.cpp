//===- NIRWriter.cpp - model.nir through libhdf5's C API ------------------===//
//
// The layout is the `nir` package's (nir/serialization.py, 1.0.8): a vlen
// UTF-8 string `/version`, the root graph in group `/node`; every node a
// group with a scalar string dataset `type` and one dataset per field of its
// dataclass (Input/Output: `shape`), an optional `metadata` group of scalar
// datasets; a graph has `nodes/<name>/...` and `edges`, an (N, 2) array of
// vlen strings. nir.read passes every dataset to the node's constructor, so
// a node holds exactly its fields (an extra one is a TypeError).
//
// The file is built in memory (the core driver without a backing store) and
// written by the caller through the artifact, atomically.
//
// SpikingJelly's discrete LIF (tau in steps, decay_input) maps onto NIR's
// continuous tau * dv/dt = (v_leak - v) + r * I, integrated by forward Euler
// at step dt, as SpikingJelly's own NIR exporter does:
//   tau = tau_steps * dt, v_leak = v_reset,
//   r = 1 with decay_input (the input is divided by tau_steps too),
//   r = tau_steps without it.
//
//===----------------------------------------------------------------------===//

#include "SpikingPartition.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <hdf5.h>

#include <cstdio>

using namespace seqc::neuro;

namespace {

/// An HDF5 handle closed with `close` when it goes out of scope.
class Handle {
public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id(id), close(close) {}
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;
  ~Handle() {
    if (id >= 0)
      close(id);
  }
  operator hid_t() const { return id; }
  bool ok() const { return id >= 0; }

private:
  hid_t id;
  herr_t (*close)(hid_t);
};

/// Writes datasets, remembering the first failure (libhdf5's own error
/// stack is silenced: the message names the dataset instead).
class Writer {
public:
  std::string error;

  bool failed(bool bad, const llvm::Twine &what) {
    if (bad && error.empty())
      error = ("cannot write " + what).str();
    return bad;
  }

  hid_t group(hid_t parent, const std::string &name) {
    hid_t g =
        H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    failed(g < 0, "group " + name);
    return g;
  }

  void string(hid_t parent, const std::string &name, const std::string &v) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (failed(!type.ok() || H5Tset_size(type, H5T_VARIABLE) < 0 ||
                   H5Tset_cset(type, H5T_CSET_UTF8) < 0,
               "string type"))
      return;
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle ds(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    const char *p = v.c_str();
    failed(!ds.ok() ||
               H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0,
           name);
  }

  void scalar(hid_t parent, const std::string &name, double v) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle ds(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F64LE, space,
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    failed(!ds.ok() || H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, &v) < 0,
           name);
  }

  void scalar(hid_t parent, const std::string &name, int64_t v) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle ds(H5Dcreate2(parent, name.c_str(), H5T_STD_I64LE, space,
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    failed(!ds.ok() || H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, &v) < 0,
           name);
  }

  void floats(hid_t parent, const std::string &name,
              const std::vector<float> &v) {
    hsize_t dims[1] = {v.size()};
    Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    Handle ds(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F32LE, space,
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    failed(!ds.ok() || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, v.data()) < 0,
           name);
  }

  void ints(hid_t parent, const std::string &name,
            const std::vector<int64_t> &v) {
    hsize_t dims[1] = {v.size()};
    Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    Handle ds(H5Dcreate2(parent, name.c_str(), H5T_STD_I64LE, space,
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    failed(!ds.ok() || H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, v.data()) < 0,
           name);
  }

  void edges(hid_t parent,
             const std::vector<std::pair<std::string, std::string>> &e) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (failed(!type.ok() || H5Tset_size(type, H5T_VARIABLE) < 0 ||
                   H5Tset_cset(type, H5T_CSET_UTF8) < 0,
               "string type"))
      return;
    std::vector<const char *> cells;
    for (const auto &[from, to] : e) {
      cells.push_back(from.c_str());
      cells.push_back(to.c_str());
    }
    hsize_t dims[2] = {e.size(), 2};
    Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    Handle ds(H5Dcreate2(parent, "edges", type, space, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT),
              H5Dclose);
    failed(!ds.ok() || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                cells.data()) < 0,
           "edges");
  }
};

std::string fmt(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

} // namespace

llvm::Expected<std::string>
seqc::neuro::writeNIR(const SpikingPartition &partition,
                      const NIROptions &options) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.ok() || H5Pset_fapl_core(fapl, 1 << 20, /*backing_store=*/0) < 0)
    return llvm::createStringError("model.nir: libhdf5 cannot make an "
                                   "in-memory file");
  Handle file(H5Fcreate("model.nir", H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
              H5Fclose);
  if (!file.ok())
    return llvm::createStringError("model.nir: libhdf5 cannot create the "
                                   "file");
  Writer w;
  w.string(file, "version", "1.0.8");
  {
    Handle root(w.group(file, "node"), H5Gclose);
    w.string(root, "type", "NIRGraph");
    Handle nodes(w.group(root, "nodes"), H5Gclose);
    std::vector<std::pair<std::string, std::string>> edges;
    double dt = options.dt;
    for (const Population &p : partition.populations) {
      std::string name = populationName(p, options.siteNames);
      std::string in = name + "_input", out = name + "_output";
      std::vector<int64_t> shape = {p.neurons};
      {
        Handle g(w.group(nodes, in), H5Gclose);
        w.string(g, "type", "Input");
        w.ints(g, "shape", shape);
      }
      {
        Handle g(w.group(nodes, out), H5Gclose);
        w.string(g, "type", "Output");
        w.ints(g, "shape", shape);
      }
      Handle g(w.group(nodes, name), H5Gclose);
      w.string(g, "type", "LIF");
      size_t n = p.neurons;
      w.floats(g, "tau", std::vector<float>(n, (float)(p.tau * dt)));
      w.floats(g, "r",
               std::vector<float>(n, p.decayInput ? 1.0f : (float)p.tau));
      w.floats(g, "v_leak", std::vector<float>(n, p.vReset));
      w.floats(g, "v_threshold", std::vector<float>(n, p.vThreshold));
      w.floats(g, "v_reset", std::vector<float>(n, p.vReset));
      Handle meta(w.group(g, "metadata"), H5Gclose);
      w.scalar(meta, "layer", p.layer);
      w.string(meta, "site",
               (size_t)p.site < options.siteNames.size()
                   ? options.siteNames[p.site]
                   : "lif" + std::to_string(p.site));
      w.string(meta, "fire", p.fireGE ? "ge" : "gt");
      w.string(meta, "fire_rule",
               p.fireGE ? "spike when v >= v_threshold (NIR's LIF: v > "
                          "v_threshold; they differ only when v equals "
                          "v_threshold exactly)"
                        : "spike when v > v_threshold (as NIR's LIF)");
      w.string(meta, "reset", p.hardReset ? "hard" : "soft");
      w.string(meta, "reset_rule",
               p.hardReset ? "v = v_reset after a spike (as NIR's LIF)"
                           : "v = v - v_threshold after a spike (NIR's LIF "
                             "cannot express it: it resets to v_reset)");
      w.scalar(meta, "decay_input", (int64_t)p.decayInput);
      w.scalar(meta, "dt", dt);
      w.scalar(meta, "tau_steps", (double)p.tau);
      w.string(meta, "discretisation",
               "one step per token: h = v + (I - (v - v_reset)) / tau_steps "
               "(decay_input) or h = v - (v - v_reset) / tau_steps + I; "
               "forward Euler of NIR's LIF at dt with tau = tau_steps * dt");
      w.string(meta, "input",
               "current from the host part, one value per neuron and step");
      w.string(meta, "output",
               p.fanout == 1 ? "spikes added to the residual stream of the "
                               "host part (one accumulate per spike)"
                             : "spikes to the host part");
      w.scalar(meta, "fanout", p.fanout);
      if (p.location != "loc(unknown)")
        w.string(meta, "source", p.location);
      edges.push_back({in, name});
      edges.push_back({name, out});
    }
    w.edges(root, edges);
    Handle meta(w.group(root, "metadata"), H5Gclose);
    w.string(meta, "producer", "seqc --target=neuro");
    w.string(meta, "model", options.description);
    w.string(meta, "partition",
             "hybrid: one Input -> LIF -> Output population per LIF site and "
             "layer; the host computes each population's input current and "
             "receives its spikes");
    w.string(meta, "host_part",
             "not expressible in NIR 1.0.8, computed by the host (model.so): "
             "LayerNorm (ln0, ln1, ln2, ln_out); token shift (a mix of two "
             "time steps); WKV (exp, max, division); sigmoid; squared ReLU; "
             "products of two signals (r * wkv, r * kv); every projection "
             "(its input is LN(x), real-valued, not spikes); the head");
    uint64_t hostMacs = partition.headMacs;
    for (uint64_t m : partition.layerMacs)
      hostMacs += m;
    w.scalar(meta, "host_macs_per_token", (int64_t)hostMacs);
    w.scalar(meta, "layers", (int64_t)partition.layerMacs.size());
    w.scalar(meta, "dt", dt);
    w.string(meta, "fire_mapping",
             "SpikeGPT (SpikingJelly) fires on v >= v_threshold, NIR's LIF on "
             "v > v_threshold; the parameters are SpikeGPT's and each "
             "population's metadata records fire=ge: a simulator that follows "
             "NIR differs only when a membrane equals the threshold exactly");
    w.string(meta, "parameter_mapping",
             "tau = tau_steps * dt, r = 1 (decay_input) or tau_steps, v_leak = "
             "v_reset, v_threshold and v_reset as in the model; dt = " +
                 fmt(dt) + " s per token");
  }
  if (!w.error.empty())
    return llvm::createStringError("model.nir: libhdf5: " + w.error);
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    return llvm::createStringError("model.nir: libhdf5 cannot flush the file");
  ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size <= 0)
    return llvm::createStringError("model.nir: libhdf5 gives no file image");
  std::string image(size, '\0');
  if (H5Fget_file_image(file, image.data(), size) != size)
    return llvm::createStringError("model.nir: libhdf5 gives a short file "
                                   "image");
  return image;
}
