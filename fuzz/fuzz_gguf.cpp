//===- fuzz_gguf.cpp - libFuzzer harness: GGUF ----------------------------===//
//
// The GGUF reader (metadata, tensor infos, offsets, block-quantized types)
// and, for files that say they hold a LLaMA, the configuration read from
// their metadata.
//
//===----------------------------------------------------------------------===//

#include "Checkpoints.h"

#include "seqc/Import/Llama.h"

static llvm::Error readGgufAndConfig(seqc::Checkpoint &ckpt) {
  if (llvm::Error err = seqc::readGguf(ckpt))
    return err;
  const std::string *arch = ckpt.metadata("general.architecture");
  if (arch && *arch == "llama") {
    llvm::Expected<seqc::LlamaConfig> config = seqc::llamaConfigFromGguf(ckpt);
    if (!config)
      llvm::consumeError(config.takeError());
    else
      (void)config->describe();
  }
  return llvm::Error::success();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seqc::fuzz::readCheckpoint(data, size, "fuzz.gguf", "gguf",
                             readGgufAndConfig);
  return 0;
}
