// A scalar function argument used in a kernel: kernels take buffers only.
func.func @scale(%x: memref<64xf32>, %y: memref<64xf32>, %a: f32) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<64xf32>) outs(%y : memref<64xf32>) {
  ^bb0(%v: f32, %b: f32):
    %w = arith.mulf %v, %a : f32
    linalg.yield %w : f32
  }
  return
}
