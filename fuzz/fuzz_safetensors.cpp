//===- fuzz_safetensors.cpp - libFuzzer harness: safetensors --------------===//
//
// The safetensors reader: the header's length, its JSON (nesting checked
// before parsing), dtypes, shapes and data offsets.
//
//===----------------------------------------------------------------------===//

#include "Checkpoints.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seqc::fuzz::readCheckpoint(data, size, "fuzz.safetensors", "safetensors",
                             seqc::readSafetensors);
  return 0;
}
