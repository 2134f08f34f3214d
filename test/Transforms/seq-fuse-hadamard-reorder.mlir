// RUN: seqc-opt %s --split-input-file --seq-fuse-hadamard="key-block=4 reorder-keys=true" --verify-diagnostics | FileCheck %s

// RotateKV's outlier-aware reordering: each head's channels, by decreasing
// calibrated magnitude, dealt to the Hadamard blocks in zigzag order, the
// same table for the keys and for the queries of their KV head, chosen by
// the cache's slot (the layer). Layer 0: magnitudes 1 8 2 7 3 6 4 5, so
// channels 1 3 | 5 7 | 6 4 | 2 0 go to blocks 0 1 | 1 0 | 0 1 | 1 0:
// block 0 = 1 7 6 0, block 1 = 3 5 4 2. Layer 1: equal magnitudes keep
// channel order: 0 3 4 7 | 1 2 5 6. Then blocks of 4 are rotated.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[S:.*]]: memref<?xi8>, %[[SLOT:.*]]: index, %[[Q:.*]]: tensor<?x2x8xf32>, %[[K:.*]]: tensor<?x1x8xf32>, %[[V:.*]]: tensor<?x1x8xf32>)
// CHECK: %[[KP:.*]] = seq.permute_channels %[[K]][%[[SLOT]]] {order = dense<{{\[\[\[}}1, 7, 6, 0, 3, 5, 4, 2]], {{\[\[}}0, 3, 4, 7, 1, 2, 5, 6]]]> : tensor<2x1x8xi32>} : tensor<?x1x8xf32>
// CHECK: %[[KR:.*]] = seq.hadamard %[[KP]] {block_size = 4 : i64} : tensor<?x1x8xf32>
// CHECK: %[[VR:.*]] = seq.hadamard %[[V]] : tensor<?x1x8xf32>
// CHECK: %[[A:.*]] = seq.kv_append %{{.*}}, %[[KR]], %[[VR]]
// CHECK: %[[QP:.*]] = seq.permute_channels %[[Q]][%[[SLOT]]] {order = dense<{{\[\[\[}}1, 7, 6, 0, 3, 5, 4, 2], [1, 7, 6, 0, 3, 5, 4, 2]], {{\[\[}}0, 3, 4, 7, 1, 2, 5, 6], [0, 3, 4, 7, 1, 2, 5, 6]]]> : tensor<2x2x8xi32>} : tensor<?x2x8xf32>
// CHECK: %[[QR:.*]] = seq.hadamard %[[QP]] {block_size = 4 : i64} : tensor<?x2x8xf32>
// CHECK: seq.kv_attention %[[QR]], %[[A]] {seq.rotated}
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<[[[1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0]], [[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]]> : tensor<2x1x8xf32>>} {
func.func @layer(%s: memref<?xi8>, %slot: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>) -> tensor<?x2x8xf32> {
  %c = seq.kv_load %s[%slot] : memref<?xi8> -> !seq.kv_cache<1x8x64xf32>
  %a = seq.kv_append %c, %k, %v : !seq.kv_cache<1x8x64xf32>, tensor<?x1x8xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x8xf32>, !seq.kv_cache<1x8x64xf32>
  seq.kv_store %c2, %s[%slot] : !seq.kv_cache<1x8x64xf32>, memref<?xi8>
  return %o : tensor<?x2x8xf32>
}
}

// -----

// A constant slot beyond the calibrated layers.
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<1.0> : tensor<2x1x8xf32>>} {
func.func @slot(%s: memref<?xi8>, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>) -> tensor<?x2x8xf32> {
  %c2 = arith.constant 2 : index
  %c = seq.kv_load %s[%c2] : memref<?xi8> -> !seq.kv_cache<1x8x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x8x64xf32>, tensor<?x1x8xf32>
  // expected-error @+1 {{cache slot 2 has no calibration (2 layers)}}
  %o, %c3 = seq.kv_attention %q, %a : tensor<?x2x8xf32>, !seq.kv_cache<1x8x64xf32>
  seq.kv_store %c3, %s[%c2] : !seq.kv_cache<1x8x64xf32>, memref<?xi8>
  return %o : tensor<?x2x8xf32>
}
}

// -----

// Statistics of another head size.
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<1.0> : tensor<2x1x16xf32>>} {
func.func @shape(%s: memref<?xi8>, %slot: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>) -> tensor<?x2x8xf32> {
  %c = seq.kv_load %s[%slot] : memref<?xi8> -> !seq.kv_cache<1x8x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x8x64xf32>, tensor<?x1x8xf32>
  // expected-error @+1 {{seq.kv_calibration's key_absmax has shape 'tensor<2x1x16xf32>', expected [layers, 1, 8]}}
  %o, %c3 = seq.kv_attention %q, %a : tensor<?x2x8xf32>, !seq.kv_cache<1x8x64xf32>
  seq.kv_store %c3, %s[%slot] : !seq.kv_cache<1x8x64xf32>, memref<?xi8>
  return %o : tensor<?x2x8xf32>
}
}

// -----

// expected-error @+1 {{seq-fuse-hadamard reorder-keys: the module has no seq.kv_calibration}}
module {
func.func @none(%s: memref<?xi8>, %slot: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>) -> tensor<?x2x8xf32> {
  %c = seq.kv_load %s[%slot] : memref<?xi8> -> !seq.kv_cache<1x8x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x8x64xf32>, tensor<?x1x8xf32>
  %o, %c3 = seq.kv_attention %q, %a : tensor<?x2x8xf32>, !seq.kv_cache<1x8x64xf32>
  seq.kv_store %c3, %s[%slot] : !seq.kv_cache<1x8x64xf32>, memref<?xi8>
  return %o : tensor<?x2x8xf32>
}
}
