//===- SeqTypes.h - seq dialect types ---------------------------*- C++ -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQTYPES_H
#define SEQC_DIALECT_SEQ_SEQTYPES_H

#include "dialects/Seq/IR/SeqAttrs.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "dialects/Seq/IR/SeqTypes.h.inc"

#endif // SEQC_DIALECT_SEQ_SEQTYPES_H
