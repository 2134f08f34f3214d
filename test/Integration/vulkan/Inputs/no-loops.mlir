// No parallel loop: nothing would run on the device.
func.func @scalar(%x: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %v = memref.load %x[%c0] : memref<4xf32>
  %w = arith.addf %v, %v : f32
  memref.store %w, %x[%c0] : memref<4xf32>
  return
}
