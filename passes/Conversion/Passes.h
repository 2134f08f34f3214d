//===- Passes.h - conversions out of the seq dialect ------------*- C++ -*-===//

#ifndef SEQC_PASSES_CONVERSION_PASSES_H
#define SEQC_PASSES_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::seq {

#define GEN_PASS_DECL
#include "passes/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Conversion/Passes.h.inc"

/// Adds the patterns that lower seq ops to tensor/linalg/scf/arith/math.
void populateSeqToLinalgConversionPatterns(RewritePatternSet &patterns);

/// Adds the pattern that lowers seq.hadamard to a fast Walsh-Hadamard
/// transform (convert-seq-hadamard-to-loops).
void populateSeqHadamardToLoopsPatterns(RewritePatternSet &patterns);

/// Marks seq.hadamard illegal and the dialects its lowering emits legal.
void configureSeqHadamardToLoopsTarget(ConversionTarget &target);

} // namespace mlir::seq

#endif // SEQC_PASSES_CONVERSION_PASSES_H
