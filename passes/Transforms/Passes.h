//===- Passes.h - model-level passes on the seq dialect ---------*- C++ -*-===//

#ifndef SEQC_PASSES_TRANSFORMS_PASSES_H
#define SEQC_PASSES_TRANSFORMS_PASSES_H

#include "dialects/Seq/IR/SeqAttrs.h"
#include "dialects/Seq/IR/SeqDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::seq {

/// Where seq-fuse-hadamard rotates keys: after RoPE, with the queries, one
/// head at a time; or before RoPE by groups of KV heads (RotateKV), the
/// cache then holding keys before RoPE.
enum class KeyRotation { PostRope, PreRope };

#define GEN_PASS_DECL
#include "passes/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Transforms/Passes.h.inc"

} // namespace mlir::seq

#endif // SEQC_PASSES_TRANSFORMS_PASSES_H
