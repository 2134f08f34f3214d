// A buffer of f16 (halves widened to f32): needs 16-bit storage and Float16.
#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
func.func @widen(%x: memref<256xf16>, %y: memref<256xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%b) = (%c0) to (%c4) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %base = arith.muli %b, %c64 : index
      %i = arith.addi %base, %t : index
      %h = memref.load %x[%i] : memref<256xf16>
      %f = arith.extf %h : f16 to f32
      memref.store %f, %y[%i] : memref<256xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
