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
      (f16/bf16 inputs are extended, the output truncated back);
    - `seq.wkv5`, `seq.wkv6`, `seq.wkv7`: an `scf.for` over the tokens
      carrying the `[H, N, N]` state; a token's rows are viewed as `[H, N]`
      (`tensor.expand_shape`) and each step is a few `linalg.generic`s over
      `(head, i, j)`: RWKV-5/6 a reduction for the output and an elementwise
      state update; RWKV-7 `S·a` (reduction), the delta-rule update, then
      `y = S'·r` (reduction).

    The other seq operations are not lowered by this pass yet and are left
    in place (a later pipeline stage reports them if they survive).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def SeqStridedCopyToLinalg
    : Pass<"seq-strided-copy-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Rewrite strided memref.copy as linalg.copy";
  let description = [{
    Bufferization copies slices of the recurrent state with `memref.copy`.
    When either side has a non-identity layout, the LLVM lowering of
    `memref.copy` calls `memrefCopy` from MLIR's C runner utilities, which a
    deployed model library must not depend on. This pass rewrites those
    copies as `linalg.copy`, which `convert-linalg-to-loops` turns into
    plain loops. Copies between identity layouts are left alone (they become
    `llvm.memcpy`).

    ```mlir
    memref.copy %a, %b : memref<32xf32, strided<[1], offset: 32>>
                      to memref<32xf32>
    // becomes
    linalg.copy ins(%a : memref<32xf32, strided<[1], offset: 32>>)
                outs(%b : memref<32xf32>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def SeqParallelizeProducts
    : Pass<"seq-parallelize-products", "::mlir::func::FuncOp"> {
  let summary = "Lower the marked linalg products to scf.parallel loops";
  let description = [{
    Runs after bufferization. Every `linalg.generic` that carries the
    `seq.parallel` unit attribute (the model builders put it on the matrix
    products, the only work worth spreading over threads) becomes an
    `scf.parallel` over its parallel dimensions with the reductions as inner
    `scf.for` loops; `async-parallel-for` then splits those loops into tasks.
    A product over several tokens (prefill: two parallel dimensions, the
    first of static extent) computes tiles of 2 rows x 4 tokens in one
    reduction loop carrying their 8 accumulators, so that each weight
    element is loaded once for 4 tokens and each activation once for 2
    rows; the tokens and rows left over follow one output at a time.
    Elementwise ops (all loops parallel) over a dynamic extent, the
    prefill's `[T, C]` activations, become `scf.parallel` loops too; every
    other linalg op is left for `convert-linalg-to-loops`, so decode's small
    elementwise work stays sequential and costs no dispatch. Products whose
    first input has a static single row (the decode step) stay on one thread
    unless their weight has at least `min-decode-elements` elements (2^16:
    RWKV-7's LoRA up-projections, 1024 rows of 64 to 160, are in; a loop of
    fewer than 1024 rows makes one task anyway): for small weights
    dispatching the tasks costs more than the second core gains (measured:
    6.1 against 4.3 ms per token on a 4 x 512 model with every product
    parallel), for large ones decode is bound by the bandwidth all cores
    together reach.
    Products left on one thread, and dot products marked `seq.dot` (the
    WKV-7 state times a vector; always on one thread), become nested
    `scf.for` loops with the same register accumulator.

    With `int8-dot` other than `none`, products of f32 activations with
    int8 weights (the body `acc + x * sitofp(w)`, maps `(t, k)`, `(n, k)`,
    `(t, n)`, a static reduction length that `activation-block` divides)
    become integer dot-product kernels, whether they run on all threads or
    on one:

    1. each token's activations are quantized once per product, per block
       of `activation-block` channels: `a = max abs(x) / 127`,
       `q = clamp(roundeven(x * (127 / max abs(x))), -127, 127)` as int8
       (over tokens and blocks on all threads when the product runs there);
    2. each output is `Σ_k a_block(k) · (w_k · q_k)`: the instruction set's
       dot product sums four adjacent integer products exactly, and only
       those 32-bit sums are converted and scaled in f32. The VNNI kernels
       store the codes biased, `q + 128` as an unsigned byte, and start
       each dot product from `-128 · Σ w` (one `vpdpbusd` of `0x80` bytes
       per weight vector); AVX2 multiplies `abs(w)` by `q · sign w`, since
       `vpmaddubsw`'s 16-bit pair sums would saturate with biased codes.
       The last `K mod V` channels use scalar integer products.
    3. prefill products (more than one token) compute tiles of 2 rows x 4
       tokens: each weight vector is loaded and prepared once for 4 tokens,
       each token's codes and scales once for 2 rows; the tokens and rows
       left over follow one output at a time. Decode keeps one output per
       iteration, so that its rows still split into tasks.

       | `int8-dot`   | V bytes | instructions per weight vector and token |
       |--------------|---------|------------------------------------------|
       | `avx2`       | 32      | `vpsignb`, `vpmaddubsw`, `vpmaddwd` (and `vpabsb` per weight vector) |
       | `avxvnni`    | 32      | `{vex} vpdpbusd` (and one more per weight vector for the bias) |
       | `avx512vnni` | 64      | `vpdpbusd` (and one more per weight vector for the bias) |

    The kernels call the x86 intrinsics directly (`llvm.call_intrinsic`), so
    the target must have the named features; `seqc compile` picks the best
    its target has. All three compute the same integers, so they differ
    from each other only in the order of f32 sums. The weights are
    unchanged: only the activations' rounding (at most half a step,
    `max abs(x) / 254` per block) makes the result differ from the float
    product.
  }];
  let options = [
    Option<"minDecodeElements", "min-decode-elements", "int64_t", "65536",
           "Elements a single-row product's weight needs to run on all "
           "threads (0: never)">,
    Option<"int8Dot", "int8-dot", "std::string", "\"none\"",
           "Integer kernel for int8-weight products: none, avx2, avxvnni "
           "or avx512vnni">,
    Option<"activationBlock", "activation-block", "int64_t", "32",
           "Activation channels sharing one int8 scale (a multiple of 4)">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def SeqParallelizeLoops : Pass<"seq-parallelize-loops", "::mlir::func::FuncOp"> {
  let summary = "Turn the scf.for loops marked seq.parallel into scf.parallel";
  let description = [{
    The lowerings mark loops whose iterations are independent and worth a
    thread each with the `seq.parallel` unit attribute (the attention's loop
    over KV heads: a few iterations, each a scan of the whole cache). Runs
    after the products' `async-parallel-for` (whose minimum task size of 512
    iterations suits products, not these loops): each marked loop without
    results becomes an `scf.parallel` for a second `async-parallel-for` with
    a task per iteration.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def ConvertSeqKVToLoops : Pass<"convert-seq-kv-to-loops", "::mlir::ModuleOp"> {
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
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def ConvertSeqHadamardToLoops
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
