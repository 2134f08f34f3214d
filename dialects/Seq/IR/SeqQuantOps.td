//===- SeqQuantOps.td - quantization and rotation ----------*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQQUANTOPS_TD
#define SEQC_DIALECT_SEQ_SEQQUANTOPS_TD

include "dialects/Seq/IR/SeqTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Seq_QuantizeOp : Seq_Op<"quantize", [Pure]> {
  let summary = "group-wise quantization to b-bit integer codes, with the group parameters";
  let description = [{
    Quantizes a real tensor into `bits`-bit integer codes as the result
    type's `#seq.quant` encoding says (group size, axis, symmetric or
    asymmetric grid; the formulas are in the encoding's description), and
    returns the parameters it computed from the data of each group: the
    scales and, for the asymmetric grid only, the minima. `seq.dequantize`
    takes the same three values back.

    The parameters have the codes' shape with dimension `axis` divided by
    `group` (one entry per group, in the same order) and the encoding's
    scale type as element type (f32 unless stated); a scale type narrower
    than f32 is rounded before the codes are computed, so that the codes
    are those of the stored parameters. A group whose range is zero gets
    scale 1.

    Storage (what the lowering makes of the codes tensor): each innermost
    row of `n` codes is bit-packed into `ceil(n / 8) * bits` bytes, 8 codes
    to a little-endian word of `bits` bytes (code `j` of a word in bits
    `[j*bits, (j+1)*bits)`, the last word of a row zero-padded), as the
    quantized KV cache stores a token's channels; symmetric codes are
    stored offset by `2^(bits-1)` (so that they are unsigned), as there.

    `seq.dequantize(seq.quantize(x))` is not folded: it is lossy, and that
    loss is what a model-level pass measures.

    Example:
    ```mlir
    %q, %s, %m = seq.quantize %x : tensor<64x128xf32>
        -> tensor<64x128xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>,
           tensor<64x4xf32>, tensor<64x4xf32>
    %q2, %s2 = seq.quantize %x : tensor<64x128xf32>
        -> tensor<64x128xi8, #seq.quant<bits = 8, group = 64, axis = 0, symmetric>>,
           tensor<1x128xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat]>:$input);
  let results = (outs RankedTensorOf<[AnySignlessInteger]>:$result,
                      RankedTensorOf<[AnyFloat]>:$scales,
                      Optional<RankedTensorOf<[AnyFloat]>>:$minima);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result) `,` type($scales)
    (`,` type($minima)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    QuantEncodingAttr getEncoding() {
      return ::llvm::cast<QuantEncodingAttr>(getResult().getType().getEncoding());
    }
  }];
}

def Seq_DequantizeOp : Seq_Op<"dequantize", [Pure]> {
  let summary = "reconstruct real values from b-bit integer codes and group parameters";
  let description = [{
    The inverse map of the input type's `#seq.quant` encoding:
    `x' = s * q` (symmetric) or `x' = s * q + m` (asymmetric), with the
    scale `s` and minimum `m` of the element's group taken from `scales`
    and `minima` as `seq.quantize` returns them (the codes' shape with
    dimension `axis` divided by `group`, the encoding's scale type; minima
    for the asymmetric grid only). Arithmetic is in f32, the result rounded
    to its element type.

    `seq.quantize(seq.dequantize(q))` is not folded either: re-quantizing
    recomputes each group's range from the reconstructed values, which can
    differ from the original range when a group does not use its extreme
    codes.

    Example:
    ```mlir
    %x = seq.dequantize %q, %s, %m
        : tensor<64x128xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>,
          tensor<64x4xf32>, tensor<64x4xf32> -> tensor<64x128xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnySignlessInteger]>:$input,
                       RankedTensorOf<[AnyFloat]>:$scales,
                       Optional<RankedTensorOf<[AnyFloat]>>:$minima);
  let results = (outs RankedTensorOf<[AnyFloat]>:$result);
  let assemblyFormat = [{
    $input `,` $scales (`,` $minima^)? attr-dict `:` type($input) `,`
    type($scales) (`,` type($minima)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    QuantEncodingAttr getEncoding() {
      return ::llvm::cast<QuantEncodingAttr>(getInput().getType().getEncoding());
    }
  }];
}

def Seq_HadamardOp : Seq_Op<"hadamard", [Pure, SameOperandsAndResultType]> {
  let summary = "block-diagonal Walsh–Hadamard rotation of the last dimension";
  let description = [{
    Multiplies the last dimension, in consecutive blocks of `block_size`
    channels (default: the whole dimension), by a Hadamard matrix `H` of
    order `n = block_size`:

    ```
    y[..., b*n + i] = c * sum_j M[i][j] * x[..., b*n + j]
    M = H (transpose = false) or Hᵀ (transpose = true)
    c = 1/sqrt(n) (normalized = true, the default; the rotation is then
        orthogonal) or 1 (normalized = false)
    ```

    `H` is `H_{2^k} ⊗ H_m`: Sylvester's construction for the power of two
    and, for `m > 1`, a Paley matrix of order `m` (Paley I when `m - 1` is a
    prime ≡ 3 mod 4, giving 12, 20, 24, 44, ...; Paley II when `m/2 - 1` is
    a prime ≡ 1 mod 4, giving 12, 28, 36, 60, ...). Orders such as 2^k·12 and
    2^k·20 (head sizes 96, 160, ...) are therefore supported; an order
    without such a construction (e.g. 172) is a verifier error naming it.

    Two normalized rotations of the same block size cancel when one undoes
    the other: one is the transpose of the other, or `H` is symmetric
    (Sylvester and Paley II are; Paley I is not). That fold is exact in real
    arithmetic; two unnormalized ones multiply by `n` and are not folded.

    Example:
    ```mlir
    %y = seq.hadamard %x {block_size = 128 : i64} : tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat]>:$input,
      OptionalAttr<I64Attr>:$block_size,
      DefaultValuedAttr<BoolAttr, "true">:$normalized,
      DefaultValuedAttr<BoolAttr, "false">:$transpose);
  let results = (outs RankedTensorOf<[AnyFloat]>:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The order of the Hadamard matrix: block_size, or the whole last
    /// dimension when no block size is given.
    int64_t getBlockOrder();
  }];
}

def Seq_PermuteChannelsOp : Seq_Op<"permute_channels", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "reorder the channels of each head by a per-layer table";
  let description = [{
    `y[t, h, i] = x[t, h, order[layer, h, i]]`: each head's channels in the
    order of row `[layer, h]` of the table, a permutation of `0 .. D-1`. The
    table has one slice per layer, chosen at run time by `layer` (the
    layers of a model share one function and differ by their cache slot),
    which must be below the table's first dimension.

    `seq-fuse-hadamard` inserts it (RotateKV's outlier-aware reordering:
    channels ordered from calibration statistics so that every Hadamard
    block gets its share of the outlier channels) on queries and keys
    alike, so that their dot products are unchanged.

    Shapes: `input, output : [T, H, D]`, `order : [L, H, D]` (i32).

    The table is either the attribute `order` or, once `seqc compile` has
    moved it into the weight file, the operand `table`: the same values as
    f32 (exact below 2^24), read through `seq.weight` like any weight, so
    that GPU targets bind it with the weights. Exactly one of the two.

    Example:
    ```mlir
    %y = seq.permute_channels %k[%layer] {order = dense<...> : tensor<4x2x32xi32>}
        : tensor<?x2x32xf32>
    %w = seq.weight "const.0" : tensor<4x2x32xf32>
    %z = seq.permute_channels %k[%layer] by %w : tensor<?x2x32xf32>, tensor<4x2x32xf32>
    ```
  }];
  let arguments = (ins 3DTensorOf<[AnyFloat]>:$input, Index:$layer,
                       OptionalAttr<I32ElementsAttr>:$order,
                       Optional<3DTensorOf<[F32]>>:$table);
  let results = (outs 3DTensorOf<[AnyFloat]>:$output);
  let assemblyFormat = [{
    $input `[` $layer `]` (`by` $table^)? attr-dict `:` type($input)
    (`,` type($table)^)?
  }];
  let hasVerifier = 1;
}

def Seq_ScaleChannelsOp : Seq_Op<"scale_channels", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "multiply the channels of each head by a per-layer table";
  let description = [{
    `y[t, h, i] = x[t, h, i] * scales[layer, h, i]`, with the table's slice
    chosen at run time by `layer` (below the table's first dimension), as
    for `seq.permute_channels`.

    `seq-balance-kv` inserts it (MiKV's outlier balancing): key channels
    divided and query channels multiplied by the same factors, so that the
    scores are unchanged while the cached keys lose their outlier channels.

    Shapes: `input, output : [T, H, D]`, `scales : [L, H, D]` (f32, finite
    and positive).

    The table is either the attribute `scales` or, once `seqc compile` has
    moved it into the weight file, the operand `table` (read through
    `seq.weight`); exactly one of the two.

    Example:
    ```mlir
    %y = seq.scale_channels %k[%layer] {scales = dense<...> : tensor<4x2x32xf32>}
        : tensor<?x2x32xf32>
    %w = seq.weight "const.0" : tensor<4x2x32xf32>
    %z = seq.scale_channels %k[%layer] by %w : tensor<?x2x32xf32>, tensor<4x2x32xf32>
    ```
  }];
  let arguments = (ins 3DTensorOf<[AnyFloat]>:$input, Index:$layer,
                       OptionalAttr<FloatElementsAttr<32>>:$scales,
                       Optional<3DTensorOf<[F32]>>:$table);
  let results = (outs 3DTensorOf<[AnyFloat]>:$output);
  let assemblyFormat = [{
    $input `[` $layer `]` (`by` $table^)? attr-dict `:` type($input)
    (`,` type($table)^)?
  }];
  let hasVerifier = 1;
}

def Seq_RopeOp : Seq_Op<"rope", [Pure, AllTypesMatch<["input", "output"]>]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates pairs of channels of each head by an angle proportional to the
    token's position. With `d = rotary_dim` (default: the head dimension
    `D`) and, for `0 <= i < d/2`, `f_i = theta^(-2i/d)` and
    `a = pos[t] * f_i`:

    ```
    (y[p], y[q]) = (x[p] cos a - x[q] sin a,  x[p] sin a + x[q] cos a)
    p = i, q = i + d/2        style = half (LLaMA, GPT-NeoX; the default)
    p = 2i, q = 2i + 1        style = interleaved (GPT-J, RoFormer)
    ```

    Channels `d .. D-1` pass through unchanged (partial rotary, as in
    GPT-NeoX). Shapes: `input, output : [T, H, D]`, `positions : [T]`
    (integer or index). `D` and `d` must be even, `0 < d <= D`, `theta > 0`.

    Example:
    ```mlir
    %qr = seq.rope %q, %pos {theta = 10000.0 : f32}
        : tensor<?x32x128xf32>, tensor<?xi64>
    ```
  }];
  let arguments = (ins 3DTensorOf<[AnyFloat]>:$input,
      1DTensorOf<[AnySignlessInteger, Index]>:$positions,
      DefaultValuedAttr<F32Attr, "10000.0f">:$theta,
      OptionalAttr<I64Attr>:$rotary_dim,
      DefaultValuedAttr<Seq_RopeStyleAttr, "::mlir::seq::RopeStyle::Half">:$style);
  let results = (outs 3DTensorOf<[AnyFloat]>:$output);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

#endif // SEQC_DIALECT_SEQ_SEQQUANTOPS_TD
