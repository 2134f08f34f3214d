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
  let summary = "Keep the entries a GPU schedule runs; refuse KV caches";
  let description = [{
    Erases `seqc_prefill` and `seqc_prefill_all`, whose host part loops over
    the tokens of a prompt: their schedule would not be static, and the GPU
    drivers run a prompt token by token through `seqc_step`. Run
    `symbol-dce` after it for their layer functions.

    A KV-cache op (`seq.kv_*`) is an error naming the op and its function:
    attention over a cache loops over a length known at run time and keeps
    the cache as bytes, neither of which is lowered for GPUs yet.
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
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
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
    (block sizes must be constants) and guards the body.
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
