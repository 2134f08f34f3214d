// 64 KiB of static shared memory: more than the 48 KiB a CUDA block may
// have without an opt-in.
#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
func.func @big_shared(%x: memref<64xf32>, %y: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%b) = (%c0) to (%c1) step (%c1) {
    %buf = memref.alloc() : memref<16384xf32, #gpu.address_space<workgroup>>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%t] : memref<64xf32>
      memref.store %v, %buf[%t] : memref<16384xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %w = memref.load %buf[%t] : memref<16384xf32, #gpu.address_space<workgroup>>
      memref.store %w, %y[%t] : memref<64xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
