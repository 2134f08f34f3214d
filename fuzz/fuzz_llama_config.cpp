//===- fuzz_llama_config.cpp - libFuzzer harness: LLaMA config.json -------===//
//
// A Hugging Face config.json as the LLaMA importer reads it. A config it
// accepts has sizes a model can be built from.
//
//===----------------------------------------------------------------------===//

#include "Checkpoints.h"

#include "seqc/Import/Llama.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<seqc::LlamaConfig> config = seqc::parseLlamaConfig(
      "config.json",
      llvm::StringRef(reinterpret_cast<const char *>(data), size));
  if (!config) {
    llvm::consumeError(config.takeError());
    return 0;
  }
  using seqc::fuzz::require;
  require(config->layers > 0 && config->embd > 0 && config->ffn > 0 &&
              config->vocab > 0 && config->heads > 0 && config->kvHeads > 0 &&
              config->headDim > 0,
          "an accepted config has a size that is not positive");
  require(config->heads % config->kvHeads == 0,
          "an accepted config's heads are not a multiple of its KV heads");
  (void)config->describe();
  return 0;
}
