//===- ConstantWeights.cpp - large constants into the weight blob ---------===//

#include "seqc/Import/Importer.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/Endian.h"

using namespace mlir;

void seqc::moveConstantsToWeights(ImportedModel &model, int64_t minBytes) {
  ModuleOp module = *model.module;
  auto table = seq::WeightTableAttr::getFrom(module);
  if (!table)
    return;
  SmallVector<arith::ConstantOp> constants;
  module.walk([&](arith::ConstantOp op) {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dense = dyn_cast<DenseFPElementsAttr>(op.getValue());
    if (type && dense && type.getElementType().isF32() && !dense.isSplat() &&
        type.getNumElements() * 4 >= minBytes)
      constants.push_back(op);
  });
  if (constants.empty())
    return;
  MLIRContext *ctx = module.getContext();
  NamedAttrList entries(table.getEntries());
  int64_t n = 0;
  // Equal constants (one basis in each layer function) share one entry:
  // attributes are uniqued, so equal values are the same attribute.
  DenseMap<Attribute, std::string> names;
  for (arith::ConstantOp op : constants) {
    auto type = cast<RankedTensorType>(op.getType());
    auto dense = cast<DenseFPElementsAttr>(op.getValue());
    auto replace = [&](StringRef name) {
      OpBuilder b(op);
      Value weight = seq::WeightOp::create(b, op.getLoc(), type, name,
                                           /*layer=*/Value());
      op.replaceAllUsesWith(weight);
      op.erase();
    };
    if (auto it = names.find(dense); it != names.end()) {
      replace(it->second);
      continue;
    }
    std::string name;
    do
      name = "const." + std::to_string(n++);
    while (entries.get(name));
    names[dense] = name;
    // Little-endian f32, as every weight of the blob.
    std::vector<uint8_t> bytes(type.getNumElements() * 4);
    uint8_t *out = bytes.data();
    for (APFloat v : dense.getValues<APFloat>()) {
      llvm::support::endian::write32le(
          out, (uint32_t)v.bitcastToAPInt().getZExtValue());
      out += 4;
    }
    model.weights.pad(64);
    WeightBlob::Entry entry;
    entry.name = name;
    entry.offset = model.weights.size;
    entry.shape.assign(type.getShape().begin(), type.getShape().end());
    entry.dtype = DType::F32;
    model.weights.append(bytes);
    model.weights.entries.push_back(entry);
    entries.set(name, seq::WeightEntryAttr::get(ctx, entry.offset, type));
    replace(name);
  }
  model.weights.pad(64);
  module->setAttr(seq::WeightTableAttr::kAttrName,
                  seq::WeightTableAttr::get(ctx, table.getLayerRoot(),
                                            entries.getDictionary(ctx)));
}
