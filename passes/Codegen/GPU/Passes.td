//===- Passes.td - GPU code generation ---------------------*- tablegen -*-===//
//
// What the GPU targets (Vulkan, CUDA) share between the seq lowering and
// their own kernel conversion: which entries a GPU runs, the products as
// workgroup reductions, elementwise fusion that stops at products, threads
// for the greedy mapping, and each entry's host part compiled to a static
// schedule of dispatches. lib/Pipelines/GPUPipeline.cpp orders them.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_GPU_PASSES_TD
#define SEQC_PASSES_CODEGEN_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def SeqGPUStepEntriesPass
    : Pass<"seq-gpu-step-entries", "::mlir::ModuleOp"> {
  let summary = "Keep the entries a GPU schedule runs";
  let description = [{
    Erases `seqc_prefill_all`, and `seqc_prefill` unless its tokens have a
    static count: an entry whose host part loops over a prompt's tokens has
    no static schedule. A GPU target has the importer build `seqc_prefill`
    for exactly `--prefill-chunk` tokens (16 on CUDA, the Vulkan profile's
    `prefill_tokens`), which this pass keeps: the GPU drivers run a prompt
    in chunks of that many tokens through it and the rest token by token
    through `seqc_step`, and every token's logits through `seqc_step`. Run
    `symbol-dce` after it for the erased entries' layer functions.

    The `seqc_init_state` of a model with KV caches fills its whole state
    buffer, whose size its IR leaves open (`memref<?xi8>`); a GPU kernel's
    grid is fixed, so the buffer is viewed at the size the caches take: one
    cache layout (`seqc/Support/KVLayout.h`) per slot up to the largest
    slot a `seq.kv_load` reaches (a constant at every call of its layer
    function, or an error).

    `seq.kv_select` (prefill-time selection, FastKV and DynamicKV) is an
    error: it scores a whole prompt at the end of its prefill, and in fixed
    chunks each chunk would be selected alone.
  }];
}

def SeqGPUFuseElementwisePass
    : Pass<"seq-gpu-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuse elementwise producers into consumers that have no "
                "reduction";
  let description = [{
    Upstream's elementwise fusion (`linalg-fuse-elementwise-ops`: a producer
    of one use fused into its consumer), on tensors, except into an op with
    a reduction: fused into a product, a token-shift mix would be
    recomputed for every output element. On a GPU every remaining op is a
    kernel, a dispatch and a barrier per token, so fewer is faster.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SeqGPUSplitProductsPass
    : Pass<"seq-gpu-split-products", "::mlir::func::FuncOp"> {
  let summary = "Split the products and gathers whose buffers exceed one "
                "storage binding or whose rows exceed a grid dimension";
  let description = [{
    Runs on buffers, before `seq-gpu-products`. A device binds at most
    `maxStorageBufferRange` bytes to one storage buffer binding (128 MiB on
    lavapipe), and a model's head or embedding-sized products can be
    larger (a 65536-token vocabulary's f32 head of width 768 is 192 MiB). A
    marked product (`seq.parallel`) whose largest buffer exceeds
    `max-binding-bytes` less 256 (a binding starts at the 256-byte boundary
    before its view) is replaced by products over consecutive ranges of the
    parallel loop that indexes that buffer's first dimension (a weight's
    rows, the output's columns): each on subviews of every buffer that loop
    indexes, as many rows as fit in one binding. Each becomes its own
    kernel launch with its own bindings. A product that cannot be split
    that way (the loop indexes a buffer by an expression, the body reads
    its indices, one row is too large) is an error.

    A product of more rows than `max-workgroups` (65535, the workgroups
    Vulkan guarantees in a grid dimension; `seq-gpu-products` gives each row
    a workgroup) is split the same way: a vocabulary of 65536 or 128256
    tokens.

    A gather is split too: a `memref.load` inside an op's body (an
    embedding lookup, one row per token) from a buffer defined outside it
    that exceeds one binding reads from subviews of consecutive row ranges
    of it instead, each within one binding, the range chosen at run time
    by the row index (`scf.if` on its first row): each range is a binding
    of the kernel. One row larger than a binding is an error.
  }];
  let options = [
    Option<"maxBindingBytes", "max-binding-bytes", "int64_t", "0",
           "The most bytes one storage binding holds (0: no limit)">,
    Option<"maxWorkgroups", "max-workgroups", "int64_t", "65535",
           "The most rows (workgroups) one product launch has">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def SeqGPUProductsPass : Pass<"seq-gpu-products", "::mlir::func::FuncOp"> {
  let summary = "Lower the marked products to a workgroup per output element "
                "whose threads share the reduction";
  let description = [{
    Runs on buffers, before the GPU mapping. A `linalg.generic` marked
    `seq.parallel` (the model pipeline's products) with two parallel
    dimensions, one reduction, static sizes and an f32 output it adds a term
    to (`linalg.yield` of `arith.addf` with the output) becomes:

    ```mlir
    scf.parallel (%row, %tok) ... {        // mapped to blocks x, y
      %partial = memref.alloc() : memref<64xf32, #gpu.address_space<workgroup>>
      scf.parallel (%t) = (0) to (64) {    // mapped to threads x
        %sum = scf.for %k = %t to %K step 64 iter_args(%a = 0.0) {
          // the product's own body at (%row, %tok, %k), its term added
        }
        // %partial[%t] = %sum; a tree of 6 halving steps with barriers;
        // thread 0 adds %partial[0] to the output element
      }
    }
    ```

    as the hand-written decode kernels do (lib/Target/GPU/kernels/
    decode.mlir): neighbouring threads read neighbouring weights, where the
    greedy mapping gave each thread a whole weight row. The body is cloned,
    so f32, f16, int8 and q4 weights (with their scales and nibble indices,
    `linalg.index` of the reduction dimension becoming the thread's index)
    need nothing of their own; the `reassoc` the products carry allows the
    reordered sum. Other ops are left to the greedy mapping.

    With `subgroup-reduce`, the threads' sums are added by subgroup
    arithmetic first (`gpu.subgroup_reduce add`): the first thread of each
    subgroup stores its subgroup's sum, one barrier, and thread 0 adds the
    `gpu.num_subgroups` sums, whatever subgroup size the device picks. The
    kernels then need the device's subgroup arithmetic
    (GroupNonUniformArithmetic); without the option (a profile without
    `subgroup_arithmetic`, or a driver whose subgroup operations are
    broken) the tree in workgroup memory does the whole reduction.
  }];
  let options = [
    Option<"subgroupReduce", "subgroup-reduce", "bool", /*default=*/"false",
           "Add the threads' sums by subgroup arithmetic before the "
           "workgroup's">
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def SeqGPUHostKernelsPass
    : Pass<"seq-gpu-host-kernels", "::mlir::func::FuncOp"> {
  let summary = "Move the host code a GPU schedule cannot run into kernels";
  let description = [{
    Runs on buffers, after the linalg ops became parallel loops and before
    the GPU mapping. A GPU entry's host part must be bookkeeping only
    (buffers, views, launches): `seq-gpu-schedule` compiles it once. What
    the KV-cache lowering leaves at the top level of an entry is moved into
    kernels:

    - (`seq-parallelize-loops`, run before it, made the loop marked
      `seq.parallel`, the KV heads, an `scf.parallel`: a lane per head);
    - each run of other ops that read or write memory or have regions (the
      append under `scf.if` on the cache's length, the header's update)
      becomes a kernel of one thread: an `scf.parallel` of one iteration;
    - a scalar read from memory (`memref.load` of the cache's length) and
      what is computed from it is cloned into each parallel loop that uses
      it, so the kernel reads it when it runs. That is the same value only
      if nothing between the read and the loop may write the memory it
      reads; where something may, the read is an error with a note at the
      write. A loop whose bounds are such a scalar is an error: a grid is
      fixed when the model is compiled.

    Entries without such code (the recurrent models) are unchanged.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def SeqGPUExpandF64MathPass
    : Pass<"seq-gpu-expand-f64-math", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Evaluate f64 exp, sin and cos with f64 arithmetic";
  let description = [{
    SPIR-V's GLSL instructions have exp, sin and cos for 16- and 32-bit
    floats only, and the rotary position embedding computes its angles in
    f64 (as the CPU does, so that long contexts keep their precision). This
    pass rewrites `math.exp`, `math.sin` and `math.cos` on f64 in a GPU
    module into f64 arithmetic:

    - exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 with ln 2 in
      two parts; a degree-14 Taylor polynomial of exp(r), |r| <= ln(2)/2;
      2^k built as the bits of a double (k clamped to -1022..1023).
    - sin and cos: x = k pi/2 + r, with pi/2 in three parts of 33 bits
      (Cody and Waite; exact while |x| < 1.6e6), Taylor polynomials of
      degree 19 and 20 on |r| <= pi/4, the quadrant k mod 4 picking the
      function of r and its sign.

    The polynomials' truncation error is below 1e-17 relative. Any other
    math op on f64 without a SPIR-V instruction is an error naming it.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def SeqGPUScalarizeVectorsPass
    : Pass<"seq-gpu-scalarize-vectors", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Turn 1-D vector code in kernels into scalar code";
  let description = [{
    The KV-cache codec and the packed attention are written on 1-D vectors
    of a head's width (32 to 128 lanes: a row of codes unpacked, scaled and
    dotted at once), which the CPU's LLVM backend maps onto its vector
    registers. SPIR-V has vectors of 2, 3, 4 (8 and 16 with a capability)
    lanes, NVVM's translation lacks some vector ops, and a GPU thread is
    one lane of its own. This pass rewrites the
    vector code of a GPU module lane by lane, a 1:N type conversion of each
    `vector<NxT>` of more than 4 lanes into N values of T (vectors of 2 to
    4 lanes, the tiles of the hand-written kernels, stay, except in loads
    and stores on buffers of scalars, which SPIR-V's logical addressing
    cannot bitcast to vector pointers): elementwise ops (arith, math) one per
    lane, constants, `vector.broadcast`, `vector.load` and `vector.store`
    (consecutive elements of the innermost dimension), `vector.insert` and
    `vector.extract` at static positions, `vector.shuffle`,
    `vector.extract_strided_slice`, `vector.from_elements`,
    `vector.reduction` (in lane order) and the `scf` ops that carry vectors;
    in-bounds 1-D `vector.transfer_read/write` (the Hadamard rows) become
    loads and stores first, and the loads and stores through a 1-D
    unit-stride `memref.reinterpret_cast` of a contiguous buffer (the
    Hadamard rows' fast path) index that buffer after.
    Any other op on vectors is an error naming it.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect"];
}

def SeqGPUPrivateAllocsPass
    : Pass<"seq-gpu-private-allocs", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Give each thread's scratch buffers private memory";
  let description = [{
    A buffer a thread allocates inside a kernel (a recurrence's output row
    for one token, inside the token loop of a prefill's WKV-5/6/7 head)
    has no host allocation to come from: kernels cannot allocate from
    device memory. This pass turns each `memref.alloc` in a kernel that
    is not workgroup memory into a `memref.alloca` of the thread's private
    memory, moved to the kernel's entry (SPIR-V declares its function
    variables in the first block; a fresh allocation's contents are
    undefined, so one buffer for every iteration of a loop is the same
    program), and erases its `memref.dealloc`. The memory space is an
    option: `function` (SPIR-V's Function storage class) or `none` (the
    default space, which NVVM makes local memory). A dynamic size, or more
    than `max-bytes` of private memory per thread, is an error naming the
    kernel.
  }];
  let options = [
    Option<"memorySpace", "memory-space", "std::string", "\"none\"",
           "The private buffers' memory space: none or function">,
    Option<"maxBytes", "max-bytes", "int64_t", "16384",
           "Private memory a thread may take, in bytes">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::spirv::SPIRVDialect"];
}

def SeqGPURoundF16Pass : Pass<"seq-gpu-round-f16", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Round f32 to f16 to nearest even in integer arithmetic";
  let description = [{
    SPIR-V leaves the rounding of `OpFConvert` to f16 to the driver unless
    it is decorated `FPRoundingMode`, which Vulkan allows only on a
    conversion stored straight to a 16-bit buffer; a driver may round
    toward zero, and an f16 KV cache would then drift from the CPU's (which
    rounds to nearest even). lavapipe happens to round to nearest even
    already, so there the pass changes no result. This pass rewrites
    `arith.truncf`
    from f32 to f16 without a rounding mode into the IEEE conversion with
    round to nearest even done on the bits: NaN stays NaN, values from
    65520 up become infinity, values below 2^-14 become subnormals (their
    rounding by `math.roundeven` of the value scaled by 2^24, exact).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def SeqGPUTileLoopsPass : Pass<"seq-gpu-tile-loops", "::mlir::func::FuncOp"> {
  let summary = "Tile the innermost non-unit dimension of parallel loops by "
                "64 threads for the greedy GPU mapping";
  let description = [{
    For each outermost `scf.parallel` without a GPU mapping, the innermost
    dimension of more than one iteration is tiled by 64 (or its trip count
    if smaller): the greedy mapping then gives the tiles to workgroups and
    the iterations of a tile to threads. Without it every workgroup has one
    thread. A bound that is not a multiple keeps the tile's constant size
    (block sizes must be constants) and guards the body. Where that would
    make more than 65535 tiles (the workgroups Vulkan guarantees in a grid
    dimension; a long-context KV state's fill), each thread takes k
    consecutive iterations instead, a loop that stays sequential in the
    thread, with k the smallest that fits.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def SeqGPUSchedulePass : Pass<"seq-gpu-schedule", "::mlir::ModuleOp"> {
  let summary = "Compile each entry's host part (after the GPU mapping) into "
                "a static list of dispatches with their buffer bindings";
  let description = [{
    After outlining, an entry is host bookkeeping around `gpu.launch_func`:
    scratch allocations, views of the weights at constant byte offsets,
    subviews of the state. This pass replaces the body of each entry by its
    schedule, kept as attributes on the function:

    - `seq.gpu.schedule`: the dispatches in order, each a dictionary of
      `kernel`, `grid`, `block` and `bindings`, a (buffer, byte offset,
      bytes) triple per kernel argument, the buffer being the entry's
      argument number or -1 for the scratch arena;
    - `seq.gpu.scratch_bytes`: the arena's size (each allocation at its own
      256-byte-aligned place).

    Bindings start at multiples of 256 bytes (the largest
    `minStorageBufferOffsetAlignment` Vulkan allows); the rest of a view's
    offset moves into the kernel argument's type as a static strided
    layout, which the SPIR-V and NVVM conversions linearize, so every
    layer's kernels become identical. Host code other than constants,
    allocations, views and launches (a loop, a load) is an error naming the
    op; so is a kernel launched twice or an argument used by anything but
    loads and stores.
  }];
}

#endif // SEQC_PASSES_CODEGEN_GPU_PASSES_TD
