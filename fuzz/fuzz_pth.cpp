//===- fuzz_pth.cpp - libFuzzer harness: torch.save archives --------------===//
//
// The .pth reader: the zip directory, the pickled state dict (only the
// opcodes and globals torch.save emits) and the storages it points into.
//
//===----------------------------------------------------------------------===//

#include "Checkpoints.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seqc::fuzz::readCheckpoint(data, size, "fuzz.pth", "pth",
                             seqc::readTorchArchive);
  return 0;
}
