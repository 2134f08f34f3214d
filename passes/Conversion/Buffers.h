//===- Buffers.h - reading tensors as buffers in loop lowerings -*- C++ -*-===//

#ifndef SEQC_PASSES_CONVERSION_BUFFERS_H
#define SEQC_PASSES_CONVERSION_BUFFERS_H

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seq {

/// A memref view of a ranked tensor, for reading in loops
/// (bufferization.to_buffer, read-only, fully strided so that any layout
/// one-shot bufferization picks fits).
inline Value readBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  int64_t dyn = ShapedType::kDynamic;
  auto layout = StridedLayoutAttr::get(
      b.getContext(), dyn, SmallVector<int64_t>(type.getRank(), dyn));
  auto memType =
      MemRefType::get(type.getShape(), type.getElementType(), layout);
  return bufferization::ToBufferOp::create(b, memType, tensor,
                                           /*read_only=*/true);
}

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_BUFFERS_H
