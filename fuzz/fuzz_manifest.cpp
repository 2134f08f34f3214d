//===- fuzz_manifest.cpp - libFuzzer harness: artifact manifests ----------===//
//
// The manifest text of model.so ("key value" lines) as the runtime reads it:
// a manifest it accepts describes a state, vocabulary and weights of sizes
// in range.
//
//===----------------------------------------------------------------------===//

#include "core/model.h"
#include "core/status.h"

#include <cstdio>
#include <cstdlib>
#include <string>

static void require(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "seqc fuzz: broken contract: %s\n", what);
    std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The runtime reads the manifest as a C string (a symbol of model.so).
  std::string text(reinterpret_cast<const char *>(data), size);
  seqc_model m;
  m.info.libraryPath = "model.so";
  m.info.dir = "artifact";
  seqc_status status = seqc::rt::parseManifest(m, text.c_str());
  if (status) {
    require(seqc_status_message(status)[0] != '\0',
            "a refused manifest has no message");
    seqc_status_free(status);
    return 0;
  }
  require(m.info.vocab >= 1, "an accepted manifest has no vocabulary");
  require(m.info.stateBytes >= 1 && m.info.stateBytes <= (size_t(1) << 40),
          "an accepted manifest's state size is out of range");
  require(m.weightBytes <= (uint64_t(1) << 48),
          "an accepted manifest's weight size is out of range");
  return 0;
}
