//===- SeqDialect.cpp - the seq dialect -----------------------------------===//

#include "dialects/Seq/IR/SeqDialect.h"
#include "dialects/Seq/IR/SeqOps.h"

using namespace mlir;
using namespace mlir::seq;

#include "dialects/Seq/IR/SeqDialect.cpp.inc"

void SeqDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Seq/IR/SeqOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
}

Operation *SeqDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  if (auto typed = dyn_cast<TypedAttr>(value))
    if (arith::ConstantOp::isBuildableWith(typed, type))
      return arith::ConstantOp::create(builder, loc, type, typed);
  return nullptr;
}
