// f64 exp, sin and cos (seq-gpu-expand-f64-math) and f32 -> f16 rounding
// (seq-gpu-round-f16) in a Vulkan kernel: test/Integration/vulkan/math.test.
func.func @f64math(%x: memref<4096xf64>, %e: memref<4096xf64>,
                   %s: memref<4096xf64>, %c: memref<4096xf64>) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>,
                                   affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<4096xf64>) outs(%e, %s, %c : memref<4096xf64>, memref<4096xf64>, memref<4096xf64>) {
  ^bb0(%a: f64, %b0: f64, %b1: f64, %b2: f64):
    %ex = math.exp %a : f64
    %sn = math.sin %a : f64
    %cs = math.cos %a : f64
    linalg.yield %ex, %sn, %cs : f64, f64, f64
  }
  return
}

func.func @tof16(%x: memref<4096xf32>, %h: memref<4096xf16>) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<4096xf32>) outs(%h : memref<4096xf16>) {
  ^bb0(%a: f32, %b: f16):
    %t = arith.truncf %a : f32 to f16
    linalg.yield %t : f16
  }
  return
}
