//===- BlobWriter.h - tensors converted into a weight blob -------*- C++
//-*-===//
//
// Private to lib/Import: how the importers append tensors to a weight blob
// in each storage type (f32, f16, int8 rows, the group formats of
// dialects/Seq/IR/SeqQ4Product.h). The group encoders live in
// Q4Encode.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_BLOBWRITER_H
#define SEQC_LIB_IMPORT_BLOBWRITER_H

#include "seqc/Import/Checkpoint.h"
#include "seqc/Import/WeightBlob.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace seqc::import {

/// The code bits of a matrix of a group format (0 for other types).
inline int groupBits(DType dtype) {
  switch (dtype) {
  case DType::Q4:
  case DType::Q4K:
    return 4;
  case DType::Q5:
  case DType::Q5K:
    return 5;
  case DType::Q6:
  case DType::Q6K:
    return 6;
  case DType::Q8:
    return 8;
  default:
    return 0;
  }
}

/// Appends converted tensors to a blob. Each tensor goes to the blob's sink
/// as soon as it is added, converted through a small staging buffer: the
/// caller's f32 values are the only whole copy of a tensor, and the caller
/// frees them.
class BlobWriter {
public:
  explicit BlobWriter(WeightBlob &blob) : blob(blob) {}

  /// The first tensor the format could not hold, if any (the importers
  /// check it once every tensor is written).
  llvm::Error takeError() {
    if (problem.empty())
      return llvm::Error::success();
    return llvm::createStringError(problem);
  }

  /// Appends `values` of `shape` converted to `dtype`. A Q4K (Q6K) matrix
  /// read from a GGUF Q4_K (Q6_K) tensor (`source`, unchanged since) keeps
  /// its blocks.
  void add(std::string name, std::vector<int64_t> shape,
           const std::vector<float> &values, DType dtype,
           const Tensor *source = nullptr) {
    if (isSuperBlockType(dtype))
      return addSuperBlocks(std::move(name), shape, values, source, dtype);
    blob.pad(64);
    uint64_t offset = blob.size;
    if (dtype == DType::F32) {
      blob.append({reinterpret_cast<const uint8_t *>(values.data()),
                   values.size() * sizeof(float)});
    } else if (dtype == DType::I8) {
      // Symmetric per-row quantization: q = rint(w / s), s = max|w| / 127.
      int64_t cols = std::max<int64_t>(shape.back(), 1),
              rows = values.size() / cols;
      std::vector<float> scales(rows);
      for (int64_t r = 0; r < rows; ++r) {
        const float *row = values.data() + r * cols;
        float mx = 0;
        for (int64_t c = 0; c < cols; ++c)
          mx = std::max(mx, std::fabs(row[c]));
        float s = mx > 0 ? mx / 127.0f : 1.0f;
        scales[r] = s;
        size_t at = staging.size();
        staging.resize(at + cols);
        for (int64_t c = 0; c < cols; ++c) {
          float q = std::nearbyint(row[c] / s);
          staging[at + c] = (uint8_t)(int8_t)std::clamp(q, -127.0f, 127.0f);
        }
        if (staging.size() >= kStagingBytes)
          flush();
      }
      flush();
      blob.entries.push_back({name, offset, shape, dtype});
      add(name + ".scale", {rows}, scales, DType::F32);
      return;
    } else if (groupBits(dtype)) {
      addGroups(std::move(name), shape, values, offset, dtype);
      return;
    } else {
      for (size_t i = 0; i < values.size();) {
        size_t n = std::min(values.size() - i, kStagingBytes / 2);
        staging.resize(2 * n);
        for (size_t j = 0; j < n; ++j) {
          uint16_t h = floatToHalf(values[i + j]);
          std::memcpy(&staging[2 * j], &h, 2);
        }
        flush();
        i += n;
      }
    }
    blob.entries.push_back({std::move(name), offset, std::move(shape), dtype});
  }

private:
  static constexpr size_t kStagingBytes = 1 << 20;

  /// One group of 32 values with codes of `bits` bits: returns the scale d
  /// (an f16 value) and writes the unsigned codes c. As GGML's Q4_0 and
  /// Q5_0 quantize for 4 to 6 bits (and test/reference/ggml_quants.py, in
  /// float64 as here): w ~ d (c - h), h = 2^(bits - 1), d = m / -h rounded
  /// to f16, m the value of largest magnitude (the first such), codes
  /// clamp(floor(w / d + 0.5) + h, 0, 2h - 1) against the rounded d. For
  /// 8 bits as Q8_0: w ~ d (c - 128), d = |m| / 127, codes clamp(floor(w /
  /// d + 0.5), -127, 127) + 128. Values that lie exactly on a grid for
  /// another d = f16(m / k) (k in h - 1, 1 - h, ..., 1, -1; for 8 bits,
  /// |m| / k for k in 126 .. 1: what a GGUF block whose largest code is
  /// not the extreme one decodes to, as importance-matrix quantization
  /// makes them) keep that grid: the import is then exact.
  static float quantizeGroup(const float *x, uint8_t *codes, int bits);

  /// A q4, q5, q6 or q8 matrix (`dtype`; dialects/Seq/IR/SeqQ4Product.h):
  /// the codes as `name` (bits 0..3 packed, [rows, cols / 2] bytes; q8: the
  /// signed codes, [rows, cols]), bits 4 and 5 as the planes `name.bit4`
  /// and `name.bit5` ([rows, cols / 8] bytes), the group scales as
  /// `name.scale` ([rows, cols / 32] f16). Groups quantized by
  /// quantizeGroup.
  void addGroups(std::string name, const std::vector<int64_t> &shape,
                 const std::vector<float> &values, uint64_t offset,
                 DType dtype);

  /// A q4k, q5k or q6k matrix (`dtype`; dialects/Seq/IR/SeqQ4Product.h):
  /// the packed codes as `name` ([rows, cols / 2] bytes) and, for q5k and
  /// q6k, bit 4 (and 5) as `name.bit4` (and `name.bit5`, [rows, cols / 8]
  /// bytes); q4k and q5k:
  /// the sub-blocks' 6-bit scales and minima as `name.scale` and
  /// `name.min` ([rows, cols / 32] bytes), the super-blocks' factors as
  /// `name.d` and `name.dmin` ([rows, ceil(cols / 256)] f16); q6k: the
  /// sub-blocks' int8 scales as `name.scale` ([rows, cols / 16]), the
  /// factors as `name.d`. From a GGUF Q4_K, Q5_K or Q6_K `source`, its
  /// blocks' values; otherwise encoded as llama.cpp's reference quantizers
  /// encode them (Q4Encode.cpp; test/reference/ggml_quants.py).
  void addSuperBlocks(std::string name, const std::vector<int64_t> &shape,
                      const std::vector<float> &values, const Tensor *source,
                      DType dtype);

  /// Appends `bytes` as they are, an entry of `shape` and `dtype`.
  void addBytes(std::string name, std::vector<int64_t> shape,
                llvm::ArrayRef<uint8_t> bytes, DType dtype) {
    blob.pad(64);
    uint64_t offset = blob.size;
    blob.append(bytes);
    blob.entries.push_back({std::move(name), offset, std::move(shape), dtype});
  }

  void flush() {
    blob.append(staging);
    staging.clear();
  }

  WeightBlob &blob;
  std::vector<uint8_t> staging;
  std::string problem;
};

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_BLOBWRITER_H
