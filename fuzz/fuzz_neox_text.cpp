//===- fuzz_neox_text.cpp - libFuzzer harness: text, neox tokenizer ------===//
//
// Text through the real neox vocabulary, loaded once:
// $SEQC_FUZZ_NEOX_TOKENIZER, else
// ../shared/data/20B_tokenizer.json beside the checkout (fuzz.sh passes it).
//
//===----------------------------------------------------------------------===//

#include "Tokenizers.h"

#include <memory>

static std::unique_ptr<seqc::NeoXTokenizer> tokenizer;

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *path = std::getenv("SEQC_FUZZ_NEOX_TOKENIZER");
  std::string error;
  tokenizer = seqc::NeoXTokenizer::load(
      path ? path : SEQC_SHARED_DATA "/20B_tokenizer.json", error);
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
