//===- fuzz_world_text.cpp - libFuzzer harness: text, world tokenizer
//------===//
//
// Text through the real world vocabulary, loaded once: $SEQC_FUZZ_WORLD_VOCAB,
// else
// ../shared/data/rwkv_vocab_v20230424.txt beside the checkout (fuzz.sh passes
// it).
//
//===----------------------------------------------------------------------===//

#include "Tokenizers.h"

#include <memory>

static std::unique_ptr<seqc::WorldTokenizer> tokenizer;

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *path = std::getenv("SEQC_FUZZ_WORLD_VOCAB");
  std::string error;
  tokenizer = seqc::WorldTokenizer::load(
      path ? path : SEQC_SHARED_DATA "/rwkv_vocab_v20230424.txt", error);
  if (!tokenizer) {
    std::fprintf(stderr, "%s\n", error.c_str());
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seqc::fuzz::roundTrip(
      *tokenizer, std::string(reinterpret_cast<const char *>(data), size));
  return 0;
}
