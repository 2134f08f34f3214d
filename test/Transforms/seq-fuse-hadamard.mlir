// RUN: seqc-opt %s --split-input-file --seq-fuse-hadamard --seq-fuse-hadamard --verify-diagnostics | FileCheck %s

// Keys and values are rotated before they enter the cache, queries before
// they attend, and the output is rotated back (transpose). Running the pass
// twice changes nothing.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[S:.*]]: memref<?xi8>, %[[Q:.*]]: tensor<?x4x16xf32>, %[[K:.*]]: tensor<?x2x16xf32>, %[[V:.*]]: tensor<?x2x16xf32>)
// CHECK: %[[C:.*]] = seq.kv_load
// CHECK: %[[KR:.*]] = seq.hadamard %[[K]] : tensor<?x2x16xf32>
// CHECK: %[[VR:.*]] = seq.hadamard %[[V]] : tensor<?x2x16xf32>
// CHECK: %[[A:.*]] = seq.kv_append %[[C]], %[[KR]], %[[VR]]
// CHECK: %[[QR:.*]] = seq.hadamard %[[Q]] : tensor<?x4x16xf32>
// CHECK: %[[O:.*]], %{{.*}} = seq.kv_attention %[[QR]], %[[A]] {seq.rotated}
// CHECK: %[[OR:.*]] = seq.hadamard %[[O]] {transpose = true} : tensor<?x4x16xf32>
// CHECK: return %[[OR]]
// CHECK-NOT: seq.hadamard
func.func @layer(%s: memref<?xi8>, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %a = seq.kv_append %c, %k, %v : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// A head dimension with no Hadamard matrix is an error naming the size.
func.func @odd(%s: memref<?xi8>, %q: tensor<?x2x6xf32>, %k: tensor<?x2x6xf32>) -> tensor<?x2x6xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x6x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x6x64xf32>, tensor<?x2x6xf32>
  // expected-error @+1 {{seq-fuse-hadamard: head_dim 6 has no Hadamard matrix}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x6xf32>, !seq.kv_cache<2x6x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x6x64xf32>, memref<?xi8>
  return %o : tensor<?x2x6xf32>
}

// -----

// Values the importer rotated already (QuaRot folded into W_v and W_o,
// `seqc compile --rotate-weights`): only queries and keys are rotated, and
// the output is left as W_o expects it.
// CHECK-LABEL: func.func @folded
// CHECK-SAME: (%[[S:.*]]: memref<?xi8>, %[[Q:.*]]: tensor<?x4x16xf32>, %[[K:.*]]: tensor<?x2x16xf32>, %[[V:.*]]: tensor<?x2x16xf32>)
// CHECK: %[[KR:.*]] = seq.hadamard %[[K]] : tensor<?x2x16xf32>
// CHECK-NOT: seq.hadamard %[[V]]
// CHECK: %[[A:.*]] = seq.kv_append %{{.*}}, %[[KR]], %[[V]]
// CHECK: %[[QR:.*]] = seq.hadamard %[[Q]] : tensor<?x4x16xf32>
// CHECK: %[[O:.*]], %{{.*}} = seq.kv_attention %[[QR]], %[[A]] {seq.rotated}
// CHECK-NOT: seq.hadamard
// CHECK: return %[[O]]
module attributes {seq.folded_rotations = ["residual", "values"]} {
func.func @folded(%s: memref<?xi8>, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %a = seq.kv_append %c, %k, %v : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}
}
