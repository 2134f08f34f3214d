//===- SeqVerify.h - helpers of the seq ops' verifiers ----------*- C++ -*-===//
//
// Shape checks and the printing of sizes and shapes shared by the verifiers
// in SeqOps.cpp and SeqKVOps.cpp (internal to the dialect library).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECT_SEQ_SEQVERIFY_H
#define SEQC_DIALECT_SEQ_SEQVERIFY_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"

#include <string>

namespace mlir::seq::verify {

/// Two sizes agree when either is dynamic or both are equal.
inline bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Prints one size, `?` when dynamic.
inline std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

/// Prints a float attribute value the shortest way that reads back (0.5, 1).
inline std::string floatStr(const APFloat &value) {
  SmallString<16> s;
  value.toString(s);
  return std::string(s);
}

/// Checks that a float attribute is > 0 and finite, naming it otherwise.
inline LogicalResult verifyPositiveFinite(Operation *op, StringRef name,
                                          const APFloat &value) {
  if (value.isFinite() && !value.isZero() && !value.isNegative())
    return success();
  return op->emitOpError() << name << " must be > 0 and finite, got "
                           << floatStr(value);
}

/// Prints a shape as [a, b, ?].
inline std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, [&](int64_t d) { os << dimStr(d); }, [&] { os << ", "; });
  os << "]";
  return s;
}

inline bool compatibleShapes(ArrayRef<int64_t> actual,
                             ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (size_t i = 0; i < actual.size(); ++i)
    if (!compatible(actual[i], expected[i]))
      return false;
  return true;
}

inline LogicalResult verifyShape(Operation *op, StringRef name, ShapedType type,
                                 ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> actual = type.getShape();
  if (!compatibleShapes(actual, expected))
    return op->emitOpError()
           << name << " must have shape " << shapeStr(expected) << ", got "
           << shapeStr(actual);
  return success();
}

inline LogicalResult verifySameElementType(Operation *op, StringRef name,
                                           ShapedType type, StringRef refName,
                                           ShapedType ref) {
  if (type.getElementType() != ref.getElementType())
    return op->emitOpError()
           << name << " element type " << type.getElementType()
           << " differs from " << refName << "'s " << ref.getElementType();
  return success();
}

} // namespace mlir::seq::verify

#endif // SEQC_DIALECT_SEQ_SEQVERIFY_H
