//===- fuzz_neox_vocab.cpp - libFuzzer harness: neox vocabulary files ----===//
//
// A GPT-NeoX tokenizer.json (byte-level BPE) and a text, split at
// the input's first NUL byte: the file is read from memory and, when it
// loads, the text goes through the tokenizer's round trip.
//
//===----------------------------------------------------------------------===//

#include "Tokenizers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string file, text, error;
  seqc::fuzz::splitInput(data, size, file, text);
  auto tok = seqc::NeoXTokenizer::fromText(file, "tokenizer.json", error);
  if (!tok) {
    seqc::fuzz::requireTok(!error.empty(), "a refused file has no message");
    return 0;
  }
  seqc::fuzz::roundTrip(*tok, text);
  return 0;
}
