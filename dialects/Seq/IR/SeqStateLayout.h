//===- SeqStateLayout.h - storage of a quantized WKV state ------*- C++ -*-===//
//
// Where the words of a WKV state kept quantized (`state_quant` on seq.wkv4
// .. seq.wkv7) lie. The op verifiers, the lowering and the model builders
// read the layout from here, so that all three agree on it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECT_SEQ_SEQSTATELAYOUT_H
#define SEQC_DIALECT_SEQ_SEQSTATELAYOUT_H

#include "dialects/Seq/IR/SeqAttrs.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir::seq {

/// One quantized state (RWKV-4) or one head's (RWKV-5/6/7) as f32 words:
/// `[lead | codes | scales]`. `lead` is RWKV-4's exponent row p; the codes
/// are the bytes seq.quantize packs (each innermost row of n codes becomes
/// ceil(n / 8) * bits bytes), 4 to a little-endian word; the scales are f32,
/// one per group, in the order of the quantized tensor with its axis
/// divided by the group size.
struct QuantizedStateLayout {
  /// The quantized tensor: [C] (RWKV-4's a) or [N, N] (one head).
  llvm::SmallVector<int64_t> shape;
  int64_t leadWords = 0;
  int64_t codeBytes = 0;
  int64_t scaleWords = 0;
  unsigned bits = 8;

  int64_t codeWords() const { return codeBytes / 4; }
  int64_t words() const { return leadWords + codeWords() + scaleWords; }
  /// `shape` with its innermost size n replaced by its packed bytes.
  llvm::SmallVector<int64_t> packedShape() const {
    llvm::SmallVector<int64_t> s(shape);
    s.back() = (s.back() + 7) / 8 * bits;
    return s;
  }
};

/// Why `enc` cannot keep a state whose quantized tensor has `shape` (one
/// head's [N, N] or RWKV-4's [C]) along `valueAxis` of it; nullopt if it
/// can. A state encoding is symmetric with f32 scales, groups that divide
/// the axis, and packed codes that fill whole words.
inline std::optional<std::string>
stateQuantProblem(QuantEncodingAttr enc, llvm::ArrayRef<int64_t> shape,
                  int64_t valueAxis) {
  if (enc.getMode() != QuantMode::Symmetric)
    return std::string("a quantized state must use the symmetric grid");
  if (!enc.getScaleType().isF32())
    return std::string("a quantized state must have f32 scales");
  if (enc.getAxis() != valueAxis)
    return "a quantized state must group along its value axis (axis " +
           std::to_string(valueAxis) + "), got axis " +
           std::to_string(enc.getAxis());
  int64_t n = shape[valueAxis == 0 ? 0 : valueAxis - 1];
  if (n % enc.getGroup() != 0)
    return "quantization group size " + std::to_string(enc.getGroup()) +
           " does not divide the state's value axis of size " +
           std::to_string(n);
  int64_t rows = 1;
  for (int64_t d : shape.drop_back())
    rows *= d;
  if (rows * ((shape.back() + 7) / 8) * enc.getBits() % 4 != 0)
    return std::string("the packed codes of a quantized state must fill "
                       "whole 32-bit words");
  return std::nullopt;
}

/// The layout of a state whose quantized tensor has `shape`, after
/// `leadWords` words of unquantized state, in codes of `bits` bits and
/// groups of `group`.
inline QuantizedStateLayout quantizedStateLayout(unsigned bits, int64_t group,
                                                 llvm::ArrayRef<int64_t> shape,
                                                 int64_t leadWords) {
  QuantizedStateLayout l;
  l.shape.assign(shape.begin(), shape.end());
  l.leadWords = leadWords;
  l.bits = bits;
  int64_t rows = 1, elements = 1;
  for (int64_t d : shape.drop_back())
    rows *= d;
  for (int64_t d : shape)
    elements *= d;
  l.codeBytes = rows * ((shape.back() + 7) / 8) * bits;
  l.scaleWords = elements / group;
  return l;
}
inline QuantizedStateLayout quantizedStateLayout(QuantEncodingAttr enc,
                                                 llvm::ArrayRef<int64_t> shape,
                                                 int64_t leadWords) {
  return quantizedStateLayout(enc.getBits(), enc.getGroup(), shape, leadWords);
}

} // namespace mlir::seq

#endif // SEQC_DIALECT_SEQ_SEQSTATELAYOUT_H
