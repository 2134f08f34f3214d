//===- SeqWeightOps.td - weights by reference --------------*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQWEIGHTOPS_TD
#define SEQC_DIALECT_SEQ_SEQWEIGHTOPS_TD

include "dialects/Seq/IR/SeqAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Seq_WeightOp : Seq_Op<"weight", [Pure]> {
  let summary = "a named, typed reference to a tensor of the weight file";
  let description = [{
    The tensor `name` of the model's weight file, as a value. The bytes stay
    out of the IR: the module's `seq.weights` table
    (`#seq.weight_table`) says where each named tensor lies in the file and
    what its type is, and a target's ABI pass (`seq-cpu-abi` on the CPU)
    turns every reference into what the target reads weights through (a
    view of the mapped file).

    With a `layer` operand the name is relative to that layer: `"att.key"`
    of layer `l` is the table's `<layer_root><l>.att.key` (`layer_root` is
    the table's, e.g. `blocks.`). A layer function takes the layer as an
    index argument and names its weights relative to it, so one function
    serves every layer whose weights are laid out alike; its callers pass
    constant layers. Without `layer` the name is the table's full name.

    The result is a static tensor of f32, f16 or i8 (int8 weights come with
    their per-row f32 scales as a second entry, `<name>.scale`).

    Example:
    ```mlir
    %emb = seq.weight "emb" : tensor<256x128xf32>
    %key = seq.weight "att.key"[%layer] : tensor<128x128xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Optional<Index>:$layer);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name (`[` $layer^ `]`)? attr-dict `:` type($result)";
  let hasVerifier = 1;
}

#endif // SEQC_DIALECT_SEQ_SEQWEIGHTOPS_TD
