//===- ConstantWeights.cpp - compile-time tables into the weight blob -----===//

#include "seqc/Import/Importer.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/Endian.h"

using namespace mlir;

namespace {

/// Appends f32 tables to the blob as weights and hands out `seq.weight`s
/// reading them; equal tables (one basis in each layer function) share one
/// entry: attributes are uniqued, so equal values are the same attribute.
class TableWeights {
public:
  TableWeights(seqc::ImportedModel &model, seq::WeightTableAttr table)
      : model(model), table(table), entries(table.getEntries()) {}

  /// A seq.weight at `b`'s insertion point reading `values`.
  Value weight(OpBuilder &b, Location loc, DenseFPElementsAttr values) {
    auto type = cast<RankedTensorType>(values.getType());
    std::string &name = names[values];
    if (name.empty())
      name = append(values);
    return seq::WeightOp::create(b, loc, type, name, /*layer=*/Value());
  }

  /// The module's weight table with the new entries.
  seq::WeightTableAttr finish() {
    model.weights.pad(64);
    MLIRContext *ctx = table.getContext();
    return seq::WeightTableAttr::get(ctx, table.getLayerRoot(),
                                     entries.getDictionary(ctx));
  }

private:
  std::string append(DenseFPElementsAttr values) {
    std::string name;
    do
      name = "const." + std::to_string(next++);
    while (entries.get(name));
    auto type = cast<RankedTensorType>(values.getType());
    // Little-endian f32, as every weight of the blob.
    std::vector<uint8_t> bytes(type.getNumElements() * 4);
    uint8_t *out = bytes.data();
    for (APFloat v : values.getValues<APFloat>()) {
      llvm::support::endian::write32le(
          out, (uint32_t)v.bitcastToAPInt().getZExtValue());
      out += 4;
    }
    model.weights.pad(64);
    seqc::WeightBlob::Entry entry;
    entry.name = name;
    entry.offset = model.weights.size;
    entry.shape.assign(type.getShape().begin(), type.getShape().end());
    entry.dtype = seqc::DType::F32;
    model.weights.append(bytes);
    model.weights.entries.push_back(entry);
    entries.set(name, seq::WeightEntryAttr::get(table.getContext(),
                                                entry.offset, type));
    return name;
  }

  seqc::ImportedModel &model;
  seq::WeightTableAttr table;
  NamedAttrList entries;
  DenseMap<Attribute, std::string> names;
  int64_t next = 0;
};

/// `order` (i32) as f32 values, exact below 2^24.
DenseFPElementsAttr orderAsF32(DenseIntElementsAttr order) {
  auto type = cast<RankedTensorType>(order.getType());
  SmallVector<float> values;
  for (int32_t v : order.getValues<int32_t>())
    values.push_back(float(v));
  return cast<DenseFPElementsAttr>(DenseElementsAttr::get(
      RankedTensorType::get(type.getShape(),
                            Float32Type::get(order.getContext())),
      ArrayRef<float>(values)));
}

} // namespace

void seqc::moveConstantsToWeights(ImportedModel &model, int64_t minBytes) {
  ModuleOp module = *model.module;
  auto table = seq::WeightTableAttr::getFrom(module);
  if (!table)
    return;
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isa<seq::ScaleChannelsOp, seq::PermuteChannelsOp>(op)) {
      ops.push_back(op);
      return;
    }
    auto cst = dyn_cast<arith::ConstantOp>(op);
    if (!cst)
      return;
    auto type = dyn_cast<RankedTensorType>(cst.getType());
    auto dense = dyn_cast<DenseFPElementsAttr>(cst.getValue());
    if (type && dense && type.getElementType().isF32() && !dense.isSplat() &&
        type.getNumElements() * 4 >= minBytes)
      ops.push_back(op);
  });
  if (ops.empty())
    return;
  TableWeights weights(model, table);
  for (Operation *op : ops) {
    OpBuilder b(op);
    if (auto scale = dyn_cast<seq::ScaleChannelsOp>(op)) {
      if (auto scales =
              dyn_cast_or_null<DenseFPElementsAttr>(scale.getScalesAttr())) {
        scale.getTableMutable().assign(weights.weight(b, op->getLoc(), scales));
        scale.removeScalesAttr();
      }
    } else if (auto permute = dyn_cast<seq::PermuteChannelsOp>(op)) {
      if (DenseIntElementsAttr order = permute.getOrderAttr()) {
        permute.getTableMutable().assign(
            weights.weight(b, op->getLoc(), orderAsF32(order)));
        permute.removeOrderAttr();
      }
    } else {
      auto cst = cast<arith::ConstantOp>(op);
      cst.replaceAllUsesWith(weights.weight(
          b, op->getLoc(), cast<DenseFPElementsAttr>(cst.getValue())));
      cst.erase();
    }
  }
  module->setAttr(seq::WeightTableAttr::kAttrName, weights.finish());
}
