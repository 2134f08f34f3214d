//===- Checkpoint.h - read tensors from .pth and safetensors files -*- C++
//-*-===//
//
// A checkpoint is a named set of tensors read from disk without executing
// anything: PyTorch's torch.save zip archives (through a pickle reader that
// accepts only the opcodes and globals torch.save emits for state dicts) and
// Hugging Face safetensors files. The file is memory-mapped; tensors point
// into the mapping and are converted to f32 on request.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_CHECKPOINT_H
#define SEQC_IMPORT_CHECKPOINT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace seqc {

/// Element types of checkpoint tensors (F32, F16, BF16) and of prepared
/// weights (I8: int8 matrices, and the byte tables of Q4K and Q5K and the
/// bit planes of Q5, Q6, Q5K and Q6K; Q4, Q5, Q6, Q4K, Q5K and Q6K:
/// matrices whose entry holds bits 0..3 of the codes packed as bytes, [N, K /
/// 2]; Q8: signed codes, [N, K]; see dialects/Seq/IR/SeqQ4Product.h).
enum class DType { F32, F16, BF16, I8, Q4, Q5, Q6, Q8, Q4K, Q5K, Q6K };

/// "f32", "f16", "bf16", "i8", "q4", "q5", "q6", "q8", "q4k", "q5k" or "q6k".
llvm::StringRef dtypeName(DType dtype);
/// Whether `dtype` is a format of super-blocks of 256 (Q4K, Q5K, Q6K).
inline bool isSuperBlockType(DType dtype) {
  return dtype == DType::Q4K || dtype == DType::Q5K || dtype == DType::Q6K;
}
/// Whether an entry of `dtype` holds packed codes, two weights a byte (the
/// group formats but Q8).
inline bool holdsPackedCodes(DType dtype) {
  return dtype == DType::Q4 || dtype == DType::Q5 || dtype == DType::Q6 ||
         isSuperBlockType(dtype);
}
/// Bytes per element (Q4, Q5, Q6, Q8, Q4K, Q5K, Q6K: per stored byte of
/// codes).
unsigned dtypeSize(DType dtype);

/// A GGML block-quantized type (GGUF files): `values` consecutive elements
/// of a row are stored in `bytes` bytes.
struct GgmlBlockType {
  uint32_t id;
  const char *name;
  int64_t values, bytes;
};
/// The block type of GGML type id `id` that seqc decodes (Q4_0, Q4_1, Q5_0,
/// Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), or null.
const GgmlBlockType *ggmlBlockType(uint32_t id);
/// "Q4_0, Q4_1, ...": the decoded types, for error messages.
std::string ggmlBlockTypeNames();
/// One Q2_K block (84 bytes at `p`): its codes in value order (256, 0..3),
/// the scales and minima of its 16 sub-blocks of 16 (0..15) and its
/// factors: value v is d sc[v / 16] q[v] - dmin mins[v / 16].
void readQ2KBlock(const uint8_t *p, int8_t *q, int8_t *sc, uint8_t *mins,
                  float &d, float &dmin);
/// One Q3_K block (110 bytes): its codes in value order (256, -4..3), the
/// scales of its 16 sub-blocks of 16 (-32..31) and its factor: value v is
/// d sc[v / 16] q[v]. (Exactly a Q6_K block's values: codes q + 32, the
/// same scales and factor.)
void readQ3KBlock(const uint8_t *p, int8_t *q, int8_t *sc, float &d);

/// One tensor of a checkpoint: a contiguous row-major view into the file.
struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  llvm::ArrayRef<uint8_t> bytes;
  /// GGUF: the block-quantized type of the bytes (dtype is then F32, what
  /// toF32 gives); null for plain element types.
  const GgmlBlockType *blocks = nullptr;
  /// A factor toF32 applies to every element (Checkpoint::scale).
  float scale = 1.0f;

  /// The product of the shape (-1 when it overflows; never for a tensor
  /// of a checkpoint, whose shape Checkpoint::add checked).
  int64_t numElements() const;
  /// The bytes the shape and type need, or nullopt when that overflows (or
  /// the rows are not whole blocks).
  std::optional<uint64_t> expectedBytes() const;
  /// "[768, 768] f16".
  std::string describe() const;
  /// The elements converted to f32 (times `scale`).
  std::vector<float> toF32() const;
};

class Checkpoint {
public:
  /// Opens `path` (a torch.save archive or a safetensors file, told apart by
  /// their contents). Errors name the file and what is wrong with it.
  static llvm::Expected<std::unique_ptr<Checkpoint>> open(llvm::StringRef path);
  /// The same on bytes already in memory (`path` names them in messages):
  /// the entry point of the fuzz harnesses.
  static llvm::Expected<std::unique_ptr<Checkpoint>>
  fromBuffer(llvm::StringRef path, std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// "pth", "safetensors" or "gguf".
  llvm::StringRef format() const { return format_; }
  llvm::StringRef path() const { return path_; }

  /// Tensor names in file order.
  llvm::ArrayRef<std::string> names() const { return order_; }
  const Tensor *find(llvm::StringRef name) const;

  /// Renames tensors (used to map alternative layouts onto one naming).
  void rename(llvm::StringRef from, llvm::StringRef to);
  /// Replaces tensor `name` (or adds it, last in file order) by f32
  /// `values` of `shape` that the checkpoint owns: for importers that map a
  /// foreign layout by transforming tensors (transposes, splits, scales).
  /// `values` must hold the product of `shape`.
  void setOwned(llvm::StringRef name, std::vector<int64_t> shape,
                std::vector<float> values);
  /// Multiplies tensor `name` by `factor` when it is read (toF32), without
  /// copying it: for importers that undo a foreign layout's scaling.
  void scale(llvm::StringRef name, float factor);
  /// Removes tensor `name` (nothing when there is none).
  void erase(llvm::StringRef name);

  /// Drops the pages of the mapped file that `tensor`'s bytes lie on from
  /// this process's memory (they are read again from the file if touched):
  /// an importer that has converted a tensor calls it, so that a model is
  /// never resident as a whole. Nothing for tensors the checkpoint owns or
  /// a checkpoint read from memory.
  void releasePages(const Tensor &tensor) const;

  /// Scalar metadata of formats that carry it (GGUF), as text.
  const std::string *metadata(llvm::StringRef key) const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
  }
  void setMetadata(llvm::StringRef key, std::string value) {
    metadata_[key] = std::move(value);
  }

  // Parsers fill checkpoints through these. add() refuses a tensor whose
  // shape overflows, whose bytes do not match its shape, or whose bytes lie
  // outside the file.
  llvm::Error add(Tensor tensor);
  Checkpoint(std::string path, std::string format,
             std::unique_ptr<llvm::MemoryBuffer> buffer);
  llvm::ArrayRef<uint8_t> contents() const;

private:
  std::string path_, format_;
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  llvm::StringMap<Tensor> tensors_;
  std::vector<std::string> order_;
  llvm::StringMap<std::string> metadata_;
  std::vector<std::unique_ptr<std::vector<float>>> owned_;
};

/// Format-specific readers (exposed for tests).
llvm::Error readTorchArchive(Checkpoint &ckpt);
llvm::Error readSafetensors(Checkpoint &ckpt);
llvm::Error readGguf(Checkpoint &ckpt);

/// Converts an IEEE half / bfloat16 bit pattern to float.
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
/// Rounds a float to the nearest IEEE half (ties to even).
uint16_t floatToHalf(float value);

} // namespace seqc

#endif // SEQC_IMPORT_CHECKPOINT_H
