//===- SeqOps.h - seq dialect operations ------------------------*- C++ -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQOPS_H
#define SEQC_DIALECT_SEQ_SEQOPS_H

#include "dialects/Seq/IR/SeqAttrs.h"
#include "dialects/Seq/IR/SeqDialect.h"
#include "dialects/Seq/IR/SeqTypes.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/Seq/IR/SeqOps.h.inc"

#endif // SEQC_DIALECT_SEQ_SEQOPS_H
