// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products))" | FileCheck %s
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{min-decode-elements=8192}))" | FileCheck %s --check-prefix=LARGE

// A marked product over several tokens becomes scf.parallel loops over its
// two parallel dimensions with the reduction as an inner scf.for: tiles of
// 4 rows x 4 tokens (one reduction loop carrying the 16 accumulators, so a
// weight element is loaded once for 4 tokens and an activation once for 4
// rows), in blocks of 128 tokens one after the other (a block's activations
// stay in the cache while every row reads them), then the tokens beyond a
// multiple of 4, one output at a time.
// CHECK-LABEL: func.func @prefill_product
// CHECK-SAME: (%[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<128x64xf32>, %[[Y:.*]]: memref<?x128xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[REM:.*]] = arith.remui %[[T]], %c4
// CHECK: %[[TT:.*]] = arith.subi %[[T]], %[[REM]]
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %[[TT]] step %c128
// CHECK: %[[BE:.*]] = arith.minui %{{.*}}, %[[TT]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[B]]) to (%c128{{.*}}, %[[BE]]) step (%c4{{.*}}, %c4{{.*}})
// CHECK-COUNT-16: memref.load %[[Y]]
// CHECK:   scf.for %{{.*}} = %{{.*}} to %c64 {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-16: arith.mulf {{.*}} fastmath<reassoc,contract>
// CHECK:     scf.yield
// CHECK-COUNT-16: memref.store %{{.*}}, %[[Y]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[TT]]) to (%c128{{.*}}, %[[T]])
// CHECK:   scf.for %{{.*}} = %{{.*}} to %c64 {{.*}} -> (f32)
// CHECK:     memref.load %[[X]]
// CHECK:     memref.load %[[W]]
// CHECK:     arith.mulf {{.*}} fastmath<reassoc,contract>
// CHECK:   memref.store %{{.*}}, %[[Y]]
// CHECK-NOT: scf.parallel
// CHECK-NOT: linalg.generic
#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
func.func @prefill_product(%x: memref<?x64xf32>, %w: memref<128x64xf32>, %y: memref<?x128xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<128x64xf32>) outs(%y : memref<?x128xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Rows beyond a multiple of 4: the last 3 (beyond the 4-row tiles) follow
// for the tiled tokens, one output at a time, after the tokens left over.
// CHECK-LABEL: func.func @prefill_odd_rows
// CHECK: %[[T:.*]] = memref.dim
// CHECK: %[[TT:.*]] = arith.subi %[[T]], %{{.*}}
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %[[TT]] step %c128
// CHECK: %[[BE:.*]] = arith.minui %{{.*}}, %[[TT]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[B]]) to (%c4{{.*}}, %[[BE]]) step (%c4{{.*}}, %c4{{.*}})
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[TT]]) to (%c7{{.*}}, %[[T]])
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c4{{.*}}, %{{.*}}) to (%c7{{.*}}, %[[TT]])
// CHECK-NOT: linalg.generic
#xo = affine_map<(n, t, k) -> (t, k)>
#wo = affine_map<(n, t, k) -> (n, k)>
#yo = affine_map<(n, t, k) -> (t, n)>
func.func @prefill_odd_rows(%x: memref<?x16xf32>, %w: memref<7x16xf32>, %y: memref<?x7xf32>) {
  linalg.generic {indexing_maps = [#xo, #wo, #yo], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x16xf32>, memref<7x16xf32>) outs(%y : memref<?x7xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A single-token product (decode) with a weight under min-decode-elements
// (default 2^20) stays on one thread: nested scf.for loops, the reduction
// innermost with its accumulator carried in a register; an unmarked op is
// left alone. With a weight of at least that many elements (8192 = 128 x 64
// here) the product is parallel. Either way each output prefetches the
// weight row 8 KiB ahead (32 rows of 256 bytes here, clamped to the last
// row), one prefetch into L2 per 64-byte line.
// LARGE-LABEL: func.func @decode_product
// LARGE: scf.parallel (%[[PN:.*]], %{{.*}}) = (%{{.*}}, %{{.*}}) to (%c128, %{{.*}})
// LARGE: %[[PAHEAD:.*]] = arith.addi %[[PN]], %c32
// LARGE: %[[PROW:.*]] = arith.minui %[[PAHEAD]]
// LARGE-COUNT-4: memref.prefetch %{{.*}}[%[[PROW]], %{{.*}}], read, locality<2>, data : memref<128x64xf32>
// LARGE-NOT: memref.prefetch
// LARGE: linalg.generic
// CHECK-LABEL: func.func @decode_product
// CHECK-NOT: scf.parallel
// CHECK: scf.for %[[N:.*]] = %{{.*}} to %c128
// CHECK:   scf.for %{{.*}} = %{{.*}} to %c1
// CHECK:     %[[LAST:.*]] = arith.subi
// CHECK:     %[[AHEAD:.*]] = arith.addi %[[N]], %c32
// CHECK:     %[[ROW:.*]] = arith.minui %[[AHEAD]], %[[LAST]]
// CHECK:     memref.prefetch %{{.*}}[%[[ROW]], %c0{{.*}}], read, locality<2>, data
// CHECK:     memref.prefetch %{{.*}}[%[[ROW]], %c16], read, locality<2>, data
// CHECK:     memref.prefetch %{{.*}}[%[[ROW]], %c32{{.*}}], read, locality<2>, data
// CHECK:     memref.prefetch %{{.*}}[%[[ROW]], %c48], read, locality<2>, data
// CHECK-NOT: memref.prefetch
// CHECK:     %[[INIT:.*]] = memref.load %{{.*}}
// CHECK:     %[[SUM:.*]] = scf.for %{{.*}} = %{{.*}} to %c64 {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]])
// CHECK:       %[[P:.*]] = arith.mulf
// CHECK:       %[[S:.*]] = arith.addf %[[ACC]], %[[P]]
// CHECK:       scf.yield %[[S]]
// CHECK:     memref.store %[[SUM]]
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
// CHECK-NOT: linalg.generic
#x1 = affine_map<(n, t, k) -> (t, k)>
#w1 = affine_map<(n, t, k) -> (n, k)>
#y1 = affine_map<(n, t, k) -> (t, n)>
#id = affine_map<(i, j) -> (i, j)>
func.func @decode_product(%x: memref<1x64xf32>, %w: memref<128x64xf32>, %y: memref<1x128xf32>, %z: memref<4x4xf32>) {
  linalg.generic {indexing_maps = [#x1, #w1, #y1], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<128x64xf32>) outs(%y : memref<1x128xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%z : memref<4x4xf32>) {
  ^bb0(%o: f32):
    linalg.yield %o : f32
  }
  return
}

// -----

// A dot product marked seq.dot (the WKV-7 state's products with a vector)
// becomes sequential loops with a register accumulator, whatever its shape,
// and prefetches nothing (its rows are the state, not weights).
// CHECK-LABEL: func.func @state_dot
// CHECK-NOT: scf.parallel
// CHECK-NOT: memref.prefetch
// CHECK: scf.for %[[H:.*]] = %{{.*}} to %c4
// CHECK:   scf.for %[[I:.*]] = %{{.*}} to %c16
// CHECK:     %[[INIT:.*]] = memref.load %{{.*}}[%[[H]], %[[I]]]
// CHECK:     %[[SUM:.*]] = scf.for %[[J:.*]] = %{{.*}} to %c16{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]])
// CHECK:       memref.load %{{.*}}[%[[H]], %[[I]], %[[J]]]
// CHECK:       memref.load %{{.*}}[%[[H]], %[[J]]]
// CHECK:       scf.yield
// CHECK:     memref.store %[[SUM]], %{{.*}}[%[[H]], %[[I]]]
// CHECK-NOT: linalg.generic
// LARGE-LABEL: func.func @state_dot
// LARGE-NOT: scf.parallel
#hij = affine_map<(h, i, j) -> (h, i, j)>
#hj = affine_map<(h, i, j) -> (h, j)>
#hi = affine_map<(h, i, j) -> (h, i)>
func.func @state_dot(%s: memref<4x16x16xf32>, %a: memref<4x16xf32>, %out: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [#hij, #hj, #hi], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s, %a : memref<4x16x16xf32>, memref<4x16xf32>) outs(%out : memref<4x16xf32>)
      attrs = {seq.dot} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
    %r = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Elementwise ops over a dynamic extent (prefill activations) run on all
// threads: an scf.parallel over every dimension. Static ones (decode's
// single rows) and reductions are left to convert-linalg-to-loops.
// LARGE-LABEL: func.func @prefill_elementwise
// CHECK-LABEL: func.func @prefill_elementwise
// CHECK-SAME: (%[[A:.*]]: memref<?x64xf32>, %[[B:.*]]: memref<?x64xf32>, %[[R:.*]]: memref<1x64xf32>, %[[S:.*]]: memref<?xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[A]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%[[T]], %c64)
// CHECK:   %[[V:.*]] = memref.load %[[A]]
// CHECK:   math.exp %[[V]]
// CHECK:   memref.store %{{.*}}, %[[B]]
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic {{.*}} outs(%[[R]]
// CHECK: linalg.generic {{.*}} outs(%[[S]]
#e2 = affine_map<(t, c) -> (t, c)>
#r2 = affine_map<(t, c) -> (t)>
func.func @prefill_elementwise(%a: memref<?x64xf32>, %b: memref<?x64xf32>, %r: memref<1x64xf32>, %s: memref<?xf32>) {
  linalg.generic {indexing_maps = [#e2, #e2], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x64xf32>) outs(%b : memref<?x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  }
  linalg.generic {indexing_maps = [#e2], iterator_types = ["parallel", "parallel"]}
      outs(%r : memref<1x64xf32>) {
  ^bb0(%o: f32):
    %e = math.exp %o : f32
    linalg.yield %e : f32
  }
  linalg.generic {indexing_maps = [#e2, #r2], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<?x64xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %p = arith.addf %x, %acc : f32
    linalg.yield %p : f32
  }
  return
}
