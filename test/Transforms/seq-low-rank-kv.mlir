// RUN: seqc-opt %s --split-input-file --seq-low-rank-kv="rank=2" --verify-diagnostics | FileCheck %s

// One KV head of 2 channels: x = [k0, k1, v0, v1] with a diagonal second
// moment (1, 4, 2, 3); rank 2 keeps its two largest directions, channels
// 1 (k1) and 3 (v1), as the columns of the basis. The append takes the
// latent (keys before their RoPE) split into a key and a value row of one
// channel each; the attention reconstructs keys (then RoPE) and values.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[S:.*]]: memref<?xi8>, %[[Q:.*]]: tensor<?x2x2xf32>, %[[K:.*]]: tensor<?x1x2xf32>, %[[V:.*]]: tensor<?x1x2xf32>)
// CHECK: %[[C:.*]] = seq.kv_load %[[S]][%{{.*}}] : memref<?xi8> -> !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<rope_theta = 1.000000e+04 : f32, latent_heads = 1>>
// CHECK: %[[QR:.*]] = seq.rope %[[Q]]
// CHECK-NOT: seq.rope
// CHECK: %[[KF:.*]] = tensor.collapse_shape %[[K]] {{\[\[}}0], [1, 2]] : tensor<?x1x2xf32> into tensor<?x2xf32>
// CHECK: %[[VF:.*]] = tensor.collapse_shape %[[V]]
// CHECK: %[[T:.*]] = arith.constant dense<{{\[\[\[}}0.000000e+00, 0.000000e+00], [1.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00], [0.000000e+00, 1.000000e+00]]]> : tensor<1x4x2xf32>
// CHECK: %[[U:.*]] = tensor.extract_slice %[[T]][%{{.*}}, 0, 0] [1, 4, 2] [1, 1, 1] : tensor<1x4x2xf32> to tensor<4x2xf32>
// CHECK: %[[UK:.*]] = tensor.extract_slice %[[U]][0, 0] [2, 2] [1, 1]
// CHECK: %[[UV:.*]] = tensor.extract_slice %[[U]][2, 0] [2, 2] [1, 1]
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[KF]], %[[UK]], %[[VF]], %[[UV]] : {{.*}})
// CHECK: %[[LK:.*]] = tensor.extract_slice %[[L]][0, 0] [%{{.*}}, 1] [1, 1]
// CHECK: %[[EK:.*]] = tensor.expand_shape %[[LK]] {{.*}} into tensor<?x1x1xf32>
// CHECK: %[[LV:.*]] = tensor.extract_slice %[[L]][0, 1] [%{{.*}}, 1] [1, 1]
// CHECK: %[[EV:.*]] = tensor.expand_shape %[[LV]]
// CHECK: %[[A:.*]] = seq.kv_append %[[C]], %[[EK]], %[[EV]] : !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<rope_theta = 1.000000e+04 : f32, latent_heads = 1>>, tensor<?x1x1xf32>
// CHECK: seq.kv_attention %[[QR]], %[[A]] basis %[[U]] : tensor<?x2x2xf32>, !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<rope_theta = 1.000000e+04 : f32, latent_heads = 1>>, tensor<4x2xf32>
// CHECK: seq.kv_store %{{.*}}, %[[S]]{{.*}} : !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<rope_theta = 1.000000e+04 : f32, latent_heads = 1>>, memref<?xi8>
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<1.0> : tensor<1x1x2xf32>, kv_covariance = dense<[[[1.0, 0.0, 0.0, 0.0], [0.0, 4.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 3.0]]]> : tensor<1x4x4xf32>>} {
func.func @layer(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x2xf32>, %v: tensor<?x1x2xf32>) -> tensor<?x2x2xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x2x64xf32>
  %len = seq.kv_length %c : !seq.kv_cache<1x2x64xf32>
  %t = tensor.dim %q, %c0 : tensor<?x2x2xf32>
  %init = tensor.empty(%t) : tensor<?xindex>
  %pos = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%init : tensor<?xindex>) {
  ^bb0(%out: index):
    %i = linalg.index 0 : index
    %p = arith.addi %len, %i : index
    linalg.yield %p : index
  } -> tensor<?xindex>
  %qr = seq.rope %q, %pos {theta = 1.0e4 : f32} : tensor<?x2x2xf32>, tensor<?xindex>
  %kr = seq.rope %k, %pos {theta = 1.0e4 : f32} : tensor<?x1x2xf32>, tensor<?xindex>
  %a = seq.kv_append %c, %kr, %v : !seq.kv_cache<1x2x64xf32>, tensor<?x1x2xf32>
  %o, %c2 = seq.kv_attention %qr, %a : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<1x2x64xf32>, memref<?xi8>
  return %o : tensor<?x2x2xf32>
}
}

// -----

// A covariance of another width.
module attributes {seq.kv_calibration = #seq.kv_calibration<kv_covariance = dense<1.0> : tensor<1x8x8xf32>>} {
func.func @width(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x2xf32>) -> tensor<?x2x2xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x2x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x2x64xf32>, tensor<?x1x2xf32>
  // expected-error @+1 {{seq-low-rank-kv: seq.kv_calibration's kv_covariance is [1, 8, 8]; this cache needs [layers, 4, 4]}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<1x2x64xf32>, memref<?xi8>
  return %o : tensor<?x2x2xf32>
}
}

// -----

// A slot beyond the calibrated layers.
module attributes {seq.kv_calibration = #seq.kv_calibration<kv_covariance = dense<1.0> : tensor<1x4x4xf32>>} {
func.func @slot(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x2xf32>) -> tensor<?x2x2xf32> {
  %c1 = arith.constant 1 : index
  %c = seq.kv_load %s[%c1] : memref<?xi8> -> !seq.kv_cache<1x2x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x2x64xf32>, tensor<?x1x2xf32>
  // expected-error @+1 {{seq-low-rank-kv: cache slot 1 has no calibration (1 layers)}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  seq.kv_store %c2, %s[%c1] : !seq.kv_cache<1x2x64xf32>, memref<?xi8>
  return %o : tensor<?x2x2xf32>
}
}

// -----

// A cache that is already compressed.
module attributes {seq.kv_calibration = #seq.kv_calibration<kv_covariance = dense<1.0> : tensor<1x16x16xf32>>} {
func.func @compressed(%s: memref<?xi8>, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>) -> tensor<?x2x8xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x8x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, window = 8>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x8x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, window = 8>, tensor<?x1x8xf32>
  // expected-error @+1 {{seq-low-rank-kv: the cache must be a plain full-precision one}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x8xf32>, !seq.kv_cache<1x8x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, window = 8>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<1x8x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, window = 8>, memref<?xi8>
  return %o : tensor<?x2x8xf32>
}
}

// -----

// No covariance.
// expected-error @+1 {{seq-low-rank-kv: the module has no seq.kv_calibration = #seq.kv_calibration<kv_covariance}}
module {
func.func @none(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x2xf32>) -> tensor<?x2x2xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x2x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x2x64xf32>, tensor<?x1x2xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<1x2x64xf32>, memref<?xi8>
  return %o : tensor<?x2x2xf32>
}
}

// -----

// An attention that does not read an append of its own tokens: the cache
// type changes module-wide, so it would read latents as keys.
module attributes {seq.kv_calibration = #seq.kv_calibration<kv_covariance = dense<1.0> : tensor<1x4x4xf32>>} {
func.func @second(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x2xf32>) -> tensor<?x2x2xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x2x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x2x64xf32>, tensor<?x1x2xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  // expected-error @+1 {{seq-low-rank-kv: every seq.kv_append and seq.kv_attention on a cache must come as an attention over an append of the same tokens}}
  %o2, %c3 = seq.kv_attention %q, %c2 : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  seq.kv_store %c3, %s[%c0] : !seq.kv_cache<1x2x64xf32>, memref<?xi8>
  return %o2 : tensor<?x2x2xf32>
}
}

// -----

// Keys whose RoPE the pass cannot see (another op in between).
module attributes {seq.kv_calibration = #seq.kv_calibration<kv_covariance = dense<1.0> : tensor<1x4x4xf32>>} {
func.func @hidden(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x2xf32>, %pos: tensor<?xindex>) -> tensor<?x2x2xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x2x64xf32>
  %kr = seq.rope %k, %pos : tensor<?x1x2xf32>, tensor<?xindex>
  %kh = seq.hadamard %kr : tensor<?x1x2xf32>
  %a = seq.kv_append %c, %kh, %k : !seq.kv_cache<1x2x64xf32>, tensor<?x1x2xf32>
  // expected-error @+1 {{seq-low-rank-kv: the appended keys must come directly from a seq.rope}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x2xf32>, !seq.kv_cache<1x2x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<1x2x64xf32>, memref<?xi8>
  return %o : tensor<?x2x2xf32>
}
}
