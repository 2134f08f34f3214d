//===- SeqDialect.h - the seq dialect ---------------------------*- C++ -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQDIALECT_H
#define SEQC_DIALECT_SEQ_SEQDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dialects/Seq/IR/SeqDialect.h.inc"

#endif // SEQC_DIALECT_SEQ_SEQDIALECT_H
