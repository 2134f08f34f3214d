// The RWKV-5/6 (Eagle/Finch) WKV step for the GPU targets (vulkan, cuda),
// as loops on memrefs that the shared GPU mapping (buildGPUMappingPipeline,
// used by seq-vulkan-pipeline and seq-cuda-pipeline) maps: the outer
// scf.parallel to workgroups (CUDA blocks), the inner one to the
// invocations (threads) of a workgroup.
//
// wkv56_step: one decode step of the matrix-valued state for 16 heads of
// size 64, one workgroup per head and one invocation per state column (a
// value channel). The state S [16, 64 key, 64 value] (the layout
// test/reference/rwkv567_ref.py keeps for versions 5 and 6) stays in its
// device buffer across dispatches and is updated in place:
//   y[j]    = sum_i r[i] (u[i] k[i] v[j] + S[i, j])   (with the old S)
//   S[i, j] = w[i] S[i, j] + k[i] v[j]
// with w the decay per key channel: exp(-exp(time_decay)) for RWKV-5.2,
// the same of the token's data-dependent decay for RWKV-6, which is why w
// is an input of the step; u is time_faaaa (the bonus of the current
// token). Invocation t first copies element t of the head's r, k, w, u to
// workgroup memory; after a barrier each invocation reads all 64 of each
// from there, and the invocations of a workgroup read the state row by row,
// adjacent invocations adjacent columns.

#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#workgroup = #gpu.address_space<workgroup>

module {

func.func @wkv56_step(%r: memref<16x64xf32>, %k: memref<16x64xf32>,
                      %v: memref<16x64xf32>, %w: memref<16x64xf32>,
                      %u: memref<16x64xf32>, %state: memref<16x64x64xf32>,
                      %y: memref<16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%h) = (%c0) to (%c16) step (%c1) {
    // Rows 0..3: the head's r, k, w, u.
    %vec = memref.alloc() : memref<4x64xf32, #workgroup>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %rt = memref.load %r[%h, %t] : memref<16x64xf32>
      %kt = memref.load %k[%h, %t] : memref<16x64xf32>
      %wt = memref.load %w[%h, %t] : memref<16x64xf32>
      %ut = memref.load %u[%h, %t] : memref<16x64xf32>
      memref.store %rt, %vec[%c0, %t] : memref<4x64xf32, #workgroup>
      memref.store %kt, %vec[%c1, %t] : memref<4x64xf32, #workgroup>
      memref.store %wt, %vec[%c2, %t] : memref<4x64xf32, #workgroup>
      memref.store %ut, %vec[%c3, %t] : memref<4x64xf32, #workgroup>
      gpu.barrier
      // This invocation's column: value channel t.
      %vt = memref.load %v[%h, %t] : memref<16x64xf32>
      %yt = scf.for %i = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> f32 {
        %s = memref.load %state[%h, %i, %t] : memref<16x64x64xf32>
        %ri = memref.load %vec[%c0, %i] : memref<4x64xf32, #workgroup>
        %ki = memref.load %vec[%c1, %i] : memref<4x64xf32, #workgroup>
        %wi = memref.load %vec[%c2, %i] : memref<4x64xf32, #workgroup>
        %ui = memref.load %vec[%c3, %i] : memref<4x64xf32, #workgroup>
        %kv = arith.mulf %ki, %vt : f32
        %bonus = arith.mulf %ui, %kv : f32
        %seen = arith.addf %bonus, %s : f32
        %p = arith.mulf %ri, %seen : f32
        %n = arith.addf %acc, %p : f32
        %decayed = arith.mulf %wi, %s : f32
        %s1 = arith.addf %decayed, %kv : f32
        memref.store %s1, %state[%h, %i, %t] : memref<16x64x64xf32>
        scf.yield %n : f32
      }
      memref.store %yt, %y[%h, %t] : memref<16x64xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
}
