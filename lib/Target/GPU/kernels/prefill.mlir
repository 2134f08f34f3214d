// Prefill kernels for the GPU targets (vulkan, cuda), as loops on memrefs
// that the shared GPU mapping maps like decode.mlir's: the outer
// scf.parallel to workgroups (CUDA blocks), the inner one to 256
// invocations (threads).
//
// matmul_f32: Y[m, n] = sum_k X[m, k] * W[n, k] for X 128 x 256 (tokens x
// width) and W 256 x 256 (the weight, rows as in decode.mlir's products):
// a tiled product. Each workgroup computes a 64 x 64 tile of Y (blocks
// numbered row-major over the tiles); its 256 invocations each hold a 4 x 4
// micro-tile in registers (rows ty + 16 i, columns tx + 16 j, ty = t / 16,
// tx = t % 16, so neighbouring invocations read neighbouring columns of the
// staged weight tile). The depth goes in steps of 16: the 64 x 16 tiles of
// X and W are staged in workgroup memory (each invocation loads 4 elements
// of each, consecutive invocations consecutive k), stored transposed
// (k-major) so the inner loop reads rows of both; two barriers a step.
// Each element of X is read from global memory N / 64 times and each of W
// M / 64 times (once per 64-wide tile of the other operand): 1/64 of what
// one dot product per output would read.

#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#workgroup = #gpu.address_space<workgroup>

module {

func.func @matmul_f32(%x: memref<128x256xf32>, %w: memref<256x256xf32>, %y: memref<128x256xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c48 = arith.constant 48 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %c512 = arith.constant 512 : index
  %c768 = arith.constant 768 : index
  %blocks = arith.constant 8 : index
  %nblocks = arith.constant 4 : index
  %depth = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%b) = (%c0) to (%blocks) step (%c1) {
    %xs = memref.alloc() : memref<16x64xf32, #workgroup>
    %ws = memref.alloc() : memref<16x64xf32, #workgroup>
    scf.parallel (%t) = (%c0) to (%c256) step (%c1) {
      %bm = arith.divui %b, %nblocks : index
      %bn = arith.remui %b, %nblocks : index
      %m0 = arith.muli %bm, %c64 : index
      %n0 = arith.muli %bn, %c64 : index
      %tx = arith.remui %t, %c16 : index
      %ty = arith.divui %t, %c16 : index
      // This thread's tile loads: elements t + 256 r of the 64 x 16 tiles.
      %e0 = arith.addi %t, %c0 : index
      %lr0 = arith.divui %e0, %c16 : index
      %lk0 = arith.remui %e0, %c16 : index
      %gm0 = arith.addi %m0, %lr0 : index
      %gn0 = arith.addi %n0, %lr0 : index
      %e1 = arith.addi %t, %c256 : index
      %lr1 = arith.divui %e1, %c16 : index
      %lk1 = arith.remui %e1, %c16 : index
      %gm1 = arith.addi %m0, %lr1 : index
      %gn1 = arith.addi %n0, %lr1 : index
      %e2 = arith.addi %t, %c512 : index
      %lr2 = arith.divui %e2, %c16 : index
      %lk2 = arith.remui %e2, %c16 : index
      %gm2 = arith.addi %m0, %lr2 : index
      %gn2 = arith.addi %n0, %lr2 : index
      %e3 = arith.addi %t, %c768 : index
      %lr3 = arith.divui %e3, %c16 : index
      %lk3 = arith.remui %e3, %c16 : index
      %gm3 = arith.addi %m0, %lr3 : index
      %gn3 = arith.addi %n0, %lr3 : index
      %ri0 = arith.addi %ty, %c0 : index
      %cj0 = arith.addi %tx, %c0 : index
      %ri1 = arith.addi %ty, %c16 : index
      %cj1 = arith.addi %tx, %c16 : index
      %ri2 = arith.addi %ty, %c32 : index
      %cj2 = arith.addi %tx, %c32 : index
      %ri3 = arith.addi %ty, %c48 : index
      %cj3 = arith.addi %tx, %c48 : index
      %sum:16 = scf.for %k0 = %c0 to %depth step %c16 iter_args(%s00 = %zero, %s01 = %zero, %s02 = %zero, %s03 = %zero, %s10 = %zero, %s11 = %zero, %s12 = %zero, %s13 = %zero, %s20 = %zero, %s21 = %zero, %s22 = %zero, %s23 = %zero, %s30 = %zero, %s31 = %zero, %s32 = %zero, %s33 = %zero) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
        %gk0 = arith.addi %k0, %lk0 : index
        %xv0 = memref.load %x[%gm0, %gk0] : memref<128x256xf32>
        memref.store %xv0, %xs[%lk0, %lr0] : memref<16x64xf32, #workgroup>
        %wv0 = memref.load %w[%gn0, %gk0] : memref<256x256xf32>
        memref.store %wv0, %ws[%lk0, %lr0] : memref<16x64xf32, #workgroup>
        %gk1 = arith.addi %k0, %lk1 : index
        %xv1 = memref.load %x[%gm1, %gk1] : memref<128x256xf32>
        memref.store %xv1, %xs[%lk1, %lr1] : memref<16x64xf32, #workgroup>
        %wv1 = memref.load %w[%gn1, %gk1] : memref<256x256xf32>
        memref.store %wv1, %ws[%lk1, %lr1] : memref<16x64xf32, #workgroup>
        %gk2 = arith.addi %k0, %lk2 : index
        %xv2 = memref.load %x[%gm2, %gk2] : memref<128x256xf32>
        memref.store %xv2, %xs[%lk2, %lr2] : memref<16x64xf32, #workgroup>
        %wv2 = memref.load %w[%gn2, %gk2] : memref<256x256xf32>
        memref.store %wv2, %ws[%lk2, %lr2] : memref<16x64xf32, #workgroup>
        %gk3 = arith.addi %k0, %lk3 : index
        %xv3 = memref.load %x[%gm3, %gk3] : memref<128x256xf32>
        memref.store %xv3, %xs[%lk3, %lr3] : memref<16x64xf32, #workgroup>
        %wv3 = memref.load %w[%gn3, %gk3] : memref<256x256xf32>
        memref.store %wv3, %ws[%lk3, %lr3] : memref<16x64xf32, #workgroup>
        gpu.barrier
        %inner:16 = scf.for %kk = %c0 to %c16 step %c1 iter_args(%p00 = %s00, %p01 = %s01, %p02 = %s02, %p03 = %s03, %p10 = %s10, %p11 = %s11, %p12 = %s12, %p13 = %s13, %p20 = %s20, %p21 = %s21, %p22 = %s22, %p23 = %s23, %p30 = %s30, %p31 = %s31, %p32 = %s32, %p33 = %s33) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
          %xa0 = memref.load %xs[%kk, %ri0] : memref<16x64xf32, #workgroup>
          %xa1 = memref.load %xs[%kk, %ri1] : memref<16x64xf32, #workgroup>
          %xa2 = memref.load %xs[%kk, %ri2] : memref<16x64xf32, #workgroup>
          %xa3 = memref.load %xs[%kk, %ri3] : memref<16x64xf32, #workgroup>
          %wb0 = memref.load %ws[%kk, %cj0] : memref<16x64xf32, #workgroup>
          %wb1 = memref.load %ws[%kk, %cj1] : memref<16x64xf32, #workgroup>
          %wb2 = memref.load %ws[%kk, %cj2] : memref<16x64xf32, #workgroup>
          %wb3 = memref.load %ws[%kk, %cj3] : memref<16x64xf32, #workgroup>
          %q00 = math.fma %xa0, %wb0, %p00 : f32
          %q01 = math.fma %xa0, %wb1, %p01 : f32
          %q02 = math.fma %xa0, %wb2, %p02 : f32
          %q03 = math.fma %xa0, %wb3, %p03 : f32
          %q10 = math.fma %xa1, %wb0, %p10 : f32
          %q11 = math.fma %xa1, %wb1, %p11 : f32
          %q12 = math.fma %xa1, %wb2, %p12 : f32
          %q13 = math.fma %xa1, %wb3, %p13 : f32
          %q20 = math.fma %xa2, %wb0, %p20 : f32
          %q21 = math.fma %xa2, %wb1, %p21 : f32
          %q22 = math.fma %xa2, %wb2, %p22 : f32
          %q23 = math.fma %xa2, %wb3, %p23 : f32
          %q30 = math.fma %xa3, %wb0, %p30 : f32
          %q31 = math.fma %xa3, %wb1, %p31 : f32
          %q32 = math.fma %xa3, %wb2, %p32 : f32
          %q33 = math.fma %xa3, %wb3, %p33 : f32
          scf.yield %q00, %q01, %q02, %q03, %q10, %q11, %q12, %q13, %q20, %q21, %q22, %q23, %q30, %q31, %q32, %q33 : f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32
        }
        gpu.barrier
        scf.yield %inner#0, %inner#1, %inner#2, %inner#3, %inner#4, %inner#5, %inner#6, %inner#7, %inner#8, %inner#9, %inner#10, %inner#11, %inner#12, %inner#13, %inner#14, %inner#15 : f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32
      }
      %om0 = arith.addi %m0, %ri0 : index
      %om1 = arith.addi %m0, %ri1 : index
      %om2 = arith.addi %m0, %ri2 : index
      %om3 = arith.addi %m0, %ri3 : index
      %on0 = arith.addi %n0, %cj0 : index
      %on1 = arith.addi %n0, %cj1 : index
      %on2 = arith.addi %n0, %cj2 : index
      %on3 = arith.addi %n0, %cj3 : index
      memref.store %sum#0, %y[%om0, %on0] : memref<128x256xf32>
      memref.store %sum#1, %y[%om0, %on1] : memref<128x256xf32>
      memref.store %sum#2, %y[%om0, %on2] : memref<128x256xf32>
      memref.store %sum#3, %y[%om0, %on3] : memref<128x256xf32>
      memref.store %sum#4, %y[%om1, %on0] : memref<128x256xf32>
      memref.store %sum#5, %y[%om1, %on1] : memref<128x256xf32>
      memref.store %sum#6, %y[%om1, %on2] : memref<128x256xf32>
      memref.store %sum#7, %y[%om1, %on3] : memref<128x256xf32>
      memref.store %sum#8, %y[%om2, %on0] : memref<128x256xf32>
      memref.store %sum#9, %y[%om2, %on1] : memref<128x256xf32>
      memref.store %sum#10, %y[%om2, %on2] : memref<128x256xf32>
      memref.store %sum#11, %y[%om2, %on3] : memref<128x256xf32>
      memref.store %sum#12, %y[%om3, %on0] : memref<128x256xf32>
      memref.store %sum#13, %y[%om3, %on1] : memref<128x256xf32>
      memref.store %sum#14, %y[%om3, %on2] : memref<128x256xf32>
      memref.store %sum#15, %y[%om3, %on3] : memref<128x256xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}

}
