//===- Passes.td - model-level passes on the seq dialect ---*- tablegen -*-===//

#ifndef SEQC_PASSES_TRANSFORMS_PASSES_TD
#define SEQC_PASSES_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SeqCompressKVCache : Pass<"seq-compress-kv-cache", "::mlir::ModuleOp"> {
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

def SeqEvictKV : Pass<"seq-evict-kv", "::mlir::ModuleOp"> {
  let summary = "Bound the KV caches of a module by evicting tokens";
  let description = [{
    Rewrites every plain (full-precision, non-evicting) `!seq.kv_cache` type
    so that the cache keeps at most `budget` tokens: with policy `window`
    (StreamingLLM), the first `sinks` tokens and the `budget - sinks` most
    recent ones; a token leaving the window is dropped, and the cache
    stores `budget` tokens whatever its capacity. Caches whose capacity is
    within the budget are left alone.

    Errors, at the first cache: a non-positive budget, a budget not larger
    than the sinks, an unknown policy; `h2o` and `roco` are recognised but
    not lowered yet (their per-token attention statistics are not kept).

    Example: `seqc-opt --seq-evict-kv="policy=window budget=64 sinks=4"`
    turns `!seq.kv_cache<8x64x256xf32>` into
    `!seq.kv_cache<8x64x256xf32, sinks = 4, window = 60>`.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect"];
  let options = [
    Option<"policy", "policy", "std::string", "\"window\"",
           "Which tokens to keep: window (h2o and roco: not lowered yet)">,
    Option<"budget", "budget", "int64_t", "0", "Tokens a cache keeps">,
    Option<"sinks", "sinks", "int64_t", "0",
           "Leading tokens always kept (attention sinks)">
  ];
  let statistics = [
    Statistic<"numCachesEvicting", "caches-evicting",
              "Number of distinct KV cache types given an eviction window">
  ];
}

def SeqFuseHadamard : Pass<"seq-fuse-hadamard", "::mlir::ModuleOp"> {
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

    Not done yet: folding the rotations of the residual stream into the
    weights (QuaRot's RMSNorm fusion and `W_v`/`W_o`, `W_q`/`W_k`, MLP
    rotations), calibration-based channel reordering. They change weights,
    which the importers own; see docs/design.md.
  }];
  let dependentDialects = ["::mlir::seq::SeqDialect"];
  let statistics = [
    Statistic<"numRotated", "attentions-rotated",
              "Number of cached attentions whose keys and values were rotated">
  ];
}

#endif // SEQC_PASSES_TRANSFORMS_PASSES_TD
