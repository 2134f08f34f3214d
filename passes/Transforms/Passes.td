//===- Passes.td - model-level passes on the seq dialect ---*- tablegen -*-===//

#ifndef SEQC_PASSES_TRANSFORMS_PASSES_TD
#define SEQC_PASSES_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SeqCompressKVCachePass : Pass<"seq-compress-kv-cache", "::mlir::ModuleOp"> {
  let summary = "Quantize the KV caches of a module (KIVI-style)";
  let description = [{
    Rewrites every full-precision `!seq.kv_cache` type in the module (function
    signatures, block arguments, operation results) into a compressed one:
    keys at `key-bits` and values at `value-bits`, in groups of `group-size`,
    KIVI-style by default (keys per channel, i.e. groups of tokens; values per
    token, i.e. groups of channels), with `sinks` attention-sink tokens and a
    residual window of the `window` most recent tokens kept at full precision.
    Caches that already carry an encoding are left as they are, so the pass
    is idempotent.

    Invalid options are reported before anything is rewritten: a bit width
    other than 2, 3, 4 or 8, a non-positive group size; and, at the location
    of the first operation that produces or uses the cache, a group size that
    does not divide `head_dim`, more sink tokens than the capacity, or a
    window that is not a multiple of the token-axis group.

    Example: `seqc-opt --seq-compress-kv-cache="key-bits=2 value-bits=2 group-size=32 window=128"`
    turns `!seq.kv_cache<8x64x4096xf16>` into
    `!seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, window = 128>`.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect"];
  let options = [
    Option<"keyBits", "key-bits", "unsigned", "4",
           "Bits per key code (2, 3, 4 or 8)">,
    Option<"valueBits", "value-bits", "unsigned", "4",
           "Bits per value code (2, 3, 4 or 8)">,
    Option<"groupSize", "group-size", "int64_t", "32",
           "Elements sharing one scale (and zero point)">,
    Option<"sinks", "sinks", "int64_t", "0",
           "Leading attention-sink tokens kept at full precision">,
    Option<"window", "window", "int64_t", "32",
           "Most recent tokens kept at full precision (a multiple of "
           "group-size when keys are grouped per channel)">,
    Option<"perTokenKeys", "per-token-keys", "bool", "false",
           "Group keys along channels (per token) instead of KIVI's "
           "per-channel grouping along tokens">,
    Option<"symmetric", "symmetric", "bool", "false",
           "Use the symmetric grid (no zero point) instead of the asymmetric one">
  ];
  let statistics = [
    Statistic<"numCachesCompressed", "caches-compressed",
              "Number of distinct KV cache types compressed">
  ];
}

def SeqEvictKVPass : Pass<"seq-evict-kv", "::mlir::ModuleOp"> {
  let summary = "Bound the KV caches of a module by evicting tokens";
  let description = [{
    Rewrites every plain (full-precision, non-evicting) `!seq.kv_cache` type
    so that the cache keeps at most `budget` tokens per KV head; a token it
    does not keep is dropped for good. Always kept: the first `sinks` tokens
    (attention sinks). The other slots go to, by `policy`:

    - `window` (StreamingLLM): the `budget - sinks` most recent tokens; the
      cache stores `budget` tokens whatever its capacity;
    - `h2o` (heavy hitters): the `recent` most recent tokens and the tokens
      with the largest accumulated attention;
    - `roco`: the tokens with the largest mean attention over the queries
      that saw them (RoCo's temporal score, which does not favour old tokens
      for being old), protecting `recent` tokens as RoCo does: the
      min(`recent`, 10) most recent, and in place of the others the
      candidates whose attention has the largest variance over the queries
      that saw them (RoCo's robustness measure: a token attended to in
      bursts is not evicted for a low mean). Finding those costs
      O(`recent` · `budget`) per appended token and KV head.

    Each KV head chooses its own tokens; the attention a token receives from
    one query is the mean of the softmax weights of the query heads that
    read its head. Caches whose capacity is within the budget are left
    alone.

    Errors, at the first cache: an unknown policy, a non-positive budget, a
    budget not larger than `sinks` (plus `recent` for `h2o` and `roco`),
    `recent` with the `window` policy.

    Example: `seqc-opt --seq-evict-kv="policy=h2o budget=64 sinks=4 recent=16"`
    turns `!seq.kv_cache<8x64x256xf32>` into
    `!seq.kv_cache<8x64x256xf32, sinks = 4, window = 16, evict = h2o, budget = 64>`.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect"];
  let options = [
    Option<"policy", "policy", "::mlir::seq::EvictPolicy",
           "::mlir::seq::EvictPolicy::Window",
           "Which tokens to keep: window, h2o or roco", [{::llvm::cl::values(
             clEnumValN(::mlir::seq::EvictPolicy::Window, "window", "the sinks and the most recent tokens"),
             clEnumValN(::mlir::seq::EvictPolicy::H2O, "h2o", "heavy hitters: the most attended tokens"),
             clEnumValN(::mlir::seq::EvictPolicy::RoCo, "roco", "the tokens of highest mean attention"))}]>,
    Option<"budget", "budget", "int64_t", "0", "Tokens a cache keeps per KV head">,
    Option<"sinks", "sinks", "int64_t", "0",
           "Leading tokens always kept (attention sinks)">,
    Option<"recent", "recent", "int64_t", "0",
           "Most recent tokens always kept (h2o and roco)">
  ];
  let statistics = [
    Statistic<"numCachesEvicting", "caches-evicting",
              "Number of distinct KV cache types made evicting">
  ];
}

def SeqSelectKVPass : Pass<"seq-select-kv", "::mlir::ModuleOp"> {
  let summary = "Compress each prefill's KV rows once, by the observation-window score (FastKV)";
  let description = [{
    Prefill-time KV selection as FastKV compresses every layer (arXiv
    2502.01068, `FastKVCluster.update_kv`): after a prefill's attention,
    which still sees every token, each layer's cache keeps per KV head only
    the prompt tokens the last `window` queries attend to most, plus those
    `window` tokens; decode then appends without evicting.

    At every `seq.kv_attention` fused with the `seq.kv_append` of the same
    tokens, over more than one token (a prefill), the pass inserts

    - `seq.kv_window_score` of the attention's queries and the appended keys
      (`window`, `kernel`, `pool`), giving a score per query head and token;
    - the sum of the scores of the query heads that read each KV head
      (FastKV's GQA-aware score; plain heads are their own group);
    - `seq.kv_select` of the attention's cache by that score, keeping
      `keep` rows per KV head, or `int(n * rate)` of a prompt of `n`
      tokens when `rate` is set (FastKV's proportional mode); the score is
      computed only when the prompt has more tokens than that.

    The cache's length (the next position) is unchanged, so decode continues
    at the right positions over fewer rows. The caches must be plain
    (full precision, no window or eviction policy) and their attention must
    have no key transform (pre-RoPE keys, a latent basis).

    Errors: neither or both of `keep` and `rate`, `rate` outside (0, 1],
    `keep` not above `window`, an even `kernel`, a cache that is not plain.

    Example: `seqc-opt --seq-select-kv="keep=64 window=8 kernel=7 pool=max"`.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"keep", "keep", "int64_t", "0",
           "Rows each KV head keeps of a prompt (window included)">,
    Option<"rate", "rate", "double", "0.0",
           "Instead of keep: the fraction of a prompt's tokens kept">,
    Option<"window", "window", "int64_t", "8",
           "The observation window: the last queries that score, always kept">,
    Option<"kernel", "kernel", "int64_t", "7",
           "Pooling kernel of the scores along the sequence (odd)">,
    Option<"pool", "pool", "::mlir::seq::ScorePool",
           "::mlir::seq::ScorePool::Max",
           "Pooling: avg or max", [{::llvm::cl::values(
             clEnumValN(::mlir::seq::ScorePool::Avg, "avg", "the mean, zero padding counted"),
             clEnumValN(::mlir::seq::ScorePool::Max, "max", "the maximum"))}]>
  ];
  let statistics = [
    Statistic<"numSelections", "selections",
              "Number of prefill attentions whose cache is compressed">
  ];
}

def SeqMixedPrecisionKVPass : Pass<"seq-mixed-precision-kv", "::mlir::ModuleOp"> {
  let summary = "Keep important tokens at full precision and quantize the rest (MiKV)";
  let description = [{
    Rewrites every plain `!seq.kv_cache` type into a mixed-precision one:
    like `seq-evict-kv` with policy `h2o` (or `roco`), the cache keeps
    `budget` tokens per KV head at full precision (the `sinks` first, the
    `recent` most recent and those with the highest attention score), but a
    token that leaves that set is quantized instead of dropped: keys at
    `key-bits`, values at `value-bits`, each token in groups of
    `group-size` channels with its own scales (and zero points). Nothing is
    forgotten; unimportant tokens only lose precision (MiKV).

    Errors, at the first cache: an unknown policy (`h2o` or `roco`), a bit
    width other than 2, 3, 4 or 8, a group size that does not divide
    `head_dim`, a budget not larger than `sinks + recent` or not below the
    capacity.

    Example: `seqc-opt --seq-mixed-precision-kv="budget=64 recent=16 key-bits=2 value-bits=2 group-size=32"`
    turns `!seq.kv_cache<8x64x256xf32>` into
    `!seq.kv_cache<8x64x256xf32, keys = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, window = 16, evict = h2o, budget = 64>`.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect"];
  let options = [
    Option<"policy", "policy", "::mlir::seq::EvictPolicy",
           "::mlir::seq::EvictPolicy::H2O",
           "How important tokens are chosen: h2o or roco", [{::llvm::cl::values(
             clEnumValN(::mlir::seq::EvictPolicy::Window, "window", "the sinks and the most recent tokens"),
             clEnumValN(::mlir::seq::EvictPolicy::H2O, "h2o", "heavy hitters: the most attended tokens"),
             clEnumValN(::mlir::seq::EvictPolicy::RoCo, "roco", "the tokens of highest mean attention"))}]>,
    Option<"budget", "budget", "int64_t", "0",
           "Tokens per KV head kept at full precision">,
    Option<"sinks", "sinks", "int64_t", "0",
           "Leading tokens always kept at full precision">,
    Option<"recent", "recent", "int64_t", "0",
           "Most recent tokens always kept at full precision">,
    Option<"keyBits", "key-bits", "unsigned", "2",
           "Bits per quantized key code (2, 3, 4 or 8)">,
    Option<"valueBits", "value-bits", "unsigned", "2",
           "Bits per quantized value code (2, 3, 4 or 8)">,
    Option<"groupSize", "group-size", "int64_t", "32",
           "Channels sharing one scale (and zero point)">,
    Option<"symmetric", "symmetric", "bool", "false",
           "Use the symmetric grid (no zero point)">
  ];
  let statistics = [
    Statistic<"numCachesMixed", "caches-mixed",
              "Number of distinct KV cache types made mixed-precision">
  ];
}

def SeqBalanceKVPass : Pass<"seq-balance-kv", "::mlir::ModuleOp"> {
  let summary = "Move key outliers into the queries before the cache (MiKV)";
  let description = [{
    MiKV's outlier balancing: for every `seq.kv_attention` over a
    `seq.kv_append` of the same tokens, each key channel is divided and
    the matching channel of the queries that read it multiplied by the
    same factor (`seq.scale_channels`), so `q·k` is unchanged while the
    cached keys, which are quantized, lose their outlier channels (the
    queries, which are not, take them). The factors come from calibration
    statistics, the module's `seq.kv_calibration` (`key_absmax`, the
    largest |key| per layer, KV head and channel: `seqc-run calibrate`):

    ```
    s[l, h, c] = (m[l, h, c] / rms_c m[l, h, c]) ^ alpha   (1 where m = 0)
    ```

    `alpha = 1` equalizes the channels' ranges, smaller values migrate
    part of the outliers (SmoothQuant's migration strength). The layer of
    an attention is its cache's slot. Channels of groups a per-channel key
    encoding scales separately gain nothing; per-token key groups (MiKV's
    low-precision store, `per-token-keys`) do. Run it before
    `seq-fuse-hadamard` (which then rotates the balanced keys) and before
    the compression passes. Idempotent (`seq.balanced`).
  }];
  let options = [
    Option<"alpha", "alpha", "double", "0.5",
           "Migration strength in [0, 1]">
  ];
  let dependentDialects = ["::mlir::seq::SeqDialect"];
  let statistics = [
    Statistic<"numBalanced", "attentions-balanced",
              "Number of cached attentions whose keys were balanced">
  ];
}

def SeqLowRankKVPass : Pass<"seq-low-rank-kv", "::mlir::ModuleOp"> {
  let summary = "Cache a joint low-rank latent of keys and values (EliteKV)";
  let description = [{
    EliteKV's joint low-rank K/V projection, from calibration data instead
    of retraining: for every `seq.kv_attention` over a `seq.kv_append` of
    the same tokens, the cache holds, per token, the `rank` coordinates

    ```
    c = U_lᵀ · [k_pre; v]     (k_pre: the keys of all KV heads before RoPE)
    ```

    where `U_l` (`2 · KV heads · head_dim` rows, `rank` orthonormal
    columns) spans the `rank` principal directions of layer `l`'s joint
    second moment `E[x xᵀ]`, `x = [k_pre; v]`, the module's
    `seq.kv_calibration` `kv_covariance` (`seqc-run calibrate` measures
    it). The layer of an attention is its cache's slot. This is the
    projection that minimizes the mean squared error of the reconstructed
    keys and values over the calibration tokens; keys and values share one
    latent (a token's keys and values are linear in the same hidden
    state, so together they have fewer dimensions than apart).

    The cache becomes one head of `rank / 2` channels: the latent's first
    half in the key rows, the second in the value rows (so that the
    compression passes, run afterwards, quantize it like any cache). The
    attention gets the basis (`latent_basis`) and the cache type a key form
    (`#seq.key_form` with `latent_heads` and the keys' RoPE, as
    `seq-fuse-hadamard`'s pre-RoPE mode): it
    reconstructs each key from the latent, applies RoPE at the token's
    position, and up-projects the attention-weighted latents for the
    values. At `rank = 2 · KV heads · head_dim` the model computes the same
    function (an orthogonal change of basis).

    The keys must come from a `seq.rope` at the cache positions (or from
    no RoPE at all). Run it before `seq-compress-kv-cache`; it refuses
    caches that are already compressed, evicting or rotated. The basis is
    computed by cyclic Jacobi rotations in double, per layer: O(N³) per
    sweep for `N = 2 · KV heads · head_dim` (under 0.1 s per layer
    at N = 128; at N = 1024 tens of seconds per layer, and hours for a
    32-layer model with N = 2048, where a tridiagonal solver would be
    needed).
  }];
  let options = [
    Option<"rank", "rank", "int64_t", "0",
           "Channels of each token's latent: even, at most 2 x KV heads x "
           "head_dim">
  ];
  let dependentDialects = ["::mlir::seq::SeqDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
  let statistics = [
    Statistic<"numLowRank", "attentions-low-rank",
              "Number of cached attentions given a low-rank latent cache">
  ];
}

def SeqFuseHadamardPass : Pass<"seq-fuse-hadamard", "::mlir::ModuleOp"> {
  let summary = "Rotate what enters the KV caches by Hadamard matrices";
  let description = [{
    Makes the cached keys and values easier to quantize without changing
    what the model computes (QuaRot's online rotation of the KV cache). For
    every `seq.kv_attention` over a `seq.kv_append` of the same tokens, with
    `H` the normalized Hadamard matrix of the head dimension (an orthogonal
    rotation, `seq.hadamard`):

    - queries and keys (after RoPE) are both rotated: `(qH)·(kH) = q·k`, so
      the scores are unchanged while the cached keys have their outlier
      channels spread over all channels;
    - values are rotated before they are cached and the attention output is
      rotated back (`Hᵀ`): the output is a convex combination of values, so
      `(Σ a·vH)Hᵀ = Σ a·v`.

    Rotations that meet their inverse fold away (`seq.hadamard`'s folder).
    The pass is idempotent (rotated attentions carry `seq.rotated`). A head
    dimension with no Hadamard matrix (see `seq.hadamard`) is an error at
    the attention, naming the size.

    Rotations folded into the weights are the importer's part (weights are
    data of the mapped blob, not IR; `seqc compile --rotate-weights`):
    QuaRot's RMSNorm fusion, the residual-stream rotation of every
    projection, and `W_v` / `W_o` per head. A module whose
    `seq.folded_rotations` attribute lists `"values"` has values that
    already leave `W_v` rotated by `H` and an `W_o` that undoes it, so the
    pass rotates only queries and keys there (RoPE sits between `W_q`/`W_k`
    and the cache, so their rotation cannot be folded).

    `key-rotation=pre-rope` rotates keys as RotateKV does instead: before
    RoPE, `key-group-heads` KV heads together (one Hadamard matrix of order
    `key-group-heads * head_dim`, so that an outlier channel of one head is
    spread over its neighbours too), which needs the keys' `seq.rope` to be
    the one feeding the append and its positions to be the cache's
    (`kv_length` + token index; otherwise an error at the rope). The cache
    then holds rotated keys before RoPE — the form whose channels are
    stable across positions, which per-channel quantization likes — and the
    attention (through the cache type's key form, `#seq.key_form` with
    `rotation_heads` and `rope_theta`) rotates each key back
    and applies RoPE at its position when it reads it; queries are not
    rotated. Costs a transform of order `key-group-heads * head_dim` and a
    RoPE per cached token, KV head and query token (the rotation is redone
    by each of the group's heads), instead of none. The cache must keep
    every token at its position (no eviction).

    `key-block=B` rotates queries and keys (post-RoPE) by a block-diagonal
    Hadamard matrix of blocks of `B` channels instead of one matrix of the
    whole head (cheaper, but an outlier is spread over its block only).
    `reorder-keys` then first reorders both (`seq.permute_channels`, so
    the scores are unchanged) from calibration statistics, RotateKV's
    outlier-aware rotation: the module's `seq.kv_calibration` dictionary
    holds `key_absmax`, the largest |key| of every channel seen on a
    calibration text, `[layers, kv_heads, head_dim]` f32 (`seqc-run
    calibrate` measures it, `seqc compile --kv-calibration` attaches it);
    each head's channels, from the largest to the smallest, are dealt to
    the blocks in zigzag order (0, 1, .., n-1, n-1, .., 0, 0, 1, ...), so
    that every block holds its share of the outliers before the rotation
    spreads them. The layer of an attention is its cache's slot.
  }];
  let options = [
    Option<"keyRotation", "key-rotation", "::mlir::seq::KeyRotation",
           "::mlir::seq::KeyRotation::PostRope",
           "Where keys are rotated: post-rope (with the queries, per head) "
           "or pre-rope (RotateKV: before RoPE, by groups of heads, rotated "
           "back when read)", [{::llvm::cl::values(
             clEnumValN(::mlir::seq::KeyRotation::PostRope, "post-rope", "after RoPE, with the queries"),
             clEnumValN(::mlir::seq::KeyRotation::PreRope, "pre-rope", "before RoPE, by groups of heads"))}]>,
    Option<"keyGroupHeads", "key-group-heads", "int64_t", "1",
           "KV heads that share one key rotation (pre-rope only)">,
    Option<"keyBlock", "key-block", "int64_t", "0",
           "Rotate queries and keys by Hadamard blocks of this many channels "
           "(0: the whole head; post-rope only)">,
    Option<"reorderKeys", "reorder-keys", "bool", "false",
           "Reorder query and key channels before their rotation from the "
           "module's seq.kv_calibration statistics (post-rope only)">
  ];
  let dependentDialects = ["::mlir::seq::SeqDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"numRotated", "attentions-rotated",
              "Number of cached attentions whose keys and values were rotated">
  ];
}

def SeqPerspectiveHeadOncePass : Pass<"seq-perspective-head-once", "::mlir::ModuleOp"> {
  let summary = "Project the perspectives' mixture once instead of each perspective";
  let description = [{
    A model with P temporal perspectives computes its logits as
    `sum_p alpha_p (W_head h_p)`: `seq.perspective_mix` of the P projected
    hidden states. Since the head is linear, this equals
    `W_head (sum_p alpha_p h_p)`, one vocabulary projection instead of P.

    The pass moves each `seq.perspective_mix` before the `linalg.generic`
    that produces its input when that generic is linear in one input
    indexed `[t, p, k]` (a contraction into a zero-filled output, or an
    elementwise product with values that do not depend on it, such as the
    per-row scales of int8 weights), its other inputs do not depend on `t`
    or `p`, and its output is indexed `[t, p, n]`: the mix is applied to
    that input and the generic is rebuilt without the perspective loop.
    Applied repeatedly, `mix(scale(project(h)))` becomes
    `scale(project(mix(h)))`. The result is the same in exact arithmetic;
    in floating point only the summation order changes.

    Example: `seqc-opt --seq-perspective-head-once`.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
  let statistics = [
    Statistic<"numMoved", "mixes-moved",
              "Number of seq.perspective_mix moved before a linear generic">
  ];
}

#endif // SEQC_PASSES_TRANSFORMS_PASSES_TD
