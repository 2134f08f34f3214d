//===- Passes.h - model-level passes on the seq dialect ---------*- C++ -*-===//

#ifndef SEQC_PASSES_TRANSFORMS_PASSES_H
#define SEQC_PASSES_TRANSFORMS_PASSES_H

#include "dialects/Seq/IR/SeqDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::seq {

#define GEN_PASS_DECL
#include "passes/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Transforms/Passes.h.inc"

} // namespace mlir::seq

#endif // SEQC_PASSES_TRANSFORMS_PASSES_H
