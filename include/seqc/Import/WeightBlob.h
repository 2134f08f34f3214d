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
#include "seqc/Support/Checksum.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqc {

/// Storage precision of the large matrices in the weight blob.
/// (Int8: symmetric, one f32 scale per output row. Q4, Q5, Q6, Q8: groups
/// of 32 channels with an f16 scale and 4-, 5-, 6- or 8-bit codes (GGML
/// Q4_0's, Q5_0's and Q8_0's values for Q4, Q5 and Q8); Q4K: GGML Q4_K's
/// values, sub-blocks of 32 channels with 6-bit scales and minima under f16
/// factors per 256; Q5K: GGML Q5_K's values, the same with 5-bit codes;
/// Q6K: GGML Q6_K's values, 6-bit codes in sub-blocks of
/// 16 channels with int8 scales under an f16 factor per 256; all in the
/// layout of dialects/Seq/IR/SeqQ4Product.h.)
/// Gguf: each matrix in the format of its GGUF tensor's type (GGUF files;
/// see matrixDType in lib/Import/ModelBuilder.h).
enum class WeightFormat { F32, F16, Int8, Q4, Q5, Q6, Q8, Q4K, Q5K, Q6K, Gguf };

/// Whether `format` is one of the group formats (Q4 .. Q8, Q4K, Q5K, Q6K),
/// whose products run on activations rounded per group of 32 (Gguf counts: its
/// matrices may be any of them).
inline bool isGroupFormat(WeightFormat format) {
  return format != WeightFormat::F32 && format != WeightFormat::F16 &&
         format != WeightFormat::Int8;
}

/// "fp32", "fp16", "int8", "q4", "q5", "q6", "q8", "q4k", "q5k", "q6k" or
/// "gguf" (the spelling of
/// --weights and the manifest).
llvm::StringRef stringifyWeightFormat(WeightFormat format);
std::optional<WeightFormat> symbolizeWeightFormat(llvm::StringRef name);

/// Where the bytes of a weight blob go while an importer makes them (the
/// artifact's weights.bin): importers convert one tensor at a time, hand
/// its bytes over and free them, so that no whole-model copy is ever held.
class WeightSink {
public:
  virtual ~WeightSink();
  /// Appends `bytes`. A sink keeps its first failure and reports it when
  /// asked (the importers do not stop for it).
  virtual void write(llvm::ArrayRef<uint8_t> bytes) = 0;
};

/// The weight blob: tensors prepared for the compiled code (RWKV: decays
/// pre-exponentiated, ln0 folded into the embedding; matrices converted to
/// the chosen format), each aligned to 64 bytes. The blob keeps its layout
/// and checksums; its bytes go to `sink` as they are made (none: only the
/// layout and checksums are kept, which is all `seqc import` and `--emit`
/// need).
struct WeightBlob {
  struct Entry {
    std::string name;
    uint64_t offset = 0;
    std::vector<int64_t> shape;
    DType dtype = DType::F32;
  };
  std::vector<Entry> entries;
  /// Bytes made so far (the whole blob once an importer is done: it ends
  /// padded to 64 bytes).
  uint64_t size = 0;
  /// FNV-1a of the bytes: the id the runtime checks weights.bin against.
  uint64_t id = 1469598103934665603ull;
  /// XXH64 of the bytes (the manifest's and weights.bin's checksum).
  Xxh64Stream checksum;
  WeightSink *sink = nullptr;

  const Entry *find(llvm::StringRef name) const;
  /// Appends `bytes`: counts and hashes them and passes them to the sink.
  void append(llvm::ArrayRef<uint8_t> bytes);
  /// Appends zero bytes up to a multiple of `align`.
  void pad(uint64_t align);
};

} // namespace seqc

#endif // SEQC_IMPORT_WEIGHTBLOB_H
