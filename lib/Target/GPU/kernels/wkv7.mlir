// The RWKV-7 WKV step for the GPU targets (vulkan, cuda), as loops on
// memrefs that the shared GPU mapping (buildGPUMappingPipeline, used by
// seq-vulkan-pipeline and seq-cuda-pipeline) maps: the outer scf.parallel to
// workgroups (CUDA blocks), the inner one to the invocations (threads) of a
// workgroup.
//
// wkv7_step: one decode step of RWKV-7's matrix-valued state for 16 heads
// of size 64, one workgroup per head and one invocation per state row. The
// state S [16, 64 value, 64 key] (the layout test/reference/rwkv567_ref.py
// keeps for version 7) stays in its device buffer across dispatches and is
// updated in place:
//   sa[i]   = sum_j S[i, j] a[j]
//   S[i, j] = S[i, j] w[j] + sa[i] b[j] + v[i] k[j]
//   y[i]    = sum_j S[i, j] r[j]          (with the updated S)
// with w the decay (exp(-exp(w)) of the model's w), a = -kk and b = kk * a
// in the model's terms (kk the normalized key, a the in-context learning
// rate): S (diag(w) + a^T b) + v^T k, then S r. Invocation t first copies
// element t of the head's r, w, k, a, b to workgroup memory; after a barrier
// each invocation reads all 64 of each from there.

#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#workgroup = #gpu.address_space<workgroup>

module {

func.func @wkv7_step(%r: memref<16x64xf32>, %w: memref<16x64xf32>,
                     %k: memref<16x64xf32>, %v: memref<16x64xf32>,
                     %a: memref<16x64xf32>, %b: memref<16x64xf32>,
                     %state: memref<16x64x64xf32>, %y: memref<16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%h) = (%c0) to (%c16) step (%c1) {
    // Rows 0..4: the head's r, w, k, a, b.
    %vec = memref.alloc() : memref<5x64xf32, #workgroup>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %rt = memref.load %r[%h, %t] : memref<16x64xf32>
      %wt = memref.load %w[%h, %t] : memref<16x64xf32>
      %kt = memref.load %k[%h, %t] : memref<16x64xf32>
      %at = memref.load %a[%h, %t] : memref<16x64xf32>
      %bt = memref.load %b[%h, %t] : memref<16x64xf32>
      memref.store %rt, %vec[%c0, %t] : memref<5x64xf32, #workgroup>
      memref.store %wt, %vec[%c1, %t] : memref<5x64xf32, #workgroup>
      memref.store %kt, %vec[%c2, %t] : memref<5x64xf32, #workgroup>
      memref.store %at, %vec[%c3, %t] : memref<5x64xf32, #workgroup>
      memref.store %bt, %vec[%c4, %t] : memref<5x64xf32, #workgroup>
      gpu.barrier
      %vt = memref.load %v[%h, %t] : memref<16x64xf32>
      %sa = scf.for %j = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> f32 {
        %s = memref.load %state[%h, %t, %j] : memref<16x64x64xf32>
        %aj = memref.load %vec[%c3, %j] : memref<5x64xf32, #workgroup>
        %p = arith.mulf %s, %aj : f32
        %n = arith.addf %acc, %p : f32
        scf.yield %n : f32
      }
      %yt = scf.for %j = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> f32 {
        %s = memref.load %state[%h, %t, %j] : memref<16x64x64xf32>
        %wj = memref.load %vec[%c1, %j] : memref<5x64xf32, #workgroup>
        %kj = memref.load %vec[%c2, %j] : memref<5x64xf32, #workgroup>
        %bj = memref.load %vec[%c4, %j] : memref<5x64xf32, #workgroup>
        %rj = memref.load %vec[%c0, %j] : memref<5x64xf32, #workgroup>
        %decayed = arith.mulf %s, %wj : f32
        %removed = arith.mulf %sa, %bj : f32
        %added = arith.mulf %vt, %kj : f32
        %s1 = arith.addf %decayed, %removed : f32
        %s2 = arith.addf %s1, %added : f32
        memref.store %s2, %state[%h, %t, %j] : memref<16x64x64xf32>
        %p = arith.mulf %s2, %rj : f32
        %n = arith.addf %acc, %p : f32
        scf.yield %n : f32
      }
      memref.store %yt, %y[%h, %t] : memref<16x64xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
}
