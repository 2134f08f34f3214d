//===- Passes.td - conversions out of the seq dialect ------*- tablegen -*-===//

#ifndef SEQC_PASSES_CONVERSION_PASSES_TD
#define SEQC_PASSES_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSeqToLinalg : Pass<"convert-seq-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower seq recurrences to tensor, linalg, scf, arith and math";
  let description = [{
    Lowers seq operations to upstream dialects on tensors, ready for one-shot
    bufferization and the CPU pipeline:

    - `seq.token_shift`: slices and inserts (`tensor.extract_slice`,
      `tensor.insert_slice`, `tensor.expand_shape`);
    - `seq.wkv4`: an `scf.for` over the tokens carrying the (aa, bb, pp)
      rows of the state; each step is one elementwise `linalg.generic` over
      the channels that computes the output and the new state in f32
      (f16/bf16 inputs are extended, the output truncated back).

    The other seq operations are not lowered by this pass yet and are left
    in place (a later pipeline stage reports them if they survive).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // SEQC_PASSES_CONVERSION_PASSES_TD
