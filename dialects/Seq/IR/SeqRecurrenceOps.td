//===- SeqRecurrenceOps.td - RWKV recurrences --------------*- tablegen -*-===//
//
// Token shift and the WKV recurrences of RWKV-4, -5, -6 and -7. One op per
// version: their operands, state shapes and update rules differ (see
// docs/design.md).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECT_SEQ_SEQRECURRENCEOPS_TD
#define SEQC_DIALECT_SEQ_SEQRECURRENCEOPS_TD

include "dialects/Seq/IR/SeqTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Seq_TokenShiftOp : Seq_Op<"token_shift", [Pure,
    AllTypesMatch<["input", "shifted"]>, AllTypesMatch<["prev", "last"]>]> {
  let summary = "shift a sequence by one token, carrying the last token as state";
  let description = [{
    Token shift (RWKV "time shift"): the output at step `t` is the input at
    step `t - 1`; the first output is the carried token `prev`, and the last
    input token becomes the new carried token.

    ```
    shifted[0] = prev
    shifted[t] = input[t - 1]          for 1 <= t < T
    last       = input[T - 1]
    ```

    Shapes: `input : [T, C]`, `prev : [C]`. `T` may be dynamic (prefill of
    any length, `T = 1` for decode) but must be at least 1 at run time.

    Example:
    ```mlir
    %xx, %last = seq.token_shift %x, %prev : tensor<?x768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[AnyFloat]>:$input, 1DTensorOf<[AnyFloat]>:$prev);
  let results = (outs 2DTensorOf<[AnyFloat]>:$shifted, 1DTensorOf<[AnyFloat]>:$last);
  let assemblyFormat = [{
    $input `,` $prev attr-dict `:` type($input) `,` type($prev)
  }];
  let hasVerifier = 1;
}

class Seq_WKVOp<string mnemonic, list<Trait> traits = []>
    : Seq_Op<mnemonic, !listconcat(traits, [Pure,
        AllTypesMatch<["state", "new_state"]>])>;

def Seq_WKV4Op : Seq_WKVOp<"wkv4", [
    AllTypesMatch<["k", "v", "y"]>, AllTypesMatch<["w", "u"]>]> {
  let summary = "RWKV-4 WKV recurrence in the numerically stable (aa, bb, pp) form";
  let description = [{
    The RWKV-4 time-mixing recurrence over `T` tokens of `C` channels, with
    the running numerator `aa`, denominator `bb` and exponent offset `pp`
    (so that no `exp` overflows) kept per channel. `w` is the log-decay
    (negative; a checkpoint's `time_decay` enters as `-exp(time_decay)`), `u`
    the bonus of the current token (`time_first`). The state rows are
    `state[0] = aa`, `state[1] = bb`, `state[2] = pp`; a fresh state is
    `aa = bb = 0`, `pp = -1e38`. Per channel, for t = 0 .. T-1:

    ```
    q  = max(pp, u + k[t])
    y[t] = (exp(pp - q) * aa + exp(u + k[t] - q) * v[t])
         / (exp(pp - q) * bb + exp(u + k[t] - q))
    q' = max(pp + w, k[t])
    aa = exp(pp + w - q') * aa + exp(k[t] - q') * v[t]
    bb = exp(pp + w - q') * bb + exp(k[t] - q')
    pp = q'
    ```

    Shapes: `k, v, y : [T, C]`, `w, u : [C]`, `state : [3, C]` (f32).

    With `state_quant` (a symmetric `#seq.quant` with f32 scales, axis 0)
    the state is kept quantized between tokens in the mean form: `bb` is
    folded into the exponent after every token, so the numerator row holds
    `a = aa / bb`, a convex combination of past values (well conditioned
    for a group scale), and `bb = 1` is not stored. Per token the stored `a`
    is dequantized, then

    ```
    q  = max(p, u + k[t]),  e1 = exp(p - q),  e2 = exp(u + k[t] - q)
    y[t] = (e1 * a + e2 * v[t]) / (e1 + e2)
    q' = max(p + w, k[t]),  f1 = exp(p + w - q'),  f2 = exp(k[t] - q')
    a  = quantize((f1 * a + f2 * v[t]) / (f1 + f2)),  p = q' + log(f1 + f2)
    ```

    and the state is one row of f32 words,
    `[p (C) | codes (C * bits / 8 bytes, packed as seq.quantize packs them,
    4 bytes to a word) | scales (C / group)]`; a fresh state is all zeros
    except `p = -1e30`.

    Example:
    ```mlir
    %y, %s1 = seq.wkv4 %k, %v, %w, %u, %s0
        : tensor<?x768xf32>, tensor<768xf32>, tensor<3x768xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[AnyFloat]>:$k, 2DTensorOf<[AnyFloat]>:$v,
                       1DTensorOf<[AnyFloat]>:$w, 1DTensorOf<[AnyFloat]>:$u,
                       RankedTensorOf<[F32]>:$state,
                       OptionalAttr<Seq_QuantEncodingAttr>:$state_quant);
  let results = (outs 2DTensorOf<[AnyFloat]>:$y,
                      RankedTensorOf<[F32]>:$new_state);
  let assemblyFormat = [{
    $k `,` $v `,` $w `,` $u `,` $state attr-dict `:`
    type($k) `,` type($w) `,` type($state)
  }];
  let hasVerifier = 1;
}

def Seq_WKV5Op : Seq_WKVOp<"wkv5", [
    AllTypesMatch<["r", "k", "v", "y"]>, AllTypesMatch<["w", "u"]>]> {
  let summary = "RWKV-5 (Eagle) WKV: matrix state per head, static decay";
  let description = [{
    Multi-head linear attention with a matrix-valued state per head. The
    `C = H * N` channels are split into `H` heads of size `N`; within a head,
    `S[i][j]` links key channel `i` to value channel `j`. `w` is the decay
    (in (0, 1); a checkpoint's `time_decay` enters as
    `exp(-exp(time_decay))`), `u` the bonus of the current token
    (`time_faaaa`). Per head, for t = 0 .. T-1:

    ```
    y[t][j] = sum_i r[t][i] * (u[i] * k[t][i] * v[t][j] + S[i][j])
    S[i][j] = w[i] * S[i][j] + k[t][i] * v[t][j]
    ```

    Shapes: `r, k, v, y : [T, H*N]`, `w, u : [H, N]`, `state : [H, N, N]`
    (f32, indexed `[head][key][value]`).

    With `state_quant` (a symmetric `#seq.quant` with f32 scales whose axis
    is the value axis, 2 of `[H, N, N]`) the state is kept quantized
    between tokens: per token it is dequantized, updated as above and
    quantized again (groups of `group` values of one key, so that a group
    shares one decay). It is then `[H, W]` f32 words, each head's
    `[codes (N * N * bits / 8 bytes, packed as seq.quantize packs them, 4
    bytes to a word) | scales (N * N / group)]`; a fresh state is zeros.

    Example:
    ```mlir
    %y, %s1 = seq.wkv5 %r, %k, %v, %w, %u, %s0
        : tensor<?x2048xf32>, tensor<32x64xf32>, tensor<32x64x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[AnyFloat]>:$r, 2DTensorOf<[AnyFloat]>:$k,
                       2DTensorOf<[AnyFloat]>:$v, 2DTensorOf<[AnyFloat]>:$w,
                       2DTensorOf<[AnyFloat]>:$u, RankedTensorOf<[F32]>:$state,
                       OptionalAttr<Seq_QuantEncodingAttr>:$state_quant);
  let results = (outs 2DTensorOf<[AnyFloat]>:$y,
                      RankedTensorOf<[F32]>:$new_state);
  let assemblyFormat = [{
    $r `,` $k `,` $v `,` $w `,` $u `,` $state attr-dict `:`
    type($r) `,` type($w) `,` type($state)
  }];
  let hasVerifier = 1;
}

def Seq_WKV6Op : Seq_WKVOp<"wkv6", [
    AllTypesMatch<["r", "k", "v", "w", "y"]>]> {
  let summary = "RWKV-6 (Finch) WKV: matrix state per head, data-dependent decay";
  let description = [{
    As `seq.wkv5`, but the decay is computed per token from the data: `w[t]`
    is a `[T, H*N]` tensor of decays in (0, 1) (the model computes
    `exp(-exp(time_decay + lora(x)))`). Per head, for t = 0 .. T-1:

    ```
    y[t][j] = sum_i r[t][i] * (u[i] * k[t][i] * v[t][j] + S[i][j])
    S[i][j] = w[t][i] * S[i][j] + k[t][i] * v[t][j]
    ```

    Shapes: `r, k, v, w, y : [T, H*N]`, `u : [H, N]`, `state : [H, N, N]`
    (f32, indexed `[head][key][value]`).

    With `state_quant` (a symmetric `#seq.quant` with f32 scales whose axis
    is the value axis, 2 of `[H, N, N]`) the state is kept quantized
    between tokens: per token it is dequantized, updated as above and
    quantized again (groups of `group` values of one key, so that a group
    shares one decay). It is then `[H, W]` f32 words, each head's
    `[codes (N * N * bits / 8 bytes, packed as seq.quantize packs them, 4
    bytes to a word) | scales (N * N / group)]`; a fresh state is zeros.

    Example:
    ```mlir
    %y, %s1 = seq.wkv6 %r, %k, %v, %w, %u, %s0
        : tensor<?x2048xf32>, tensor<32x64xf32>, tensor<32x64x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[AnyFloat]>:$r, 2DTensorOf<[AnyFloat]>:$k,
                       2DTensorOf<[AnyFloat]>:$v, 2DTensorOf<[AnyFloat]>:$w,
                       2DTensorOf<[AnyFloat]>:$u, RankedTensorOf<[F32]>:$state,
                       OptionalAttr<Seq_QuantEncodingAttr>:$state_quant);
  let results = (outs 2DTensorOf<[AnyFloat]>:$y,
                      RankedTensorOf<[F32]>:$new_state);
  let assemblyFormat = [{
    $r `,` $k `,` $v `,` $w `,` $u `,` $state attr-dict `:`
    type($r) `,` type($u) `,` type($state)
  }];
  let hasVerifier = 1;
}

def Seq_WKV7Op : Seq_WKVOp<"wkv7", [
    AllTypesMatch<["r", "w", "k", "v", "a", "b", "y"]>]> {
  let summary = "RWKV-7 (Goose) WKV: generalized delta rule";
  let description = [{
    The RWKV-7 state update, a delta rule with per-channel decay and an
    in-context learning rate. The state of a head is indexed
    `S[i][j]` = value channel `i`, key channel `j`. Per head, for
    t = 0 .. T-1:

    ```
    sa[i]   = sum_j S[i][j] * a[t][j]
    S[i][j] = S[i][j] * w[t][j] + sa[i] * b[t][j] + v[t][i] * k[t][j]
    y[t][i] = sum_j S[i][j] * r[t][j]
    ```

    that is `S = S·diag(w) + (S·aᵀ)·b + vᵀ·k` and `y = S·r`. RWKV-7 models
    pass `a = -k̂` and `b = k̂ ⊙ α` (normalized key `k̂`, learning rate `α`),
    which gives `S = S·diag(w) − S·k̂ᵀ(α ⊙ k̂) + vᵀk`; the op keeps `a` and `b`
    general. `w` is the decay in (0, 1).

    Shapes: `r, w, k, v, a, b, y : [T, H*N]`, `state : [H, N, N]` (f32,
    indexed `[head][value][key]`).

    With `state_quant` (a symmetric `#seq.quant` with f32 scales whose axis
    is the value axis, 1 of `[H, N, N]`) the state is kept quantized
    between tokens: per token it is dequantized, updated as above and
    quantized again (groups of `group` values of one key, so that a group
    shares one decay). It is then `[H, W]` f32 words, each head's
    `[codes (N * N * bits / 8 bytes, packed as seq.quantize packs them, 4
    bytes to a word) | scales (N * N / group)]`; a fresh state is zeros.

    Example:
    ```mlir
    %y, %s1 = seq.wkv7 %r, %w, %k, %v, %a, %b, %s0
        : tensor<?x1024xf32>, tensor<16x64x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[AnyFloat]>:$r, 2DTensorOf<[AnyFloat]>:$w,
                       2DTensorOf<[AnyFloat]>:$k, 2DTensorOf<[AnyFloat]>:$v,
                       2DTensorOf<[AnyFloat]>:$a, 2DTensorOf<[AnyFloat]>:$b,
                       RankedTensorOf<[F32]>:$state,
                       OptionalAttr<Seq_QuantEncodingAttr>:$state_quant);
  let results = (outs 2DTensorOf<[AnyFloat]>:$y,
                      RankedTensorOf<[F32]>:$new_state);
  let assemblyFormat = [{
    $r `,` $w `,` $k `,` $v `,` $a `,` $b `,` $state attr-dict `:`
    type($r) `,` type($state)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Multiple temporal perspectives (RWKV-4 with P perspectives)
//===----------------------------------------------------------------------===//

def Seq_PerspectiveCombineOp : Seq_Op<"perspective_combine", [Pure]> {
  let summary = "weights of P temporal perspectives: softmax over p of W_c · mean_p h_p";
  let description = [{
    The combiner of RWKV-4 with multiple temporal perspectives (Dumitru et
    al., arXiv 2402.02625): P copies of the residual stream run through the
    model, each with its own token-shift mixing coefficients, and the final
    hidden states `h[t, p, :]` (after `ln_out`) are weighed by

    ```
    m[t, c]     = (1 / P) * sum_p h[t, p, c]
    s[t, p]     = sum_c weight[p, c] * m[t, c]
    alpha[t, p] = exp(s[t, p] - max_q s[t, q]) / sum_q exp(s[t, q] - max_q s[t, q])
    ```

    The softmax is over the P perspectives (each row of `alpha` sums to 1),
    not over channels or the vocabulary. `weight` is the checkpoint's
    `convert3.weight`.

    Shapes: `h : [T, P, C]`, `weight : [P, C]`, `alpha : [T, P]` (f32); T
    may be dynamic, P and C must be static.

    Example:
    ```mlir
    %alpha = seq.perspective_combine %h, %wc
        : tensor<?x4x768xf32>, tensor<4x768xf32> -> tensor<?x4xf32>
    ```
  }];
  let arguments = (ins 3DTensorOf<[F32]>:$h, 2DTensorOf<[F32]>:$weight);
  let results = (outs 2DTensorOf<[F32]>:$alpha);
  let assemblyFormat = [{
    $h `,` $weight attr-dict `:` type($h) `,` type($weight) `->` type($alpha)
  }];
  let hasVerifier = 1;
}

def Seq_PerspectiveMixOp : Seq_Op<"perspective_mix", [Pure]> {
  let summary = "sum of P perspectives weighed by their alpha";
  let description = [{
    `result[t, n] = sum_p alpha[t, p] * input[t, p, n]`, with `alpha` from
    `seq.perspective_combine`. The model applies it to the per-perspective
    logits `W_head · h_p`; since the head is linear, the pass
    `seq-perspective-head-once` moves it before the projection
    (`W_head · sum_p alpha_p h_p`: one vocabulary projection instead of P).

    Shapes: `input : [T, P, N]`, `alpha : [T, P]`, `result : [T, N]` (f32).

    Example:
    ```mlir
    %logits = seq.perspective_mix %per_p, %alpha
        : tensor<?x4x50277xf32>, tensor<?x4xf32> -> tensor<?x50277xf32>
    ```
  }];
  let arguments = (ins 3DTensorOf<[F32]>:$input, 2DTensorOf<[F32]>:$alpha);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `,` $alpha attr-dict `:` type($input) `,` type($alpha) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // SEQC_DIALECT_SEQ_SEQRECURRENCEOPS_TD
