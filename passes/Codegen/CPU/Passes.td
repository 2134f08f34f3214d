//===- Passes.td - CPU code generation ---------------------*- tablegen -*-===//
//
// The CPU entry ABI (weights as views of the mapped weight file), then
// passes that run after bufferization and prepare loops and buffers for the
// CPU: which products and loops run on all threads, the integer kernels of
// int8 products (x86), and copies the LLVM lowering would send to MLIR's
// runner utilities. A GPU or event backend has its own folder beside this one.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_CPU_PASSES_TD
#define SEQC_PASSES_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def SeqCPUABIPass : Pass<"seq-cpu-abi", "::mlir::ModuleOp"> {
  let summary = "Materialize the CPU entry ABI: weights as views of the "
                "mapped weight file, C-interface entries";
  let description = [{
    Runs first in `seq-cpu-pipeline`. A model module names its weights by
    reference (`seq.weight`, resolved through the module's `seq.weights`
    table); the CPU runtime maps the weight file and passes it to every
    entry as one `memref<?xi8>`. This pass makes that ABI explicit:

    - every function that reads a weight, or calls one that does, gets the
      mapped file as a new first argument, and its calls pass it on;
    - each `seq.weight` becomes `memref.view` of that argument at the
      entry's byte offset and `bufferization.to_tensor restrict` (the file
      is read-only and nothing else aliases it);
    - a function whose weights are named relative to a layer argument
      (`seq.weight "att.key"[%layer]`, a shared layer function) keeps that
      argument, which now carries the byte offset of the layer's first
      weight: its views are at that offset plus the weight's offset within
      the layer, and its callers pass the offset of the constant layer they
      gave. The weight must exist, with the same type and the same offset
      within the layer, in every layer the function is called with;
    - every public function becomes a C-interface entry
      (`llvm.emit_c_interface`), unless `c-interface=false` (the GPU
      targets: they take the weights as one buffer too, but no host code
      calls the entries).

    The table is dropped once every reference is resolved. A reference to
    a name the table does not have, with another type than the table's, or
    through a layer that is neither a constant nor an argument of its
    function is an error at the reference; a layer argument given a
    non-constant layer is an error at the call.
  }];
  let options = [
    Option<"cInterface", "c-interface", "bool", "true",
           "Make public functions C-interface entries">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SeqParallelizeProductsPass
    : Pass<"seq-parallelize-products", "::mlir::func::FuncOp"> {
  let summary = "Lower the marked linalg products to scf.parallel loops";
  let description = [{
    Runs after bufferization. Every `linalg.generic` that carries the
    `seq.parallel` unit attribute (the model builders put it on the matrix
    products, the only work worth spreading over threads) becomes an
    `scf.parallel` over its parallel dimensions with the reductions as inner
    `scf.for` loops; `async-parallel-for` then splits those loops into tasks.
    A product over several tokens (prefill: two parallel dimensions, the
    first of static extent) computes tiles of 4 rows x 4 tokens in one
    reduction loop carrying their 16 accumulators, so that each weight
    element is loaded once for 4 tokens and each activation once for 4
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

    With `float-lanes` 8 (AVX2 and FMA) or 16 (AVX-512), a prefill product
    with float weights, `acc + x * w` with `w` f32 or extended from f16 or
    bf16 (maps `(t, k)`, `(n, k)`, `(t, n)`; a static weight of at least
    2^16 elements with contiguous rows, rows a multiple of 2 x
    `float-lanes`, a reduction a multiple of `float-lanes`), is computed by
    weight panels as BLAS kernels compute a matrix product instead of the
    scalar tiles:

    1. per block of tokens (at most 1 MiB of activations), the activations
       are copied into tiles of 8 tokens (6 with 8 lanes) on all threads,
       each tile's channels interleaved, so that one step of a tile reads
       one contiguous run;
    2. one task per panel of 2 x `float-lanes` rows (an `scf.for` marked
       `seq.parallel`, which `seq-parallelize-loops` makes one task an
       iteration) takes the reduction in chunks of 128 channels: the
       chunk's weights are loaded a vector of channels per row, extended to
       f32, transposed by shuffles into a buffer that stays in L1, and the
       next chunk's prefetched into L2;
    3. each tile accumulates its tokens x 2 vectors of outputs in registers
       (16 or 12 accumulators), one broadcast activation per token and two
       weight vectors per step; the tokens beyond the tiles follow one at a
       time.

    On RWKV-4 430M, RWKV-7 0.4B and an 8-layer LLaMA of TinyLlama's layer
    shape at fp16, 512-token prefill ran 1.24-1.36x faster than with the
    tiles (docs/design.md, "Prefill products by weight panels").

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
    3. prefill products (more than one token) compute tiles of 4 rows x 4
       tokens: each weight vector is loaded and prepared once for 4 tokens,
       each token's codes and scales once for 4 rows; the tokens and rows
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

    With `int8-dot` other than `none`, q4 products (the linalg form of
    `dialects/Seq/IR/SeqQ4Product.h`: packed 4-bit codes `c` and an f16
    scale `d` per group of 32 channels, weight `d · (c - 8)`; recognized
    after canonicalization) become integer kernels too:

    1. the row is cut into units of W groups: W = 4 (64-byte vectors) with
       `avx512vnni`, else 2 (32 bytes), then a unit of 2 and one of 1 for
       the groups left over. Each token's activations are quantized per
       group of 32 channels as above and stored in the order of the
       weights' nibbles (per unit: channels 0-15 of each group, then 16-31
       of each), with `-8 · Σ q` per 32-bit lane and the lanes' scales;
    2. per unit each row's 16 W bytes are split into low and high nibbles,
       the unsigned operand of the dot product as they are (`vpdpbusd`, or
       `vpmaddubsw` + `vpmaddwd`: 2 · 15 · 127 cannot saturate); two dot
       products start from the lanes' `-8 · Σ q`, leaving each group's
       exact sums in four lanes of its own, then one conversion and one
       multiply-add by the activation scales times the weight scales. A
       single group is unpacked into channel order for one 32-byte dot
       product. Tiles as for int8; decode takes two units per iteration
       into two accumulators.

    The weights are read as stored (4.5 bits a weight); as for int8, only
    the activations' rounding differs from the float product.

    q4k products (GGML Q4_K's values: per sub-block of 32 channels a 6-bit
    scale `sc` and minimum `m`, per super-block of 256 f16 factors `d` and
    `dmin`, weight `d · sc · c - dmin · m`) use the same units and codes.
    Their codes are unsigned as they are, so the dot products start from
    zero and the lanes' weight scales are `d · sc`; each token also keeps
    `-a · Σ q` per lane, and one more multiply-add by the lanes'
    `dmin · m` adds the minima's share. A unit never straddles a
    super-block (W divides its 8 sub-blocks). The weights are read as
    stored (4.625 bits a weight). q5k products (GGML Q5_K's values: q4k's
    with 5-bit codes) add q5's bit plane to q4k's codes as below.

    q5 and q6 products (codes of 5 and 6 bits: q4's nibbles plus one or two
    bit planes, weight `d · (c - 16)` or `d · (c - 32)`) take q4's units:
    per row and unit each plane's 4 W bytes are spread over the nibbles'
    bytes by one byte shuffle per half, tested against each byte's bit and
    or-ed in as 16 or 32; the sums start from `-16 · Σ q` or `-32 · Σ q`.
    q8 products (GGML Q8_0's signed bytes) take units of one vector of
    groups in channel order: with VNNI the codes' sign bits are flipped
    and the sums start from `-128 · Σ q`; with AVX2 `|c|` is multiplied by
    `q` with `c`'s sign (`vpabsb`, `vpsignb`), from zero.

    q6k products (GGML Q6_K's values: q6's codes, per sub-block of 16
    channels a signed 8-bit scale `sc`, per super-block of 256 an f16
    factor `d`, weight `d · sc · (c - 32)`) take q6's units; the two dot
    products of a unit (channels 0-15 of its groups, then 16-31) are
    sub-blocks with scales of their own, so each keeps its own sums from
    its own `-32 · Σ q`, converted and scaled by its lanes' `d · sc` (a
    single group's one dot product holds sub-block 0 in lanes 0-3 and 1 in
    lanes 4-7). The weights are read as stored (6.5625 bits a weight).

    Every product computing one output at a time (decode, and the rows and
    tokens a prefill's tiles leave over), float or integer, first
    prefetches into L2 (`memref.prefetch`, locality 2) each 64-byte line of
    the weight rows of the output 8 KiB of weights ahead, clamped to the
    last row: the codes, bit planes, scales and factors of a group product
    alike. Each thread takes its rows in ascending order, so these are the
    rows it reads next; the hardware prefetchers alone left the loads
    waiting on memory (RWKV-4 430M decode on 2 threads: q4 1.3-1.6x and
    fp16 1.3-1.4x faster with the prefetches). `seq.dot` products (the
    WKV-7 state) prefetch nothing.
  }];
  let options = [
    Option<"minDecodeElements", "min-decode-elements", "int64_t", "65536",
           "Elements a single-row product's weight needs to run on all "
           "threads (0: never)">,
    Option<"int8Kernel", "int8-dot", "::seqc::Int8Kernel",
           "::seqc::Int8Kernel::None",
           "Integer kernel for int8-weight products: none, avx2, avxvnni "
           "or avx512vnni", "::seqc::int8KernelOptionValues()">,
    Option<"activationBlock", "activation-block", "int64_t", "32",
           "Activation channels sharing one int8 scale (a multiple of 4)">,
    Option<"floatLanes", "float-lanes", "int64_t", "0",
           "f32 lanes of the panel kernel of prefill float products (0: "
           "scalar tiles; 8: AVX2; 16: AVX-512)">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def SeqGroupProductsPass : Pass<"seq-group-products", "::mlir::func::FuncOp"> {
  let summary = "Place independent decode products of equal extents together";
  let description = [{
    Runs before bufferization, on tensors. A decode product that will run
    on all threads (a `linalg.generic` marked `seq.parallel` whose first
    input is one row and whose weight has at least `min-decode-elements`
    elements, as `seq-parallelize-products` decides) costs one fork and
    join of the thread pool; products that do not depend on each other and
    have the same parallel extents could share one
    (`seq-fuse-product-loops`), but the model builders interleave them
    with the elementwise work that feeds the next.

    This pass reorders each block: every other op keeps its order, and
    each such product is delayed until an op needs its result. The
    products that are ready at that point and have the same extents as
    the first one needed are then placed together, in their original
    order. Only products (pure ops on tensors) move, after their operands
    and before their users, so every value is computed as before.

    RWKV-7's layer, for example, runs its 1024-row products (receptance,
    key, value and the up-projections of the decay, in-context rate and
    gate LoRAs) in three places instead of seven, and its 64-row
    down-projections together.

    ```mlir
    %r = linalg.generic ... ins(%xr, %wr ...) {seq.parallel}  // 1024 rows
    %d = linalg.generic ... ins(%xw, %w1 ...) {seq.parallel}  // 64 rows
    %t = linalg.generic ... ins(%d ...)                       // tanh
    %k = linalg.generic ... ins(%xk, %wk ...) {seq.parallel}  // 1024 rows
    ```
    becomes `%d`, `%t`, `%r`, `%k` (with `%r` and `%k` placed when their
    first user needs them).
  }];
  let options = [
    Option<"minDecodeElements", "min-decode-elements", "int64_t", "65536",
           "Elements a single-row product's weight needs to run on all "
           "threads (seq-parallelize-products' option of the same name)">
  ];
}

def SeqFuseProductLoopsPass
    : Pass<"seq-fuse-product-loops", "::mlir::func::FuncOp"> {
  let summary = "Merge the parallel loops of neighbouring decode products";
  let description = [{
    Runs after `seq-parallelize-products`, which marks the `scf.parallel`
    loop of each decode product on all threads with `seq.decode_product`.
    Two marked loops of one block with the same constant bounds and steps
    become one loop whose body is the first's then the second's, so that
    `async-parallel-for` forks and joins the thread pool once for both:
    each task computes its rows of every product of the group.

    The ops between the two loops move out of the way first: above the
    first loop each op that neither writes a buffer the loop uses nor uses
    a buffer it writes, below the second the others (typically the free
    of a buffer whose last reader is the first loop). Loops are not merged
    where one writes a buffer the other uses, or where an op between them
    can go neither way. Buffers are told apart by their allocation or
    function argument: distinct allocations and distinct arguments do not
    alias (one-shot bufferization's assumption too). An op whose memory
    effects are unknown stops the merge.
  }];
}

def SeqApproximateMathPass
    : Pass<"seq-approximate-math", "::mlir::func::FuncOp"> {
  let summary = "Expand f32 math.exp and math.tanh into polynomials";
  let description = [{
    `math.exp` and `math.tanh` on f32 scalars and vectors become MLIR's
    polynomial approximations (`populateMathPolynomialApproximationPatterns`:
    exp by range reduction to `2^k · p(r)`, with overflow to `+inf`,
    underflow to 0 and NaN kept; tanh by a rational function clamped to
    ±7.9, the sign kept). The LLVM lowering would otherwise call libm's
    `expf` and `tanhf` once per element, and a loop with a call stays
    scalar: the gates, decays and normalizations of a layer (RWKV's
    sigmoids and WKV exponentials, RWKV-7's tanh, SwiGLU's SiLU) then cost
    a call per channel on one thread in every decode step. As polynomials
    they vectorize with the rest of their loops.

    Accuracy, against numpy in float64 over 2^16 inputs spread over each
    function's range (`test/Integration/cpu/kernels/math.test`): exp within
    1 ulp of the correctly rounded f32 up to x = 88 (91% of the inputs
    exact), 5 ulp between 88 and the overflow at 88.72; results below the
    smallest normal f32 (x < -87.34) are flushed to zero. tanh within
    2.5e-7 absolute and 2.7e-7 relative. exp(0) = 1, exp(-inf) = 0,
    exp(+inf) = +inf, tanh(±inf) = ±1, NaN stays NaN. Runs in
    `seq-cpu-pipeline` after the loops are formed; the softmax exponentials
    of the KV lowering are already polynomials, the GPU targets have their
    own math.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def SeqParallelizeLoopsPass
    : Pass<"seq-parallelize-loops", "::mlir::func::FuncOp"> {
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

def SeqStridedCopyToLinalgPass
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
  let options = [
    Option<"all", "all", "bool", "false",
           "Rewrite copies between identity layouts too">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // SEQC_PASSES_CODEGEN_CPU_PASSES_TD
