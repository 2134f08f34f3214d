//===- SeqWeight.cpp - weights by reference -------------------------------===//
//
// seq.weight and the weight table it resolves through (#seq.weight_table
// of #seq.weight_entry): their verifiers and the table's name helpers.
//
//===----------------------------------------------------------------------===//

#include "dialects/Seq/IR/SeqOps.h"

using namespace mlir;
using namespace mlir::seq;

/// Whether `type` is a weight's type: a static shape of f32, f16 or i8.
static bool isWeightType(RankedTensorType type) {
  Type elt = type.getElementType();
  return type.hasStaticShape() && !type.getEncoding() &&
         (elt.isF32() || elt.isF16() || elt.isSignlessInteger(8));
}

//===----------------------------------------------------------------------===//
// WeightEntryAttr
//===----------------------------------------------------------------------===//

LogicalResult
WeightEntryAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        uint64_t offset, RankedTensorType type) {
  if (!type || !isWeightType(type))
    return emitError() << "a weight must be a static tensor of f32, f16 or "
                          "i8 without encoding, got "
                       << type;
  uint64_t eltBytes = type.getElementTypeBitWidth() / 8;
  if (offset % eltBytes)
    return emitError() << "weight offset " << offset
                       << " is not a multiple of its element size (" << eltBytes
                       << " bytes)";
  return success();
}

//===----------------------------------------------------------------------===//
// WeightTableAttr
//===----------------------------------------------------------------------===//

LogicalResult
WeightTableAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        StringRef layerRoot, DictionaryAttr entries) {
  if (!entries)
    return emitError() << "a weight table needs its entries";
  for (NamedAttribute entry : entries)
    if (!isa<WeightEntryAttr>(entry.getValue()))
      return emitError() << "weight table entry '" << entry.getName().strref()
                         << "' must be a #seq.weight_entry, got "
                         << entry.getValue();
  return success();
}

std::optional<int64_t> WeightTableAttr::layerOf(StringRef name) const {
  if (!name.consume_front(getLayerRoot()))
    return std::nullopt;
  int64_t layer;
  if (name.take_until([](char c) { return c == '.'; })
          .getAsInteger(10, layer) ||
      layer < 0)
    return std::nullopt;
  return layer;
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a weight name");
  auto type = cast<RankedTensorType>(getResult().getType());
  if (!isWeightType(type))
    return emitOpError("result must be a static tensor of f32, f16 or i8 "
                       "without encoding, got ")
           << type;
  return success();
}
