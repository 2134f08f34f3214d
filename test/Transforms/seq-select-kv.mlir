// RUN: seqc-opt %s --split-input-file --seq-select-kv="keep=16 window=4 kernel=5 pool=avg" | FileCheck %s
// RUN: seqc-opt %s --split-input-file --seq-select-kv="rate=0.25" | FileCheck %s --check-prefix=RATE

// A prefill (dynamic token count) over a grouped-query cache: the window
// score of its queries and keys, summed over the 2 query heads of each KV
// head, selects the rows of the cache the attention leaves, only when the
// prompt has more tokens than it keeps.
// CHECK-LABEL: func.func @prefill
// CHECK: %[[APP:.*]] = seq.kv_append %{{.*}}, %[[K:.*]], %{{.*}} :
// CHECK: %[[Q:.*]], %[[ATT:.*]] = seq.kv_attention %[[QIN:.*]], %[[APP]]
// CHECK: %[[N:.*]] = tensor.dim %[[K]], %c0
// CHECK: %[[KEEP:.*]] = arith.constant 16 : index
// CHECK: %[[LONGER:.*]] = arith.cmpi slt, %[[KEEP]], %[[N]]
// CHECK: %[[SCORE:.*]] = scf.if %[[LONGER]] -> (tensor<2x?xf32>)
// CHECK:   %[[WS:.*]] = seq.kv_window_score %[[QIN]], %[[K]] {kernel = 5 : i64, window = 4 : i64} : tensor<?x4x16xf32>, tensor<?x2x16xf32> -> tensor<4x?xf32>
// CHECK:   tensor.expand_shape %[[WS]] {{\[\[}}0, 1], [2]]
// CHECK:   linalg.generic
// CHECK:   scf.yield
// CHECK: } else {
// CHECK:   tensor.empty() : tensor<2x0xf32>
// CHECK: }
// CHECK: %[[SEL:.*]] = seq.kv_select %[[ATT]], %[[SCORE]], %[[KEEP]] {window = 4 : i64}
// CHECK: seq.kv_store %[[SEL]], %arg0[%c0]
// RATE-LABEL: func.func @prefill
// RATE: arith.uitofp
// RATE: arith.constant 2.500000e-01 : f64
// RATE: arith.mulf
// RATE: arith.fptoui
// RATE: arith.maxsi
// RATE: seq.kv_window_score {{.*}} {pool = #seq.pool<max>, window = 8 : i64}
// RATE: seq.kv_select {{.*}} {window = 8 : i64}
func.func @prefill(%s: memref<?xi8>, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// Decode (one token) and a static prompt within the window: unchanged.
// CHECK-LABEL: func.func @decode
// CHECK-NOT: seq.kv_select
// CHECK: return
func.func @decode(%s: memref<?xi8>, %q: tensor<1x2x16xf32>, %k: tensor<1x2x16xf32>, %q4: tensor<4x2x16xf32>, %k4: tensor<4x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x64xf32>, tensor<1x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<1x2x16xf32>, !seq.kv_cache<2x16x64xf32>
  %a4 = seq.kv_append %c2, %k4, %k4 : !seq.kv_cache<2x16x64xf32>, tensor<4x2x16xf32>
  %o4, %c3 = seq.kv_attention %q4, %a4 : tensor<4x2x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c3, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return
}

