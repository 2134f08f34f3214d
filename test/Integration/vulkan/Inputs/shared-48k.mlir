// 48 KiB of workgroup memory (12288 f32): more than lavapipe's 32 KiB.
#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
func.func @big_shared(%x: memref<64xf32>, %y: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c100 = arith.constant 100 : index
  scf.parallel (%b) = (%c0) to (%c1) step (%c1) {
    %buf = memref.alloc() : memref<12288xf32, #gpu.address_space<workgroup>>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%t] : memref<64xf32>
      %i = arith.addi %t, %c100 : index
      memref.store %v, %buf[%i] : memref<12288xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %w = memref.load %buf[%i] : memref<12288xf32, #gpu.address_space<workgroup>>
      memref.store %w, %y[%t] : memref<64xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
