// 2048 threads per block: more than CUDA's 1024.
#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
func.func @wide(%x: memref<2048xf32>, %y: memref<2048xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2048 = arith.constant 2048 : index
  scf.parallel (%b) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c2048) step (%c1) {
      %v = memref.load %x[%t] : memref<2048xf32>
      memref.store %v, %y[%t] : memref<2048xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
