//===- drivers/cpu/cpu_driver.cpp - compiled host code, called in-process -===//
//
// The CPU target's model.so holds the compiled entries themselves, with
// MLIR's C interface (`_mlir_ciface_*`, memref descriptors). This driver
// finds them, refuses code for instruction-set extensions this CPU lacks,
// and wraps the state buffer in the descriptor the entries expect.
//
//===----------------------------------------------------------------------===//

#include "core/status.h"
#include "drivers/driver.h"
#include "seqc/artifact.h"

#include <sstream>

#include <dlfcn.h>

namespace seqc::rt {
namespace {

/// MLIR's memref descriptor of rank N (the C interface of the entries).
template <int N> struct MemRef {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

template <int N>
MemRef<N> memref(const void *data, std::initializer_list<int64_t> shape) {
  MemRef<N> m;
  m.allocated = m.aligned = const_cast<void *>(data);
  m.offset = 0;
  int i = 0;
  for (int64_t d : shape)
    m.sizes[i++] = d;
  int64_t stride = 1;
  for (int d = N - 1; d >= 0; --d) {
    m.strides[d] = stride;
    stride *= m.sizes[d];
  }
  return m;
}

// Every entry updates the state in place. The state argument is a memref
// descriptor whose type the compiled code fixed: a MemRef<3> of floats for
// recurrent models ([layers, rows, width], the manifest's state_shape), a
// MemRef<1> of bytes (the layers' KV caches) otherwise.
using InitFn = void (*)(void *state);
using ForwardFn = void (*)(MemRef<1> *weights, MemRef<1> *tokens, void *state,
                           MemRef<2> *logits);

/// The manifest's `cpu_features` (the instruction-set extensions the code was
/// compiled to use) that this CPU lacks, comma-separated; empty when it has
/// them all (names this runtime does not know are not checked).
std::string missingCpuFeatures(const ModelInfo &m) {
  auto it = m.manifest.find(artifact::keyName(artifact::Key::CpuFeatures));
  if (it == m.manifest.end())
    return "";
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  struct Feature {
    const char *name;
    bool has;
  };
  const Feature features[] = {
#define SEQC_CPU_FEATURE(name) {#name, __builtin_cpu_supports(#name) != 0},
#include "seqc/cpu_features.def"
  };

  std::string missing;
  std::istringstream in(it->second);
  std::string name;
  while (std::getline(in, name, ',')) {
    for (const Feature &f : features)
      if (name == f.name && !f.has)
        missing += (missing.empty() ? "" : ",") + name;
  }
  return missing;
#else
  return "";
#endif
}

class CpuExecutable : public Executable {
public:
  CpuExecutable(const ModelInfo &m, InitFn init, ForwardFn step,
                ForwardFn prefill, ForwardFn prefillAll)
      : stateShape(m.stateShape), stateBytes(m.stateBytes), vocab(m.vocab),
        initFn(init), stepFn(step), prefillFn(prefill),
        prefillAllFn(prefillAll) {}

  seqc_status init(uint8_t *state) override {
    withStateRef(state, [&](void *st) { initFn(st); });
    return nullptr;
  }

  seqc_status run(Entry entry, const uint8_t *weights, size_t weightBytes,
                  const int32_t *tokens, size_t n, uint8_t *state,
                  float *logits, int64_t logitRows) override {
    ForwardFn fn = entry == Entry::Step      ? stepFn
                   : entry == Entry::Prefill ? prefillFn
                                             : prefillAllFn;
    MemRef<1> w = memref<1>(weights, {(int64_t)weightBytes});
    MemRef<1> t = memref<1>(tokens, {(int64_t)n});
    MemRef<2> l = memref<2>(logits, {logitRows, vocab});
    withStateRef(state, [&](void *st) { fn(&w, &t, st, &l); });
    return nullptr;
  }

private:
  /// Calls `f` with the state's memref descriptor ([L, R, C] or bytes).
  template <typename F> void withStateRef(uint8_t *state, F f) {
    if (stateShape.size() == 3) {
      MemRef<3> st =
          memref<3>(state, {stateShape[0], stateShape[1], stateShape[2]});
      f(static_cast<void *>(&st));
    } else {
      MemRef<1> st = memref<1>(state, {(int64_t)stateBytes});
      f(static_cast<void *>(&st));
    }
  }

  std::vector<int64_t> stateShape;
  size_t stateBytes;
  int64_t vocab;
  InitFn initFn;
  ForwardFn stepFn, prefillFn, prefillAllFn;
};

class CpuDriver : public Driver {
public:
  const char *name() const override { return "cpu"; }

  seqc_status load(const ModelInfo &m,
                   std::unique_ptr<Executable> &out) const override {
    auto sym = [&](const char *name) { return dlsym(m.library, name); };
    auto init = reinterpret_cast<InitFn>(sym("_mlir_ciface_seqc_init_state"));
    auto step = reinterpret_cast<ForwardFn>(sym("_mlir_ciface_seqc_step"));
    auto prefill =
        reinterpret_cast<ForwardFn>(sym("_mlir_ciface_seqc_prefill"));
    auto prefillAll =
        reinterpret_cast<ForwardFn>(sym("_mlir_ciface_seqc_prefill_all"));
    if (!init || !step || !prefill || !prefillAll)
      return error("%s: not a seqc model library (entry points or manifest "
                   "missing)",
                   m.libraryPath.c_str());
    if (m.stateShape.size() != 3 && !m.stateShape.empty())
      return error("%s: the cpu driver takes a state_shape of rank 3",
                   m.libraryPath.c_str());
    // Code for extensions this CPU lacks would stop at an illegal
    // instruction: refuse it here.
    std::string missing = missingCpuFeatures(m);
    if (!missing.empty()) {
      auto cpu = m.manifest.find(artifact::keyName(artifact::Key::Cpu));
      return error("%s: compiled for a CPU with %s, which this one lacks (cpu "
                   "%s in the manifest); compile it again with --cpu=native "
                   "or --cpu=generic",
                   m.libraryPath.c_str(), missing.c_str(),
                   cpu == m.manifest.end() ? "" : cpu->second.c_str());
    }
    out = std::make_unique<CpuExecutable>(m, init, step, prefill, prefillAll);
    return nullptr;
  }
};

} // namespace

const Driver &cpuDriver() {
  static const CpuDriver driver;
  return driver;
}

} // namespace seqc::rt
