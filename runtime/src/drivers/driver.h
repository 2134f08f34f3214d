//===- drivers/driver.h - the boundary between core and a backend *- C++
//-*-===//
//
// The runtime's core (runtime/src/core) loads an artifact: it opens model.so
// (the host library every target's artifact has, holding the manifest),
// parses the manifest, maps weights.bin and owns sessions, whose state is
// always one byte buffer sized from the manifest. Everything that depends on
// how the compiled code runs sits behind this interface: a Driver, chosen by
// the manifest's `target` key, loads the model's Executable, which runs the
// four entries on a state buffer.
//
// A new backend adds runtime/src/drivers/<name>/, copied from drivers/null/,
// and one line in drivers/drivers.def; core does not change.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_DRIVERS_DRIVER_H
#define SEQC_RUNTIME_DRIVERS_DRIVER_H

#include "seqc/runtime.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace seqc::rt {

/// What core knows about a model when it asks a driver to load it.
struct ModelInfo {
  /// The artifact directory, and model.so's path within it (for messages).
  std::string dir, libraryPath;
  /// model.so, opened by core (dlopen handle); the driver finds its entries
  /// or its embedded kernels there. Core closes it after the executable.
  void *library = nullptr;
  /// Every manifest line, known keys or not.
  std::map<std::string, std::string> manifest;
  int32_t vocab = 0;
  /// Recurrent models: the state as f32 [layers, rows, width] (the
  /// manifest's state_shape); empty when the manifest gives state_bytes.
  std::vector<int64_t> stateShape;
  /// The state buffer's size in bytes (either way).
  size_t stateBytes = 0;
};

/// The entries a compiled model provides.
enum class Entry {
  /// One token; logits of the last token.
  Step,
  /// A chunk of tokens; logits of the last token.
  Prefill,
  /// A chunk of tokens; logits of every token.
  PrefillAll,
};

/// A loaded model's code. Every call updates the state buffer in place.
class Executable {
public:
  virtual ~Executable() = default;
  /// Writes the initial (empty) state.
  virtual seqc_status init(uint8_t *state) = 0;
  /// Feeds `n` tokens through `entry`; writes `logitRows` rows of vocab
  /// floats to `logits`.
  virtual seqc_status run(Entry entry, const uint8_t *weights,
                          size_t weightBytes, const int32_t *tokens, size_t n,
                          uint8_t *state, float *logits, int64_t logitRows) = 0;
  /// Operation counters the code keeps (the event driver's); copies up to
  /// `n` into `out` and returns how many there are (0: none).
  virtual size_t counters(int64_t *out, size_t n) const { return 0; }
  /// Core is about to read the host bytes of `state` (a save, the state
  /// view, a fork): a driver that keeps the newest state on its device
  /// copies it back first.
  virtual seqc_status syncState(uint8_t *state) { return nullptr; }
  /// Core wrote the host bytes of `state` (a restore, a fork's copy) or is
  /// about to free them: a driver that keeps a device copy of that state
  /// drops it.
  virtual void stateChanged(const uint8_t *state) {}
};

/// A backend: turns a model's artifact into an Executable.
class Driver {
public:
  virtual ~Driver() = default;
  /// The manifest `target` it runs.
  virtual const char *name() const = 0;
  /// Loads the model's code, or refuses (a status naming the cause).
  virtual seqc_status load(const ModelInfo &model,
                           std::unique_ptr<Executable> &out) const = 0;
};

/// The driver registered for `target` (drivers/drivers.def), or null.
const Driver *findDriver(const std::string &target);
/// The registered targets, comma-separated (for messages).
std::string driverNames();

} // namespace seqc::rt

#endif // SEQC_RUNTIME_DRIVERS_DRIVER_H
