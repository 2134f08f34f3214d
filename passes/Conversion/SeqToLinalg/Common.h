//===- Common.h - shared helpers of the seq-to-linalg lowerings -*- C++ -*-===//
//
// Helpers and pattern entry points shared by the files of
// convert-seq-to-linalg (SeqToLinalg.cpp: recurrences and the pass;
// Channels.cpp: RoPE and the channel tables; LIF.cpp: seq.lif; Perspective.cpp:
// the perspective combiner and mix; Quant.cpp: seq.quantize / seq.dequantize).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_SEQTOLINALG_COMMON_H
#define SEQC_PASSES_CONVERSION_SEQTOLINALG_COMMON_H

#include "dialects/Seq/IR/SeqStateLayout.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::seq::tolinalg {

/// Converts a float value to `to` (extension, truncation or nothing).
inline Value castFloat(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

/// `v` as `type`: a tensor.cast where the lowering found a more static shape
/// than the op's result type.
inline Value castToResultType(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v);
}

/// seq.rope, seq.permute_channels and seq.scale_channels (Channels.cpp).
void populateChannelLoweringPatterns(RewritePatternSet &patterns);

/// seq.lif (LIF.cpp).
void populateLIFLoweringPatterns(RewritePatternSet &patterns);

/// seq.perspective_combine and seq.perspective_mix (Perspective.cpp).
void populatePerspectiveLoweringPatterns(RewritePatternSet &patterns);

/// Prefill-time selection: seq.kv_window_score (WindowScore.cpp),
/// seq.select_top (SelectTop.cpp, added by addSelectTopLowering) and
/// seq.kv_budgets (Budgets.cpp, addKVBudgetsLowering).
void populateSelectionLoweringPatterns(RewritePatternSet &patterns);
void addSelectTopLowering(RewritePatternSet &patterns);
void addKVBudgetsLowering(RewritePatternSet &patterns);

/// The storage of `#seq.quant` tensors, packed bytes (Quant.cpp), added to
/// `converter`; every other type converts to itself.
void addQuantStorageConversion(TypeConverter &converter);

/// Reports the first seq.quantize / seq.dequantize under `root` that the
/// lowering cannot handle (a dynamic innermost dimension or axis).
LogicalResult checkQuantLowerable(Operation *root);

/// seq.quantize and seq.dequantize (Quant.cpp), with the storage conversion
/// of `converter`.
void populateQuantLoweringPatterns(const TypeConverter &converter,
                                   RewritePatternSet &patterns);

/// Quantizes `input` (float, static along the axis and innermost) as `enc`
/// says and packs the codes: {packed codes (i8 bytes, each innermost row of
/// n codes as ceil(n / 8) * bits bytes), scales[, minima]} (Quant.cpp).
/// Given `dest` (packed codes, scales of the result's shapes), they are
/// written into it, so that a loop carrying them updates them in place.
SmallVector<Value> quantizeToStorage(OpBuilder &b, Location loc, Value input,
                                     QuantEncodingAttr enc,
                                     ValueRange dest = {});

/// The inverse: the codes' values as `elt`, from their packed bytes and
/// group parameters (innermost size `n` before packing).
Value dequantizeFromStorage(OpBuilder &b, Location loc, Value packed,
                            ValueRange params, int64_t n, QuantEncodingAttr enc,
                            Type elt);

/// A quantized WKV state taken apart (StateQuant.cpp): RWKV-4's exponent
/// row (or null), the packed code bytes and the f32 scales, each with the
/// storage's leading dimensions (the heads) in front.
struct QuantizedStateParts {
  Value lead, codes, scales;
};

/// The parts of the f32 words `words` ([W] or [H, W]) of layout `l`, whose
/// quantized tensor groups along `axis` of `l.shape`.
QuantizedStateParts splitQuantizedState(OpBuilder &b, Location loc, Value words,
                                        const QuantizedStateLayout &l,
                                        QuantEncodingAttr enc, int64_t axis);

/// The words of `parts` (the inverse of splitQuantizedState).
Value joinQuantizedState(OpBuilder &b, Location loc,
                         const QuantizedStateParts &parts,
                         const QuantizedStateLayout &l);

} // namespace mlir::seq::tolinalg

#endif // SEQC_PASSES_CONVERSION_SEQTOLINALG_COMMON_H
