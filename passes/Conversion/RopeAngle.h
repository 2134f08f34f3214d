//===- RopeAngle.h - cos and sin of a RoPE angle, emitted -------*- C++ -*-===//
//
// The angle of pair `i` at position `pos` as seqc::ropeAngle computes it
// (seqc/Support/Rope.h: pos * exp(i * step) in f64), and its cos and sin
// rounded to f32. Shared by the lowering of seq.rope and the KV-cache
// lowering, which applies RoPE to cached pre-RoPE keys where no tables can
// be bound (GPU kernels).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_ROPEANGLE_H
#define SEQC_PASSES_CONVERSION_ROPEANGLE_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <utility>

namespace mlir::seq {

/// {cos, sin} (f32) of pos * exp(i * step); `pos` and `i` are indices.
inline std::pair<Value, Value> emitRopeCosSin(OpBuilder &b, Location l,
                                              Value pos, Value i, double step) {
  auto toF64 = [&](Value v) -> Value {
    return arith::UIToFPOp::create(
        b, l, b.getF64Type(),
        arith::IndexCastOp::create(b, l, b.getI64Type(), v));
  };
  Value pf = toF64(pos);
  Value iF = toF64(i);
  Value expo = arith::MulFOp::create(
      b, l, iF, arith::ConstantOp::create(b, l, b.getF64FloatAttr(step)));
  Value ang = arith::MulFOp::create(b, l, pf, math::ExpOp::create(b, l, expo));
  Value cs = arith::TruncFOp::create(b, l, b.getF32Type(),
                                     math::CosOp::create(b, l, ang));
  Value sn = arith::TruncFOp::create(b, l, b.getF32Type(),
                                     math::SinOp::create(b, l, ang));
  return {cs, sn};
}

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_ROPEANGLE_H
