//===- Calibration.h - per-layer key statistics of a module -----*- C++ -*-===//
//
// The module attribute `seq.kv_calibration = #seq.kv_calibration<...>`
// (seqc-run calibrate's statistics, attached by seqc compile
// --kv-calibration; see the attribute's documentation) and how an attention
// finds its layer's slice: the layer is the slot of the cache's seq.kv_load.
// Also how passes recognize the importers' RoPE positions.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_TRANSFORMS_CALIBRATION_H
#define SEQC_PASSES_TRANSFORMS_CALIBRATION_H

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

namespace mlir::seq {

/// The module's key_absmax, or null after an error at the module naming
/// `pass`. (The attribute's verifier has checked its values.)
inline DenseFPElementsAttr getKeyCalibration(Operation *module,
                                             StringRef pass) {
  KVCalibrationAttr calibration = KVCalibrationAttr::getFrom(module);
  DenseFPElementsAttr absmax =
      calibration ? calibration.getKeyAbsmax() : DenseFPElementsAttr();
  if (!absmax)
    module->emitError() << pass
                        << ": the module has no seq.kv_calibration = "
                           "#seq.kv_calibration<key_absmax = dense<...> : "
                           "tensor<LxHxDxf32>> (seqc compile "
                           "--kv-calibration)";
  return absmax;
}

/// An attention's calibration: the layer index (its cache's slot) and the
/// statistics of every layer as floats, [L, H, D].
struct AttentionCalibration {
  Value layer;
  int64_t layers = 0, heads = 0, headDim = 0, queryHeads = 0;
  SmallVector<float> absmax;
  /// absmax[l, h, :].
  ArrayRef<float> head(int64_t l, int64_t h) const {
    return ArrayRef<float>(absmax).slice((l * heads + h) * headDim, headDim);
  }
};

/// Checks that `calibration` fits the attention over `append`'s cache and
/// returns it, or fails after an error at `op` naming `pass`.
inline FailureOr<AttentionCalibration>
calibrationFor(KVAttentionOp op, KVAppendOp append,
               DenseFPElementsAttr calibration, StringRef pass) {
  KVCacheType type = op.getCache().getType();
  AttentionCalibration c;
  c.heads = type.getHeads();
  c.headDim = type.getHeadDim();
  c.queryHeads = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(1);
  auto load = append.getCache().getDefiningOp<KVLoadOp>();
  if (!load)
    return op.emitOpError() << pass
                            << ": the cache must come from a seq.kv_load "
                               "(its slot is the layer of the calibration)";
  auto shape = calibration.getType().getShape();
  if (shape.size() != 3 || shape[1] != c.heads || shape[2] != c.headDim)
    return op.emitOpError()
           << pass << ": seq.kv_calibration's key_absmax has shape "
           << calibration.getType() << ", expected [layers, " << c.heads << ", "
           << c.headDim << "]";
  c.layers = shape[0];
  APInt slot;
  if (matchPattern(load.getSlot(), m_ConstantInt(&slot)) &&
      (slot.getSExtValue() < 0 || slot.getSExtValue() >= c.layers))
    return op.emitOpError()
           << pass << ": cache slot " << slot.getSExtValue()
           << " has no calibration (" << c.layers << " layers)";
  c.layer = load.getSlot();
  c.absmax.assign(calibration.getValues<float>().begin(),
                  calibration.getValues<float>().end());
  return c;
}

/// The module's kv_covariance, or null after an error at the module naming
/// `pass`. (The attribute's verifier has checked its values.)
inline DenseFPElementsAttr getKVCovariance(Operation *module, StringRef pass) {
  KVCalibrationAttr calibration = KVCalibrationAttr::getFrom(module);
  DenseFPElementsAttr cov =
      calibration ? calibration.getKvCovariance() : DenseFPElementsAttr();
  if (!cov)
    module->emitError() << pass
                        << ": the module has no seq.kv_calibration = "
                           "#seq.kv_calibration<kv_covariance = dense<...> : "
                           "tensor<LxNxNxf32>> (seqc compile "
                           "--kv-calibration, from seqc-run calibrate)";
  return cov;
}

/// Whether `positions` is `kv_length(cache) + t` for token t (the
/// importers' form): a linalg.generic with no inputs whose body yields
/// that sum.
inline bool arePositionsOf(Value positions, Value cache) {
  auto generic = positions.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 0 ||
      generic.getNumDpsInits() != 1)
    return false;
  auto yield =
      cast<linalg::YieldOp>(generic.getRegion().front().getTerminator());
  auto sum = yield.getOperand(0).getDefiningOp<arith::AddIOp>();
  if (!sum)
    return false;
  auto isIndex = [](Value v) {
    auto index = v.getDefiningOp<linalg::IndexOp>();
    return index && index.getDim() == 0;
  };
  auto isLength = [&](Value v) {
    auto length = v.getDefiningOp<KVLengthOp>();
    return length && length.getCache() == cache;
  };
  return (isIndex(sum.getLhs()) && isLength(sum.getRhs())) ||
         (isLength(sum.getLhs()) && isIndex(sum.getRhs()));
}

} // namespace mlir::seq

#endif // SEQC_PASSES_TRANSFORMS_CALIBRATION_H
