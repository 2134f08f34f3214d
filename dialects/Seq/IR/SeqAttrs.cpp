//===- SeqAttrs.cpp - seq dialect enums and attributes --------------------===//

#include "dialects/Seq/IR/SeqAttrs.h"
#include "dialects/Seq/IR/SeqDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seq;

#include "dialects/Seq/IR/SeqEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Seq/IR/SeqAttrs.cpp.inc"

void SeqDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Seq/IR/SeqAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// QuantEncodingAttr
//===----------------------------------------------------------------------===//

QuantEncodingAttr QuantEncodingAttr::get(MLIRContext *context, unsigned bits,
                                         int64_t group, int64_t axis,
                                         QuantMode mode) {
  return Base::get(context, bits, group, axis, mode, Float32Type::get(context));
}

LogicalResult
QuantEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          unsigned bits, int64_t group, int64_t axis,
                          QuantMode mode, Type scaleType) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return emitError() << "quantization bits must be 2, 3, 4 or 8, got "
                       << bits;
  if (group <= 0)
    return emitError() << "quantization group size must be positive, got "
                       << group;
  if (axis < 0)
    return emitError() << "quantization axis must be non-negative, got "
                       << axis;
  if (!scaleType || !isa<FloatType>(scaleType))
    return emitError() << "quantization scale type must be a float type, got "
                       << scaleType;
  return success();
}

LogicalResult QuantEncodingAttr::verifyEncoding(
    ArrayRef<int64_t> shape, Type elementType,
    function_ref<InFlightDiagnostic()> emitError) const {
  // The tensor type parser verifies the encoding even when the element type
  // failed to parse (found by fuzz/fuzz_seq_ir.cpp: `tensor<4x32x, #seq.quant
  // ...>`), so the type may be null here.
  if (!elementType)
    return emitError() << "a tensor with encoding " << *this
                       << " must have element type i" << getBits();
  auto intType = dyn_cast<IntegerType>(elementType);
  if (!intType || !intType.isSignless() || intType.getWidth() != getBits())
    return emitError() << "a tensor with encoding " << *this
                       << " must have element type i" << getBits() << ", got "
                       << elementType;
  if (getAxis() >= static_cast<int64_t>(shape.size()))
    return emitError() << "quantization axis " << getAxis()
                       << " is out of range for a tensor of rank "
                       << shape.size();
  int64_t dim = shape[getAxis()];
  if (!ShapedType::isDynamic(dim) && dim % getGroup() != 0)
    return emitError() << "quantization group size " << getGroup()
                       << " does not divide dimension " << getAxis()
                       << " of size " << dim;
  return success();
}

int64_t QuantEncodingAttr::getMaxCode() const {
  return getMode() == QuantMode::Symmetric ? (int64_t(1) << (getBits() - 1)) - 1
                                           : (int64_t(1) << getBits()) - 1;
}

int64_t QuantEncodingAttr::getMinCode() const {
  return getMode() == QuantMode::Symmetric ? -getMaxCode() : 0;
}

int64_t QuantEncodingAttr::getNumGroups(ArrayRef<int64_t> shape) const {
  int64_t elements = 1;
  for (int64_t d : shape)
    elements *= d;
  return elements / getGroup();
}

// #seq.quant<bits = B, group = G, axis = A, symmetric|asymmetric[, scale = T]>
Attribute QuantEncodingAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  unsigned bits = 0;
  int64_t group = 0, axis = 0;
  StringRef modeName;
  Type scaleType = Float32Type::get(ctx);
  if (parser.parseLess() || parser.parseKeyword("bits") ||
      parser.parseEqual() || parser.parseInteger(bits) || parser.parseComma() ||
      parser.parseKeyword("group") || parser.parseEqual() ||
      parser.parseInteger(group) || parser.parseComma() ||
      parser.parseKeyword("axis") || parser.parseEqual() ||
      parser.parseInteger(axis) || parser.parseComma())
    return {};
  SMLoc modeLoc = parser.getCurrentLocation();
  if (parser.parseKeyword(&modeName))
    return {};
  std::optional<QuantMode> mode = symbolizeQuantMode(modeName);
  if (!mode) {
    parser.emitError(modeLoc, "expected 'symmetric' or 'asymmetric', got '")
        << modeName << "'";
    return {};
  }
  if (succeeded(parser.parseOptionalComma()))
    if (parser.parseKeyword("scale") || parser.parseEqual() ||
        parser.parseType(scaleType))
      return {};
  if (parser.parseGreater())
    return {};
  return parser.getChecked<QuantEncodingAttr>(ctx, bits, group, axis, *mode,
                                              scaleType);
}

void QuantEncodingAttr::print(AsmPrinter &printer) const {
  printer << "<bits = " << getBits() << ", group = " << getGroup()
          << ", axis = " << getAxis() << ", " << stringifyQuantMode(getMode());
  if (!getScaleType().isF32())
    printer << ", scale = " << getScaleType();
  printer << ">";
}

//===----------------------------------------------------------------------===//
// KeyFormAttr
//===----------------------------------------------------------------------===//

LogicalResult KeyFormAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t rotationHeads, FloatAttr ropeTheta,
                                  RopeStyle ropeStyle, int64_t rotaryDim,
                                  int64_t latentHeads) {
  if (rotationHeads < 0 || rotaryDim < 0 || latentHeads < 0)
    return emitError() << "key form rotation_heads, rotary_dim and "
                          "latent_heads must be non-negative";
  if (!rotationHeads && !ropeTheta && !latentHeads)
    return emitError() << "a key form needs rotation_heads, rope_theta or "
                          "latent_heads (a cache of plain keys has none)";
  if (rotationHeads && latentHeads)
    return emitError() << "a key form rotates heads (rotation_heads) or "
                          "stores latents (latent_heads), not both";
  if (!ropeTheta) {
    if (rotaryDim || ropeStyle != RopeStyle::Half)
      return emitError() << "key form rope_style and rotary_dim need "
                            "rope_theta";
    return success();
  }
  APFloat theta = ropeTheta.getValue();
  if (!ropeTheta.getType().isF32() || !theta.isFinite() || theta.isZero() ||
      theta.isNegative())
    return emitError() << "key form rope_theta must be an f32 > 0 and finite, "
                          "got "
                       << ropeTheta;
  if (rotaryDim % 2 != 0)
    return emitError() << "key form rotary_dim must be even, got " << rotaryDim;
  return success();
}

//===----------------------------------------------------------------------===//
// KVCalibrationAttr
//===----------------------------------------------------------------------===//

LogicalResult
KVCalibrationAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          DenseFPElementsAttr keyAbsmax,
                          DenseFPElementsAttr kvCovariance) {
  auto isFinite = [](float x) { return std::isfinite(x); };
  if (keyAbsmax) {
    if (!keyAbsmax.getElementType().isF32() ||
        keyAbsmax.getType().getRank() != 3)
      return emitError() << "key_absmax must be f32 of shape [layers, KV "
                            "heads, head_dim], got "
                         << keyAbsmax.getType();
    if (llvm::any_of(keyAbsmax.getValues<float>(),
                     [&](float x) { return !isFinite(x) || x < 0; }))
      return emitError() << "key_absmax must hold finite non-negative values";
  }
  if (kvCovariance) {
    ArrayRef<int64_t> shape = kvCovariance.getType().getShape();
    if (!kvCovariance.getElementType().isF32() || shape.size() != 3 ||
        shape[1] != shape[2])
      return emitError() << "kv_covariance must be f32 of shape [layers, N, "
                            "N], got "
                         << kvCovariance.getType();
    if (!llvm::all_of(kvCovariance.getValues<float>(), isFinite))
      return emitError() << "kv_covariance must hold finite values";
    if (keyAbsmax && keyAbsmax.getType().getDimSize(0) != shape[0])
      return emitError() << "key_absmax and kv_covariance describe "
                         << keyAbsmax.getType().getDimSize(0) << " and "
                         << shape[0] << " layers";
  }
  return success();
}
