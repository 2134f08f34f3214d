//===- SeqSpikingOps.td - spiking neurons ------------------*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQSPIKINGOPS_TD
#define SEQC_DIALECT_SEQ_SEQSPIKINGOPS_TD

include "dialects/Seq/IR/SeqTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Seq_LIFOp : Seq_Op<"lif", [Pure,
    AllTypesMatch<["input", "spikes"]>, AllTypesMatch<["v", "new_v"]>]> {
  let summary = "leaky integrate-and-fire neurons over a sequence";
  let description = [{
    A layer of leaky integrate-and-fire neurons driven by `input` over `T`
    steps; the membrane potential `v` goes in and the final potential comes
    out. For each step `t` (SpikingJelly's LIF node, as SpikeGPT uses it):

    ```
    charge:  h = v + (x[t] - (v - v_reset)) / tau        if decay_input
             h = v - (v - v_reset) / tau + x[t]           otherwise
    fire:    s[t] = (h >= v_threshold) ? 1 : 0            fire = ge
             s[t] = (h >  v_threshold) ? 1 : 0            fire = gt
    reset:   v = s[t] ? v_reset : h                       reset = hard
             v = h - s[t] * v_threshold                   reset = soft
    ```

    `tau > 0` is the membrane time constant (`tau < 1` overshoots and is
    allowed only because some converted models use it); `v_threshold` must
    exceed `v_reset`. Spikes are 0 or 1 in the input's element type. `ge` is
    the comparison of SpikeGPT and SpikingJelly, `gt` that of NIR, Lava and
    snnTorch.

    Shapes: `input, spikes : [T, d...]`, `v, new_v : [d...]`.
    Defaults: `v_threshold = 1.0`, `v_reset = 0.0`, hard reset,
    `decay_input = true`, `fire = ge`.

    Example:
    ```mlir
    %s, %v1 = seq.lif %x, %v0 {tau = 2.0 : f32}
        : tensor<16x768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[AnyFloat]>:$input,
    RankedTensorOf<[AnyFloat]>:$v,
    F32Attr:$tau,
    DefaultValuedAttr<F32Attr, "1.0f">:$v_threshold,
    DefaultValuedAttr<F32Attr, "0.0f">:$v_reset,
    DefaultValuedAttr<Seq_ResetModeAttr, "::mlir::seq::ResetMode::Hard">:$reset,
    DefaultValuedAttr<BoolAttr, "true">:$decay_input,
    DefaultValuedAttr<Seq_FireCmpAttr, "::mlir::seq::FireCmp::GE">:$fire
  );
  let results = (outs RankedTensorOf<[AnyFloat]>:$spikes,
                      RankedTensorOf<[AnyFloat]>:$new_v);
  let assemblyFormat = [{
    $input `,` $v attr-dict `:` type($input) `,` type($v)
  }];
  let hasVerifier = 1;
}

def Seq_HeavisideOp : Seq_Op<"heaviside", [Pure, SameOperandsAndResultType]> {
  let summary = "elementwise Heaviside step";
  let description = [{
    `y = (x >= 0) ? 1 : 0` with `fire = ge` (the default), or
    `y = (x > 0) ? 1 : 0` with `fire = gt`, elementwise, in the input's
    element type. It folds on constants, and `gt` applied to the output of
    any Heaviside step returns that output unchanged (0 and 1 are fixed
    points of `x > 0`; they are not of `x >= 0`, which maps 0 to 1).

    Example:
    ```mlir
    %s = seq.heaviside %x {fire = #seq.fire<gt>} : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat]>:$input,
      DefaultValuedAttr<Seq_FireCmpAttr, "::mlir::seq::FireCmp::GE">:$fire);
  let results = (outs RankedTensorOf<[AnyFloat]>:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
}

#endif // SEQC_DIALECT_SEQ_SEQSPIKINGOPS_TD
