//===- Passes.td - conversions out of the seq dialect ------*- tablegen -*-===//

#ifndef SEQC_PASSES_CONVERSION_PASSES_TD
#define SEQC_PASSES_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSeqToLinalgPass : Pass<"convert-seq-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower seq recurrences to tensor, linalg, scf, arith and math";
  let description = [{
    Lowers seq operations to upstream dialects on tensors, ready for one-shot
    bufferization and the CPU pipeline:

    - `seq.token_shift`: slices and inserts (`tensor.extract_slice`,
      `tensor.insert_slice`, `tensor.expand_shape`);
    - `seq.wkv4`: an `scf.for` over the tokens carrying the (aa, bb, pp)
      rows of the state; each step is one elementwise `linalg.generic` over
      the channels that computes the output and the new state in f32
      (f16/bf16 inputs are extended, the output truncated back);
    - `seq.wkv5`, `seq.wkv6`, `seq.wkv7`: an `scf.for` over the tokens
      carrying the `[H, N, N]` state; a token's rows are viewed as `[H, N]`
      (`tensor.expand_shape`) and each step is a few `linalg.generic`s over
      `(head, i, j)`: RWKV-5/6 a reduction for the output and an elementwise
      state update; RWKV-7 `S·a` (reduction), the delta-rule update, then
      `y = S'·r` (reduction);
    - `seq.lif`: an `scf.for` over the steps; each step is one elementwise
      `linalg.generic` over the neurons (charge, fire, reset);
    - `seq.quantize`, `seq.dequantize`: `linalg.generic`s over the tensor
      with its quantization axis split into (groups, group): the range of
      each group, its parameters, the codes; the codes are bit-packed (8 to
      a little-endian word of `bits` bytes per innermost row; 8-bit codes
      are their own bytes), and a codes tensor type becomes that byte
      tensor, in function signatures, calls and returns too;
    - the WKV ops with `state_quant`: the state's f32 words taken apart
      into packed codes and scales once, the token loop carrying them,
      dequantizing before each step and quantizing into them after it (as
      `seq.quantize`/`seq.dequantize` do), RWKV-4 in the mean form;
    - `seq.kv_window_score`: `linalg.generic`s for the window's logits
      against every key (query heads split into (key head, group)), the
      masked maximum and exponential sum of each window row, the
      probabilities summed over the window, and the pooling (the padded
      scores read at `j + t`).

    The other seq operations are not lowered by this pass yet and are left
    in place (a later pipeline stage reports them if they survive).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def ConvertSeqKVToLoopsPass : Pass<"convert-seq-kv-to-loops", "::mlir::ModuleOp"> {
  let summary = "Lower KV caches to in-place loops over packed bytes";
  let description = [{
    Lowers `seq.kv_load`, `seq.kv_length`, `seq.kv_append`,
    `seq.kv_attention` and `seq.kv_store` to `scf` loops that read and write
    the cache's bytes in its state buffer, in the layout of
    `include/seqc/Support/KVLayout.h`: a header (length, quantized count), then
    full-precision regions and, for a compressed cache, the attention sinks,
    a ring of the most recent tokens and the bit-packed codes with their f32
    scales (and minima for the asymmetric grid). Runs before bufferization:
    query, key and value tensors are read through
    `bufferization.to_buffer`, attention outputs are fresh buffers.

    - Append: tokens go to the sinks, then to the ring; when the ring holds
      `window + chunk` tokens, its oldest `chunk` tokens are quantized
      (group ranges, then codes packed 8 channels into `bits` bytes).
    - Attention: per KV head, the scores of all its query heads, softmax,
      then the weighted sum of values. Each token row is dequantized once
      into a `head_dim` scratch row shared by the query heads of the group;
      the cache is never dequantized as a whole.
    - An append whose only use is an attention over the same tokens is
      fused with it: token t is appended right before query t attends, so
      a prefill of T tokens computes exactly what T single steps compute.

    Caches are updated in place: a cache value must come from `seq.kv_load`,
    be used by at most one updating operation (reads such as `seq.kv_length`
    before it are fine) and end in a `seq.kv_store` to its own slot;
    anything else is an error at the offending operation. `seq.kv_evict` and
    `seq.kv_empty` are not lowered yet (an error names them).

    The KV heads' loop is marked parallel (`seq.parallel`) where the scan is
    large enough to pay for a task per head on the CPU, each head with small
    scratch on its own stack. With `parallel-heads`, as the GPU targets ask,
    it is always marked and every head's scratch is a slice of a buffer with
    a leading head dimension, so the loop needs no stack allocations.

    With `parallel-heads`, the queries of an attention with a static count
    are also emitted one after another (each query's parallel loop outside
    any loop), and each KV head's tokens are split (flash-decoding): token
    blocks are dealt round-robin to `kv-splits` invocations (blocks of whole
    per-channel groups), each keeping its own maximum score, sum of
    exponentials and unnormalized value sum; a second parallel loop, one
    invocation per output channel, rescales and combines them. A thread
    then scans about n / splits tokens instead of n, which is what makes a
    long context run on GPU targets at all (a single invocation per head
    leaves a GPU idle, and llvmpipe ends a shader's loops after 65535
    iterations). Scored caches (H2O, RoCo, mixed) are not split: their
    eviction scores need every token's normalized weight.
  }];
  let options = [
    Option<"parallelHeads", "parallel-heads", "bool", /*default=*/"false",
           "Mark every KV heads' loop parallel, with heap scratch per head "
           "(for GPU targets)">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "With parallel-heads: invocations per KV head, each over a share "
           "of the tokens (0: one token block of a full cache per split up "
           "to 64 splits, then 64 tokens per split; 1: no split)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def ConvertSeqHadamardToLoopsPass
    : Pass<"convert-seq-hadamard-to-loops", "::mlir::ModuleOp"> {
  let summary = "Lower seq.hadamard to a fast Walsh–Hadamard transform";
  let description = [{
    Lowers each `seq.hadamard` (block order `n = 2^k · m`, `H = H_{2^k} ⊗
    H_m`) to `scf` loops over a `n`-float scratch row per block: the Paley
    base factor `H_m` (when `m > 1`) as a small dense product with a
    constant matrix, then the `k` butterfly stages `(a + b, a - b)` of the
    power of two, in place (`O(n log n)`), then the `1/sqrt(n)` scale.
    Power-of-two blocks of up to 256 channels are instead transformed in
    registers: one `vector.load` per block, per stage two `vector.shuffle`s
    (the `a` and `b` halves), `addf`, `subf` and a `vector.shuffle` that
    interleaves the results back, one `vector.store`. Runs before
    bufferization: the input is read through `bufferization.to_buffer`
    (with unit stride for the vector form), the result is a fresh buffer.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

#endif // SEQC_PASSES_CONVERSION_PASSES_TD
