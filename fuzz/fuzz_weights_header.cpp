//===- fuzz_weights_header.cpp - libFuzzer harness: weights.bin headers ---===//
//
// The 4096-byte header of weights.bin. A header the runtime accepts is the
// one seqc writes for the values it read: formatting them gives its bytes
// back (so no header is read in two ways).
//
//===----------------------------------------------------------------------===//

#include "seqc/artifact.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seqc::artifact::WeightsHeader h;
  if (!seqc::artifact::parseWeightsHeader(data, size, h))
    return 0;
  std::string canonical = seqc::artifact::formatWeightsHeader(h);
  size_t line = canonical.find('\n') + 1;
  if (size < line || std::memcmp(data, canonical.data(), line) != 0) {
    std::fprintf(stderr,
                 "seqc fuzz: broken contract: an accepted weights header is "
                 "not the one its values format to:\n%s",
                 canonical.substr(0, line).c_str());
    std::abort();
  }
  return 0;
}
