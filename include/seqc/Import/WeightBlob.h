//===- WeightBlob.h - prepared weights, whatever the architecture -*- C++
//-*-===//
//
// The weights of an imported model live outside its IR, in one blob that
// the artifact writes to weights.bin and the runtime maps read-only. Every
// architecture fills a WeightBlob; the artifact writer and the targets read
// it without knowing which architecture made it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_WEIGHTBLOB_H
#define SEQC_IMPORT_WEIGHTBLOB_H

#include "seqc/Import/Checkpoint.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqc {

/// Storage precision of the large matrices in the weight blob.
/// (Int8: symmetric, one f32 scale per output row.)
enum class WeightFormat { F32, F16, Int8 };

/// "fp32", "fp16" or "int8" (the spelling of --weights and the manifest).
llvm::StringRef stringifyWeightFormat(WeightFormat format);
std::optional<WeightFormat> symbolizeWeightFormat(llvm::StringRef name);

/// The weight blob: tensors prepared for the compiled code (RWKV: decays
/// pre-exponentiated, ln0 folded into the embedding; matrices converted to
/// the chosen format), each aligned to 64 bytes.
struct WeightBlob {
  struct Entry {
    std::string name;
    uint64_t offset = 0;
    std::vector<int64_t> shape;
    DType dtype = DType::F32;
  };
  std::vector<Entry> entries;
  std::vector<uint8_t> bytes;

  const Entry *find(llvm::StringRef name) const;
};

} // namespace seqc

#endif // SEQC_IMPORT_WEIGHTBLOB_H
