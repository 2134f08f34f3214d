// RUN: seqc-opt %s --split-input-file --convert-seq-kv-to-loops="parallel-heads kv-splits=4" --canonicalize --cse | FileCheck %s
// RUN: seqc-opt %s --split-input-file --convert-seq-kv-to-loops --canonicalize --cse | FileCheck %s --check-prefix=CPU

// Attention for GPU targets (parallel-heads): each KV head's tokens split
// among 4 invocations (flash-decoding). A query of a static count is
// emitted one after the other, each a parallel loop over (head, split)
// pairs outside any loop: split = i mod 4, head = i / 4. A split scans the
// tokens u = split, split + 4, ... (seq.max_trips: 64 / 4 + 1), keeps its
// maximum, its sum of exponentials and its value sum unnormalized; a second
// parallel loop, one invocation per output channel (2 KV heads x 2 queries
// x 16 channels), takes the largest maximum M over the splits and divides
// sum_s w_s acc_s by sum_s w_s sum_s, w_s = exp(m_s - M), 0 for a split
// that saw no token.
// CHECK-LABEL: func.func @plain
// CHECK: scf.for %[[I:.*]] = %c0 to %c8 step %c1 {
// CHECK:   %[[SPLIT:.*]] = arith.remui %[[I]], %c4
// CHECK:   %[[HEAD:.*]] = arith.divui %[[I]], %c4
// CHECK:   %[[SHIFT:.*]] = arith.addi %[[SPLIT]], %c4
// CHECK:   %[[FIRST:.*]] = arith.remui %[[SHIFT]], %c4
// CHECK:   scf.for %{{.*}} = %[[FIRST]] to %[[N:.*]] step %c4 {
// CHECK:   } {seq.max_trips = 17 : i64}
// CHECK:   scf.for %{{.*}} = %[[FIRST]] to %[[N]] step %c4 iter_args
// CHECK:     math.fma
// CHECK:   } {seq.max_trips = 17 : i64}
// CHECK:   memref.store %{{.*}}, %[[PMAX:.*]][%[[I]], %c0] : memref<8x2xf32>
// CHECK:   memref.store %{{.*}}, %[[PSUM:.*]][%[[I]], %c0] : memref<8x2xf32>
// CHECK: } {seq.parallel}
// CHECK: scf.for %[[O:.*]] = %c0 to %c64 step %c1 {
// CHECK:   %[[D:.*]] = arith.remui %[[O]], %c16
// CHECK:   %[[M:.*]] = scf.for {{.*}} -> (f32) {
// CHECK:     memref.load %[[PMAX]]
// CHECK:     arith.maximumf
// CHECK:   %[[SUMS:.*]]:2 = scf.for {{.*}} -> (f32, f32) {
// CHECK:     %[[MS:.*]] = memref.load %[[PMAX]]
// CHECK:     %[[NONE:.*]] = arith.cmpf oeq, %[[MS]]
// CHECK:     %[[DIFF:.*]] = arith.subf %[[MS]], %[[M]]
// CHECK:     %[[E:.*]] = math.exp %[[DIFF]]
// CHECK:     arith.select %[[NONE]], %{{.*}}, %[[E]]
// CHECK:     memref.load %[[PSUM]]
// CHECK:   arith.divf %[[SUMS]]#1, %[[SUMS]]#0
// CHECK:   memref.store {{.*}} : memref<2x4x16xf32>
// CHECK: } {seq.parallel}
// The second query: the same two loops again, not a loop over queries.
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1 {
// CHECK: } {seq.parallel}
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 {
// CHECK: } {seq.parallel}
// CHECK: return

// The CPU lowering is untouched: one loop over the queries, no splits.
// CPU-LABEL: func.func @plain
// CPU-NOT: seq.max_trips
// CPU-NOT: math.exp
// CPU: return
func.func @plain(%state: memref<?xi8>, %q: tensor<2x4x16xf32>, %k: tensor<2x2x16xf32>, %v: tensor<2x2x16xf32>) -> tensor<2x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %c1 = seq.kv_append %c, %k, %v : !seq.kv_cache<2x16x64xf32>, tensor<2x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<2x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %state[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<2x4x16xf32>
}

// -----

// 2-bit KIVI (keys by channel in groups of 8): the splits deal whole
// groups, since a group's scales are shared by its tokens. The packed keys
// are scored group by group, four tokens at a time (2 trips): split s
// takes the groups s, s + 4, ... (bounded loosely by the token count, 64 /
// 4 + 1); the maximum over its scores runs over blocks of 8 tokens (64 /
// (8 x 4) + 1 = 3 blocks, 8 tokens each).
!c = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, window = 8>
// CHECK-LABEL: func.func @kivi
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4 {
// CHECK:   vector.load %{{.*}} : memref<2x64x4xi8>, vector<4xi8>
// CHECK:   } {seq.max_trips = 2 : i64}
// CHECK: } {seq.max_trips = 17 : i64}
// CHECK: scf.for %{{.*}} step %c4 iter_args
// CHECK:   scf.for %{{.*}} step %c1 iter_args
// CHECK:     arith.maximumf
// CHECK:   } {seq.max_trips = 8 : i64}
// CHECK: } {seq.max_trips = 3 : i64}
// CHECK: math.exp
// CHECK: } {seq.parallel}
func.func @kivi(%state: memref<?xi8>, %q: tensor<1x4x16xf32>, %k: tensor<1x2x16xf32>, %v: tensor<1x2x16xf32>) -> tensor<1x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !c
  %c1 = seq.kv_append %c, %k, %v : !c, tensor<1x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<1x4x16xf32>, !c
  seq.kv_store %c2, %state[%c0] : !c, memref<?xi8>
  return %o : tensor<1x4x16xf32>
}

// -----

// H2O: eviction scores need every token's normalized weight in one place,
// so its heads are not split; the token loops still say their most trips
// (the 16 slots).
!h = !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>
// CHECK-LABEL: func.func @h2o
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK:   seq.max_trips = 16 : i64
// CHECK: } {seq.parallel}
// CHECK-NOT: math.exp %
func.func @h2o(%state: memref<?xi8>, %q: tensor<1x4x16xf32>, %k: tensor<1x2x16xf32>, %v: tensor<1x2x16xf32>) -> tensor<1x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !h
  %c1 = seq.kv_append %c, %k, %v : !h, tensor<1x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<1x4x16xf32>, !h
  seq.kv_store %c2, %state[%c0] : !h, memref<?xi8>
  return %o : tensor<1x4x16xf32>
}
