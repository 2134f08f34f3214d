// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{float-lanes=16}))" | FileCheck %s
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{float-lanes=8}))" | FileCheck %s --check-prefix=AVX2
// RUN: not seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{float-lanes=4}))" 2>&1 | FileCheck %s --check-prefix=BAD

// A prefill product with f16 weights by panels of 32 rows (float-lanes=16):
// per block of tokens the activations are copied into tiles of 8 tokens on
// all threads, then one task per panel (an scf.for marked seq.parallel,
// which seq-parallelize-loops makes a task each) takes the reduction in
// chunks of 128 channels: the chunk's 32 weight rows loaded 16 channels at
// a time, extended and transposed by shuffles into a buffer, the next
// chunk prefetched, then tiles of 8 tokens x 2 vectors (16 accumulators,
// one broadcast per token and step), then the tokens left over one at a
// time.
// CHECK-LABEL: func.func @prefill_panels
// CHECK-SAME: (%[[X:.*]]: memref<?x256xf32>, %[[W:.*]]: memref<256x256xf16>, %[[Y:.*]]: memref<?x256xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %[[T]] step %c512
// CHECK: %[[XP:.*]] = memref.alloc() {alignment = 64 : i64} : memref<131072xf32>
// CHECK: scf.parallel
// CHECK-COUNT-8: memref.store %{{.*}}, %[[XP]]
// CHECK: scf.for %[[N0:.*]] = %{{.*}} to %c256{{.*}} step %c32
// CHECK: %[[BUF:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4096xf32>
// CHECK: scf.for %[[K0:.*]] = %{{.*}} to %c256{{.*}} step %c128
// CHECK: %[[KC:.*]] = arith.minui
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[KC]] step %c16
// CHECK: scf.for %{{.*}} = %{{.*}} to %c32{{.*}} step %c16
// CHECK-COUNT-16: vector.load %[[W]]{{.*}} : memref<256x256xf16>, vector<16xf16>
// CHECK-COUNT-64: vector.shuffle
// CHECK-COUNT-16: vector.store %{{.*}}, %[[BUF]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %c32{{.*}} step %c1
// CHECK-COUNT-4: memref.prefetch %[[W]]
// CHECK: scf.for
// CHECK-COUNT-16: vector.load %[[Y]]{{.*}} : memref<?x256xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[KC]] step %c1{{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-2: vector.load %[[BUF]]
// CHECK: memref.load %[[XP]]
// CHECK: vector.broadcast
// CHECK-COUNT-2: vector.fma
// CHECK-COUNT-16: vector.store %{{.*}}, %[[Y]]
// CHECK: scf.for
// CHECK-COUNT-2: vector.load %[[Y]]
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK: memref.load %[[X]]
// CHECK-COUNT-2: vector.fma
// CHECK-COUNT-2: vector.store %{{.*}}, %[[Y]]
// CHECK: memref.dealloc %[[BUF]]
// CHECK: } {seq.parallel}
// CHECK: memref.dealloc %[[XP]]
// CHECK-NOT: linalg.generic
// AVX2-LABEL: func.func @prefill_panels
// AVX2: scf.for %{{.*}} = %{{.*}} to %c256{{.*}} step %c16
// AVX2: memref.alloc() {alignment = 64 : i64} : memref<2048xf32>
// AVX2-COUNT-8: vector.load %{{.*}} : memref<256x256xf16>, vector<8xf16>
// AVX2-COUNT-24: vector.shuffle
// AVX2: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// BAD: seq-parallelize-products: float-lanes=4: expected 0, 8 or 16
#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
func.func @prefill_panels(%x: memref<?x256xf32>, %w: memref<256x256xf16>, %y: memref<?x256xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x256xf32>, memref<256x256xf16>) outs(%y : memref<?x256xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f16, %acc: f32):
    %e = arith.extf %b : f16 to f32
    %p = arith.mulf %a, %e fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Rows that are not a whole number of panels (48), a weight under 2^16
// elements, and a single static token (decode) keep the scalar tiles and
// the single outputs (here on one thread: the weight is under
// min-decode-elements).
// CHECK-LABEL: func.func @not_panels
// CHECK-NOT: vector.fma
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = ({{.*}}) to (%c48{{.*}}, %{{.*}}) step (%c4{{.*}}, %c4{{.*}})
// CHECK-NOT: vector.fma
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = ({{.*}}) to (%c64{{.*}}, %{{.*}}) step (%c4{{.*}}, %c4{{.*}})
// CHECK-NOT: vector.fma
// CHECK: return
#x2 = affine_map<(n, t, k) -> (t, k)>
#w2 = affine_map<(n, t, k) -> (n, k)>
#y2 = affine_map<(n, t, k) -> (t, n)>
func.func @not_panels(%x: memref<?x2048xf32>, %w: memref<48x2048xf32>, %y: memref<?x48xf32>,
                      %xs: memref<?x64xf32>, %ws: memref<64x64xf32>, %ys: memref<?x64xf32>,
                      %x1: memref<1x64xf32>, %y1: memref<1x64xf32>) {
  linalg.generic {indexing_maps = [#x2, #w2, #y2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x2048xf32>, memref<48x2048xf32>) outs(%y : memref<?x48xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x2, #w2, #y2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xs, %ws : memref<?x64xf32>, memref<64x64xf32>) outs(%ys : memref<?x64xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x2, #w2, #y2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x1, %ws : memref<1x64xf32>, memref<64x64xf32>) outs(%y1 : memref<1x64xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}
