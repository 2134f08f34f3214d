func.func @broken(%x: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
  }
  return
}
