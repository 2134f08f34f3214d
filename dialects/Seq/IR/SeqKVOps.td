//===- SeqKVOps.td - attention over a KV cache -------------*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQKVOPS_TD
#define SEQC_DIALECT_SEQ_SEQKVOPS_TD

include "dialects/Seq/IR/SeqTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Seq_KVEmptyOp : Seq_Op<"kv_empty", [Pure]> {
  let summary = "an empty KV cache";
  let description = [{
    A cache of the result type holding no token (length 0, zero attention
    statistics).

    Example:
    ```mlir
    %c = seq.kv_empty : !seq.kv_cache<8x64x4096xf16>
    ```
  }];
  let results = (outs Seq_KVCacheType:$cache);
  let assemblyFormat = "attr-dict `:` qualified(type($cache))";
}

def Seq_KVAppendOp : Seq_Op<"kv_append", [Pure,
    AllTypesMatch<["cache", "result"]>, AllTypesMatch<["keys", "values"]>]> {
  let summary = "append the keys and values of T tokens to a KV cache";
  let description = [{
    Returns `cache` with `T` more tokens at its end: position `len + t` holds
    `keys[t]` and `values[t]` (converted to the cache's element type, then
    stored as the cache type says: sink tokens and the residual window at
    full precision, older tokens quantized once they leave the window).
    The length becomes `len + T`. Appending beyond `capacity` is a run-time
    error unless an eviction makes room first.

    Shapes: `keys, values : [T, heads, head_dim]` of the cache type.

    Example:
    ```mlir
    %c1 = seq.kv_append %c0, %k, %v
        : !seq.kv_cache<8x64x4096xf16>, tensor<?x8x64xf32>
    ```
  }];
  let arguments = (ins Seq_KVCacheType:$cache, 3DTensorOf<[AnyFloat]>:$keys,
                       3DTensorOf<[AnyFloat]>:$values);
  let results = (outs Seq_KVCacheType:$result);
  let assemblyFormat = [{
    $cache `,` $keys `,` $values attr-dict `:` qualified(type($cache)) `,` type($keys)
  }];
  let hasVerifier = 1;
}

def Seq_KVAttentionOp : Seq_Op<"kv_attention", [Pure,
    AllTypesMatch<["query", "output"]>, AllTypesMatch<["cache", "new_cache"]>]> {
  let summary = "scaled dot-product attention of queries over a KV cache";
  let description = [{
    Attention of the `T` most recently appended tokens' queries over the
    cache of length `L` (grouped-query: query head `h` reads KV head
    `h / (Hq / Hkv)`). For query token `t`, at position `p_t = L - T + t`:

    ```
    s[j]    = scale * dot(q[t, h], K[j, g(h)])        for kept tokens j
    s[j]    = -inf                                   if causal and j > p_t
    a       = softmax(s)
    out[t, h] = sum_j a[j] * V[j, g(h)]
    ```

    `K` and `V` are read through the cache's encodings (codes dequantized
    group by group inside the dot products, never as a whole cache). `scale`
    defaults to `1/sqrt(head_dim)`; `causal` defaults to true. The returned
    cache is the input cache with its per-token attention statistics updated
    by `a` (accumulated attention and its count, which `seq.kv_evict`'s
    `h2o` and `roco` policies read); its tokens are unchanged.

    A cache whose type has a `key_form` (`#seq.key_form`) stores its keys
    in another form: the attention reads each cached key back before the
    dot products, token by token. Keys rotated over groups of `G` heads
    (`rotation_heads = G`, RotateKV's pre-RoPE grouped-head rotation from
    `seq-fuse-hadamard`) are rotated back (`· H`); keys stored before RoPE
    (`rope_theta`, ...) get the rotary embedding at the token's position.
    With either, per-channel key groups are dequantized in full (the scale
    cannot be folded into the query).

    A cache of low-rank latents (`latent_heads = N`, what `seq-low-rank-kv`
    appends, EliteKV's joint low-rank K/V projection) has one head of `r`
    channels, and the `latent_basis` operand (`U : [2 * N * head_dim,
    2 * r]`, orthonormal columns, `head_dim` the query's) says what it
    holds: token `j`'s latent `c_j` is its keys' row (`r` channels)
    followed by its values' row, and its keys and values are `U · c_j`, the
    first `N * head_dim` rows the keys of the `N` KV heads (before RoPE when
    the form has `rope_theta`), the rest their values. The attention
    reconstructs each key from the dequantized latent, token by token, and
    sums the attention-weighted latents before one up-projection per query
    row (`sum_j a[j] V[j] = U_v · sum_j a[j] c_j`). `N` plays the cache's
    role in the grouping of query heads.

    Shapes: `query, output : [T, Hq, head_dim]`, `Hq` a multiple of the
    cache's `heads`.

    Examples:
    ```mlir
    %o, %c2 = seq.kv_attention %q, %c1 {scale = 0.125 : f32}
        : tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
    %o, %c2 = seq.kv_attention %q, %c1 basis %u
        : tensor<?x32x64xf32>,
          !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8>>,
          tensor<1024x512xf32>
    ```
  }];
  let arguments = (ins 3DTensorOf<[AnyFloat]>:$query, Seq_KVCacheType:$cache,
                       Optional<2DTensorOf<[F32]>>:$latent_basis,
                       DefaultValuedAttr<BoolAttr, "true">:$causal,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs 3DTensorOf<[AnyFloat]>:$output,
                      Seq_KVCacheType:$new_cache);
  let assemblyFormat = [{
    $query `,` $cache (`basis` $latent_basis^)? attr-dict `:` type($query) `,`
    qualified(type($cache)) (`,` type($latent_basis)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    float getEffectiveScale();
    /// The form the cache stores its keys in (its type's key_form), or
    /// null for plain keys.
    ::mlir::seq::KeyFormAttr getKeyForm() {
      return getCache().getType().getKeyForm();
    }
    /// Whether cached keys are read back through a rotation, RoPE or a
    /// latent basis.
    bool hasKeyTransform() { return bool(getKeyForm()); }
    /// The KV heads the queries are grouped by: the key form's
    /// latent_heads for a latent cache, the cache's heads otherwise.
    int64_t getKVHeads() {
      ::mlir::seq::KeyFormAttr form = getKeyForm();
      return form && form.isLatent() ? form.getLatentHeads()
                                     : getCache().getType().getHeads();
    }
  }];
}

def Seq_KVEvictOp : Seq_Op<"kv_evict", [Pure, AllTypesMatch<["cache", "result"]>]> {
  let summary = "drop tokens from a KV cache down to a budget";
  let description = [{
    When the cache holds more than `budget` tokens, keeps `budget` of them
    (in their original order) and drops the rest; otherwise returns it
    unchanged. Always kept: the cache type's `sinks` first tokens and the
    `recent` most recent ones. The other `budget - sinks - recent` slots go
    to, by `policy`:

    - `window`: the most recent tokens (StreamingLLM; `recent` must be 0,
      the window is the recent set);
    - `h2o`: the tokens with the largest accumulated attention
      `sum_t a_t[j]` over all queries so far (heavy hitters, H2O);
    - `roco`: the tokens with the largest mean attention
      `sum_t a_t[j] / n_j` over the `n_j` queries that saw them, which does
      not favour old tokens just for being old (RoCo's temporal score);
      of the `recent` protected tokens only min(`recent`, 10) are the most
      recent, the others are the tokens whose attention has the largest
      variance over those queries (RoCo's robustness measure).

    Ties keep the more recent token. An eviction to `budget >= capacity`
    never drops a token and folds away; two `window` evictions in a row
    become one with the smaller budget.

    Example:
    ```mlir
    %c2 = seq.kv_evict %c1 {policy = #seq.evict<h2o>, budget = 1024 : i64, recent = 64 : i64}
        : !seq.kv_cache<8x64x4096xf16>
    ```
  }];
  let arguments = (ins Seq_KVCacheType:$cache, Seq_EvictPolicyAttr:$policy,
                       I64Attr:$budget, DefaultValuedAttr<I64Attr, "0">:$recent);
  let results = (outs Seq_KVCacheType:$result);
  let assemblyFormat = "$cache attr-dict `:` qualified(type($cache))";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Seq_KVSelectOp : Seq_Op<"kv_select", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "keep a prompt's best-scored tokens in a KV cache (SnapKV, FastKV)";
  let description = [{
    Compresses the prompt a prefill has just appended, once, by a score per
    token and KV head (prefill-time selection: SnapKV, FastKV's per-layer
    compression). With `score : [heads, S]` and `ws = window`, the cache's
    last `n = S + ws` rows are the prompt: `S` scored tokens, then the
    observation window. When `n > keep`, each KV head keeps

    - the `keep - ws` scored tokens with the highest score (equal scores:
      the earlier token first), and
    - the `ws` window tokens,

    in their original order; the other `n - keep` rows are dropped (each
    head drops its own). Rows before the prompt are untouched, and so is the
    cache's length (`seq.kv_length`, the position of the next token): the
    dropped tokens' positions are not reused, since keys are stored after
    RoPE. Later tokens are appended after the kept rows without eviction.
    When `n <= keep` the cache is unchanged; a `keep` below `ws` keeps the
    window only.

    The cache must store every token at its row in full precision (no
    encodings, window or eviction policy in its type). Scores are compared
    as f32 values (NaN is not allowed).

    Example:
    ```mlir
    %c2 = seq.kv_select %c1, %score, %keep {window = 8}
        : !seq.kv_cache<8x128x4096xf16>, tensor<8x?xf32>
    ```
  }];
  let arguments = (ins Seq_KVCacheType:$cache, 2DTensorOf<[F32]>:$score,
                       Index:$keep, ConfinedAttr<I64Attr, [IntPositive]>:$window);
  let results = (outs Seq_KVCacheType:$result);
  let assemblyFormat = [{
    $cache `,` $score `,` $keep attr-dict `:` qualified(type($cache)) `,` type($score)
  }];
  let hasVerifier = 1;
}

def Seq_KVAdvanceOp : Seq_Op<"kv_advance", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "move a KV cache's next position past tokens it does not store";
  let description = [{
    Returns `cache` with its length (`seq.kv_length`, the position of the
    next token) increased by `count`, its rows unchanged: `count` tokens
    passed that this cache's layer never processed. FastKV's token-selective
    propagation runs the layers after a chosen one on a subset of the
    prompt, at the tokens' original positions; those layers' caches advance
    by the tokens left out, so decode continues at the right position.

    The cache must store every token at its row in full precision, as for
    `seq.kv_select`.

    Example:
    ```mlir
    %c2 = seq.kv_advance %c1, %skipped : !seq.kv_cache<8x128x4096xf16>
    ```
  }];
  let arguments = (ins Seq_KVCacheType:$cache, Index:$count);
  let results = (outs Seq_KVCacheType:$result);
  let assemblyFormat = "$cache `,` $count attr-dict `:` qualified(type($cache))";
  let hasVerifier = 1;
}

def Seq_KVLoadOp : Seq_Op<"kv_load", [
    MemoryEffects<[MemRead]>]> {
  let summary = "the cache stored at a slot of a state buffer";
  let description = [{
    Reads the `slot`-th cache of `state`, a byte buffer that holds caches of
    the result type back to back in the storage layout of the lowering
    (`seqc::computeKVLayout`: a header with the length, then the
    full-precision and the bit-packed regions). A zero-filled slot is an
    empty cache.

    The lowering updates caches in place: the chain of caches from a
    `seq.kv_load` through `seq.kv_append` and `seq.kv_attention` must end in
    a `seq.kv_store` to the same slot, with no cache of the chain used twice.

    Example:
    ```mlir
    %c = seq.kv_load %state[%layer] : memref<?xi8> -> !seq.kv_cache<8x64x4096xf16>
    ```
  }];
  let arguments = (ins MemRefRankOf<[I8], [1]>:$state, Index:$slot);
  let results = (outs Seq_KVCacheType:$cache);
  let assemblyFormat = [{
    $state `[` $slot `]` attr-dict `:` type($state) `->` qualified(type($cache))
  }];
}

def Seq_KVStoreOp : Seq_Op<"kv_store", [MemoryEffects<[MemWrite]>]> {
  let summary = "write a cache back to its slot of a state buffer";
  let description = [{
    Stores `cache` as the `slot`-th cache of `state` (see `seq.kv_load`).

    Example:
    ```mlir
    seq.kv_store %c2, %state[%layer] : !seq.kv_cache<8x64x4096xf16>, memref<?xi8>
    ```
  }];
  let arguments = (ins Seq_KVCacheType:$cache, MemRefRankOf<[I8], [1]>:$state,
                       Index:$slot);
  let assemblyFormat = [{
    $cache `,` $state `[` $slot `]` attr-dict `:` qualified(type($cache)) `,` type($state)
  }];
}

def Seq_KVLengthOp : Seq_Op<"kv_length", [Pure]> {
  let summary = "the number of tokens a cache holds";
  let description = [{
    The cache's length: the position the next appended token takes.

    Example:
    ```mlir
    %n = seq.kv_length %c : !seq.kv_cache<8x64x4096xf16>
    ```
  }];
  let arguments = (ins Seq_KVCacheType:$cache);
  let results = (outs Index:$length);
  let assemblyFormat = "$cache attr-dict `:` qualified(type($cache))";
}

def Seq_KVWindowScoreOp : Seq_Op<"kv_window_score", [Pure]> {
  let summary = "SnapKV's observation-window score of every prompt token";
  let description = [{
    How much the last `window` queries of a prompt attend to each earlier
    token, the score DynamicKV and FastKV select a prefill's keys by. For
    `n` tokens, queries `q : [n, Hq, D]` and keys `k : [n, Hk, D]` (after
    RoPE; query head `h` reads key head `h / (Hq / Hk)`), with
    `ws = window`:

    ```
    a[h, i, j] = softmax_j(q[n-ws+i, h] . k[j, h / G] / sqrt(D)),  j <= n-ws+i
    raw[h, j]  = sum_i a[h, i, j]                      for j < n - ws
    score[h, j] = pool_{|t| <= kernel/2} raw[h, j + t]
    ```

    `pool` is `avg` (the sum over the `kernel` positions divided by
    `kernel`, positions outside 0 .. n-ws-1 counting as 0, as
    `avg_pool1d` with zero padding does) or `max` (positions outside are
    skipped). The window's own tokens get no score: a selection always
    keeps them. `kernel` is odd.

    Shapes: `q : [n, Hq, D]`, `k : [n, Hk, D]` with `Hk` dividing `Hq`,
    `score : [Hq, n - window]`; `n` may be dynamic but must exceed
    `window` at run time.

    Example:
    ```mlir
    %s = seq.kv_window_score %q, %k {window = 8, kernel = 7, pool = #seq.pool<avg>}
        : tensor<?x32x128xf32>, tensor<?x8x128xf32> -> tensor<32x?xf32>
    ```
  }];
  let arguments = (ins 3DTensorOf<[AnyFloat]>:$query, 3DTensorOf<[AnyFloat]>:$key,
                       ConfinedAttr<I64Attr, [IntPositive]>:$window,
                       DefaultValuedAttr<I64Attr, "7">:$kernel,
                       DefaultValuedAttr<Seq_ScorePoolAttr,
                                         "::mlir::seq::ScorePool::Avg">:$pool);
  let results = (outs 2DTensorOf<[F32]>:$score);
  let assemblyFormat = [{
    $query `,` $key attr-dict `:` type($query) `,` type($key) `->` type($score)
  }];
  let hasVerifier = 1;
}

def Seq_SelectTopOp : Seq_Op<"select_top", [Pure]> {
  let summary = "the indices of the k largest scores, in ascending order";
  let description = [{
    The positions of the `k` largest entries of `score`, sorted ascending
    (not by score): the tokens FastKV's token-selective propagation carries
    to the next layers, in their original order. Equal scores: the earlier
    position is taken first. A `k` above the number of scores takes them
    all. Scores compare as f32 values (NaN is not allowed; -0 equals +0).

    Example:
    ```mlir
    %idx = seq.select_top %score, %k : tensor<?xf32> -> tensor<?xindex>
    ```
  }];
  let arguments = (ins 1DTensorOf<[F32]>:$score, Index:$k);
  let results = (outs 1DTensorOf<[Index]>:$indices);
  let assemblyFormat = [{
    $score `,` $k attr-dict `:` type($score) `->` type($indices)
  }];
}

def Seq_KVBudgetsOp : Seq_Op<"kv_budgets", [Pure]> {
  let summary = "DynamicKV's per-layer cache lengths from every layer's scores";
  let description = [{
    The rows each layer's cache keeps of a prompt under DynamicKV's
    layer-adaptive budgets (arXiv 2412.14838, `DynamicKVClusterV11`), from
    the pooled window scores of every layer, `scores : [L, H, m]` (H heads,
    `m` = n - `window` scored tokens): `capacity` is the mean cache length
    per layer, window included, `base = capacity - window`, and every layer
    first holds its `b_max = min(int(ratio_max * base), m)` best tokens.
    After every layer `l` with `l % interval == interval - 1` (`j = l + 1`
    layers so far) the budgets of layers 0 .. l are re-derived as the
    official code does, integer divisions and float32 ratios included:

    ```
    c_i   = #(the base*H*j largest of scores[0..l], in layer i) // j
    (at the model's last layer, when sum(c) != H*m:
     c_last += base*H*j // L - sum(c))
    rho_i = float32(c_i) / float32(sum(c))
    b'_i  = int(float32(b_max) * rho_i)
    sigma = sum(b') / (base * L)                  (float64)
    b_i   = int(b'_i // sigma)                    (Python's float //)
    b_last += base * L - sum(b)
    ```

    and layer i then holds `min(b_i, m, what it held)` of its best tokens:
    a budget never grows back. (The official code slices its rows, best
    first then the window, to `b_i`, so a budget larger than a layer holds
    takes window rows twice; this op keeps what the layer holds instead, a
    deliberate deviation.) Equal scores: the earlier entry (by layer, head,
    token) is taken first.

    The result is `b_i + window` per layer: the `keep` of `seq.kv_select`
    over that layer's scores, which keeps the same rows as taking the first
    `b_i` of the layer's score-ordered selection.

    Example:
    ```mlir
    %keep = seq.kv_budgets %s {capacity = 64, window = 8, ratio_max = 10.0 : f64}
        : tensor<32x32x?xf32> -> tensor<32xindex>
    ```
  }];
  let arguments = (ins 3DTensorOf<[F32]>:$scores,
                       ConfinedAttr<I64Attr, [IntPositive]>:$capacity,
                       ConfinedAttr<I64Attr, [IntPositive]>:$window,
                       DefaultValuedAttr<F64Attr, "10.0">:$ratio_max,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>,
                                         "4">:$interval);
  let results = (outs 1DTensorOf<[Index]>:$keep);
  let assemblyFormat = [{
    $scores attr-dict `:` type($scores) `->` type($keep)
  }];
  let hasVerifier = 1;
}

#endif // SEQC_DIALECT_SEQ_SEQKVOPS_TD
