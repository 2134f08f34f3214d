// RUN: seqc-opt %s --split-input-file --seq-balance-kv="alpha=1" --seq-balance-kv --verify-diagnostics | FileCheck %s

// MiKV's outlier balancing: magnitudes 2 0 0 0 (RMS 1) give factors
// 2 1 1 1 (channels never seen keep 1): keys are divided by them, the
// queries of their KV head multiplied, per layer (the cache's slot).
// Running the pass twice changes nothing.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[S:.*]]: memref<?xi8>, %[[SLOT:.*]]: index, %[[Q:.*]]: tensor<?x2x4xf32>, %[[K:.*]]: tensor<?x1x4xf32>, %[[V:.*]]: tensor<?x1x4xf32>)
// CHECK: %[[KS:.*]] = seq.scale_channels %[[K]][%[[SLOT]]] {scales = dense<{{\[\[\[}}5.000000e-01, 1.000000e+00, 1.000000e+00, 1.000000e+00]]]> : tensor<1x1x4xf32>} : tensor<?x1x4xf32>
// CHECK: %[[A:.*]] = seq.kv_append %{{.*}}, %[[KS]], %[[V]]
// CHECK: %[[QS:.*]] = seq.scale_channels %[[Q]][%[[SLOT]]] {scales = dense<{{\[\[\[}}2.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00], [2.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00]]]> : tensor<1x2x4xf32>} : tensor<?x2x4xf32>
// CHECK: seq.kv_attention %[[QS]], %[[A]] {seq.balanced}
// CHECK-NOT: seq.scale_channels
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<[[[2.0, 0.0, 0.0, 0.0]]]> : tensor<1x1x4xf32>>} {
func.func @layer(%s: memref<?xi8>, %slot: index, %q: tensor<?x2x4xf32>, %k: tensor<?x1x4xf32>, %v: tensor<?x1x4xf32>) -> tensor<?x2x4xf32> {
  %c = seq.kv_load %s[%slot] : memref<?xi8> -> !seq.kv_cache<1x4x64xf32>
  %a = seq.kv_append %c, %k, %v : !seq.kv_cache<1x4x64xf32>, tensor<?x1x4xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x4xf32>, !seq.kv_cache<1x4x64xf32>
  seq.kv_store %c2, %s[%slot] : !seq.kv_cache<1x4x64xf32>, memref<?xi8>
  return %o : tensor<?x2x4xf32>
}
}

// -----

// expected-error @+1 {{key_absmax must hold finite non-negative values}}
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<[[[2.0, -1.0, 0.0, 0.0]]]> : tensor<1x1x4xf32>>} {
}

// -----

// A latent cache (seq-low-rank-kv): its channels are not the keys'.
module attributes {seq.kv_calibration = #seq.kv_calibration<key_absmax = dense<1.0> : tensor<1x1x2xf32>>} {
func.func @latent(%s: memref<?xi8>, %q: tensor<?x2x2xf32>, %k: tensor<?x1x1xf32>, %u: tensor<4x2xf32>) -> tensor<?x2x2xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<latent_heads = 1>>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<latent_heads = 1>>, tensor<?x1x1xf32>
  // expected-error @+1 {{seq-balance-kv: the cache holds low-rank latents (seq-low-rank-kv); balance the keys before it}}
  %o, %c2 = seq.kv_attention %q, %a basis %u : tensor<?x2x2xf32>, !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<latent_heads = 1>>, tensor<4x2xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<1x1x64xf32, key_form = #seq.key_form<latent_heads = 1>>, memref<?xi8>
  return %o : tensor<?x2x2xf32>
}
}
