//===- drivers/null/null_driver.cpp - the skeleton of a driver ------------===//
//
// The driver of target "null": it runs nothing, and every entry refuses with
// a status that names it. It exists to be copied. To add a backend <name>:
//
//   1. Copy this folder to runtime/src/drivers/<name>/ and rename the classes
//      and the factory (nullDriver -> <name>Driver).
//   2. Add `SEQC_DRIVER(<name>, <name>Driver)` to drivers/drivers.def, and
//      the sources to runtime/CMakeLists.txt.
//   3. In Driver::load, find the model's code in ModelInfo::library (model.so,
//      which core has opened: host code, or the device kernels embedded in
//      it), check that this machine can run it, and return an Executable.
//   4. In Executable::init / run, run the entries on the state buffer core
//      owns (ModelInfo::stateBytes bytes, host memory): copy it to the
//      device and back, or keep a device mirror and sync in run().
//   5. The compiler writes `target <name>` in the manifest (artifact.h).
//
// The runtime must keep linking neither MLIR nor LLVM
// (test/Integration/runtime/no-mlir.test checks it).
//
//===----------------------------------------------------------------------===//

#include "core/status.h"
#include "drivers/driver.h"

namespace seqc::rt {
namespace {

class NullExecutable : public Executable {
public:
  seqc_status init(uint8_t *) override {
    return error("null driver: init: this driver runs nothing");
  }
  seqc_status run(Entry, const uint8_t *, size_t, const int32_t *, size_t,
                  uint8_t *, float *, int64_t) override {
    return error("null driver: run: this driver runs nothing");
  }
};

class NullDriver : public Driver {
public:
  const char *name() const override { return "null"; }
  seqc_status load(const ModelInfo &m,
                   std::unique_ptr<Executable> &) const override {
    return error("%s: target null: the null driver runs nothing (it is the "
                 "skeleton new drivers are copied from)",
                 m.libraryPath.c_str());
  }
};

} // namespace

const Driver &nullDriver() {
  static const NullDriver driver;
  return driver;
}

} // namespace seqc::rt
