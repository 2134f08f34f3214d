// Loops whose bounds are known only at run time, bounded at compile time:
// the first says its most trips (seq.max_trips, as the KV lowering's token
// loops do: 1000), the second is strided from the thread index, whose
// range bounds it (70000 / 64 rounded up: 1094).
#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
func.func @bounded(%n: memref<1xi32>, %x: memref<70000xf32>, %y: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c70000 = arith.constant 70000 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%b) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %n32 = memref.load %n[%c0] : memref<1xi32>
      %count = arith.index_cast %n32 : i32 to index
      %s = scf.for %i = %c0 to %count step %c1 iter_args(%a = %zero) -> f32 {
        %v = memref.load %x[%i] : memref<70000xf32>
        %a1 = arith.addf %a, %v : f32
        scf.yield %a1 : f32
      } {seq.max_trips = 1000 : i64}
      %s2 = scf.for %i = %t to %c70000 step %c64 iter_args(%a = %s) -> f32 {
        %v = memref.load %x[%i] : memref<70000xf32>
        %a1 = arith.addf %a, %v : f32
        scf.yield %a1 : f32
      }
      memref.store %s2, %y[%t] : memref<64xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
