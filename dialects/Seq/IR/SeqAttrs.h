//===- SeqAttrs.h - seq dialect enums and attributes ------------*- C++ -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQATTRS_H
#define SEQC_DIALECT_SEQ_SEQATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/TensorEncoding.h"

#include "dialects/Seq/IR/SeqEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Seq/IR/SeqAttrs.h.inc"

#endif // SEQC_DIALECT_SEQ_SEQATTRS_H
