//===- SeqTypes.td - seq dialect types ---------------------*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQTYPES_TD
#define SEQC_DIALECT_SEQ_SEQTYPES_TD

include "dialects/Seq/IR/SeqAttrs.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Seq_KVCacheType : TypeDef<Seq_Dialect, "KVCache"> {
  let mnemonic = "kv_cache";
  let summary = "a per-layer key/value cache, possibly quantized";
  let description = [{
    The keys and values of one attention layer for up to `capacity` tokens,
    for `heads` KV heads of `head_dim` channels each. A value of this type is
    the whole cache (its contents, its current length and the per-token
    attention statistics that eviction policies read); operations return a
    new cache instead of mutating one, so a cache can be saved, restored and
    forked like any other state.

    Full-precision storage uses `element_type` (f16, bf16 or f32). The
    optional `keys` and `values` encodings (`#seq.quant`) quantize the
    middle of the cache; in the encodings, `axis = 0` groups tokens
    (per-channel, KIVI keys) and `axis = 1` groups channels (per-token, KIVI
    values). Two regions stay at full precision whatever the encodings say:

    - the first `sinks` tokens (attention sinks, StreamingLLM / RotateKV);
    - the most recent `window` tokens (the residual window of KIVI: tokens
      are quantized once they leave it; with token-axis groups the window
      must be a positive multiple of the group size, so that whole groups
      leave it at once).

    A cache with a `window` but no encoding evicts instead (StreamingLLM):
    it keeps the `sinks` first tokens and the `window` most recent ones, and
    a token leaving the window is dropped; it stores `sinks + window` tokens
    whatever its capacity (which still bounds the positions it accepts).

    A cache with `evict = h2o` or `evict = roco` and a `budget` chooses the
    tokens it keeps by attention (per KV head: each head keeps its own set).
    It holds at most `budget` tokens per head at full precision: the `sinks`
    first, the `window` most recent and, in the other slots, the tokens
    with the highest score: accumulated attention (`h2o`, heavy hitters) or
    mean attention over the queries that saw the token (`roco`). The
    attention a token receives from a query is the mean of the softmax
    weights of the query heads that read its KV head. (With `roco`, only
    min(`window`, 10) of the protected tokens are the most recent; the
    other `window` - 10 are the candidates whose attention has the largest
    variance over the queries that saw them, RoCo's robustness measure.)
    When a token arrives at a full cache, the unprotected token with the
    lowest score (ties: the older one) leaves the full-precision set:

    - without encodings it is dropped (H2O / RoCo eviction);
    - with encodings it is quantized, token by token, and stays in the
      cache at low precision (MiKV mixed precision); the encodings must then
      group channels (`axis = 1`), since tokens are quantized one at a time.

    A `key_form` (`#seq.key_form`) says that the keys are stored in another
    form than the dot products use: rotated by a Hadamard matrix over groups
    of heads, before RoPE, or as low-rank latents (then the cache has one
    head of latent channels). The storage is the same; `seq.kv_attention`
    reads each key back through the form. Such a cache keeps its tokens by
    position (no `evict`, and keys before RoPE or latents allow no window
    without encodings).

    Storage per token and head, with `b` bits and group `g`, is
    `head_dim * b / 8` bytes of codes plus, per group, one scale (and one
    zero point for the asymmetric grid).

    Syntax: `heads x head_dim x capacity x element_type`, then optional
    `keys = ...`, `values = ...`, `sinks = N`, `window = N`,
    `evict = h2o|roco`, `budget = N`, `key_form = #seq.key_form<...>`:
    ```
    !seq.kv_cache<8x64x4096xf16>
    !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>,
                  values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>,
                  sinks = 4, window = 128>
    !seq.kv_cache<8x64x4096xf16, sinks = 4, window = 64, evict = h2o, budget = 1024>
    !seq.kv_cache<8x64x4096xf16, key_form = #seq.key_form<rotation_heads = 2, rope_theta = 1.000000e+04 : f32>>
    ```
  }];
  let parameters = (ins
    "int64_t":$heads,
    "int64_t":$headDim,
    "int64_t":$capacity,
    "::mlir::Type":$elementType,
    "::mlir::seq::QuantEncodingAttr":$keyEncoding,
    "::mlir::seq::QuantEncodingAttr":$valueEncoding,
    "int64_t":$sinks,
    "int64_t":$window,
    "::mlir::seq::EvictPolicyAttr":$evict,
    "int64_t":$budget,
    "::mlir::seq::KeyFormAttr":$keyForm
  );
  let builders = [
    TypeBuilderWithInferredContext<(ins "int64_t":$heads, "int64_t":$headDim,
        "int64_t":$capacity, "::mlir::Type":$elementType)>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True when keys or values are quantized.
    bool isCompressed() const { return getKeyEncoding() || getValueEncoding(); }
    /// True when tokens are chosen by attention (h2o or roco): dropped
    /// without encodings, quantized with them (mixed precision).
    bool isScored() const { return bool(getEvict()); }
    /// True when every token stays at the index it was appended at (no
    /// eviction by attention or by a window without encodings).
    bool keepsPositions() const {
      return !isScored() && (getWindow() == 0 || isCompressed());
    }
    /// Bytes one token occupies in the cache (keys and values, all heads),
    /// counting codes, scales and zero points of its quantized region, or
    /// full-precision storage when unquantized.
    double getBytesPerQuantizedToken() const;
    /// Bytes one full-precision token occupies (keys and values, all heads).
    int64_t getBytesPerFullToken() const;
    /// This type with `keyForm` (null: plain keys) and every other
    /// parameter kept.
    KVCacheType withKeyForm(::mlir::seq::KeyFormAttr keyForm) const;
  }];
}

#endif // SEQC_DIALECT_SEQ_SEQTYPES_TD
