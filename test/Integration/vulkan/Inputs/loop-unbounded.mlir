// A loop whose bound is read at run time (a count loaded from a buffer):
// no bound a compile can see.
#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
func.func @unbounded(%n: memref<1xi32>, %x: memref<64xf32>, %y: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%b) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %n32 = memref.load %n[%c0] : memref<1xi32>
      %count = arith.index_cast %n32 : i32 to index
      %s = scf.for %i = %c0 to %count step %c1 iter_args(%a = %zero) -> f32 {
        %v = memref.load %x[%t] : memref<64xf32>
        %a1 = arith.addf %a, %v : f32
        scf.yield %a1 : f32
      }
      memref.store %s, %y[%t] : memref<64xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
