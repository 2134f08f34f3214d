//===- drivers/event/event_driver.cpp - the neuro target's event code -----===//
//
// The driver of target "event" (artifacts of --target=neuro). Their model.so
// is the CPU target's library in which the compiler replaced each LIF
// population by event-driven code (lib/Target/Neuro/EventCode.cpp): per
// tick a membrane update of every neuron, an event queue of the neurons
// that fire, and synaptic work only for the spikes dequeued. The host part
// (LayerNorm, WKV, the products) is compiled host code, so this driver runs
// the entries through the CPU driver, one token per tick, and adds what the
// event code counts: `seqc_event_counters` copies the counters (spikes,
// synaptic events, accumulates and membrane updates per population; dense
// multiply-accumulates per layer and of the head) out of the library.
//
// The counters are the library's: one set per loaded model.so, cumulative
// since it was loaded, summed over every session of it (exact when sessions
// of one model do not run concurrently; `seqc-run report` runs one).
//
//===----------------------------------------------------------------------===//

#include "core/status.h"
#include "drivers/driver.h"
#include "seqc/artifact.h"

#include <cerrno>
#include <cstdlib>
#include <vector>

#include <dlfcn.h>

namespace seqc::rt {

const Driver &cpuDriver();

namespace {

struct Counters1D {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
};
using CountersFn = void (*)(Counters1D *out);

class EventExecutable : public Executable {
public:
  EventExecutable(std::unique_ptr<Executable> host, CountersFn counters,
                  size_t count)
      : host(std::move(host)), countersFn(counters), count(count) {}

  seqc_status init(uint8_t *state) override { return host->init(state); }

  seqc_status run(Entry entry, const uint8_t *weights, size_t weightBytes,
                  const int32_t *tokens, size_t n, uint8_t *state,
                  float *logits, int64_t logitRows) override {
    return host->run(entry, weights, weightBytes, tokens, n, state, logits,
                     logitRows);
  }

  size_t counters(int64_t *out, size_t n) const override {
    std::vector<int64_t> all(count);
    Counters1D d = {all.data(), all.data(), 0, {(int64_t)count}, {1}};
    countersFn(&d);
    for (size_t i = 0; i < n && i < count; ++i)
      out[i] = all[i];
    return count;
  }

private:
  std::unique_ptr<Executable> host;
  CountersFn countersFn;
  size_t count;
};

class EventDriver : public Driver {
public:
  const char *name() const override { return "event"; }

  seqc_status load(const ModelInfo &m,
                   std::unique_ptr<Executable> &out) const override {
    auto fn = reinterpret_cast<CountersFn>(
        dlsym(m.library, "_mlir_ciface_seqc_event_counters"));
    const char *key = artifact::keyName(artifact::Key::EventCounters);
    auto it = m.manifest.find(key);
    if (!fn || it == m.manifest.end())
      return error("%s: target event, but the library has no event "
                   "counters (seqc_event_counters) or the manifest no %s; "
                   "compile it again with --target=neuro",
                   m.libraryPath.c_str(), key);
    errno = 0;
    char *end = nullptr;
    long long count = std::strtoll(it->second.c_str(), &end, 10);
    if (errno || end == it->second.c_str() || *end || count <= 0 ||
        count > (1 << 24))
      return error("%s: manifest %s '%s': expected a positive count",
                   m.libraryPath.c_str(), key, it->second.c_str());
    std::unique_ptr<Executable> host;
    if (seqc_status s = cpuDriver().load(m, host))
      return s;
    out = std::make_unique<EventExecutable>(std::move(host), fn, (size_t)count);
    return nullptr;
  }
};

} // namespace

const Driver &eventDriver() {
  static const EventDriver driver;
  return driver;
}

} // namespace seqc::rt
