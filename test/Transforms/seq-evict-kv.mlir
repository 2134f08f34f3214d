// RUN: seqc-opt %s --split-input-file --seq-evict-kv="policy=window budget=16 sinks=4" --verify-diagnostics | FileCheck %s

// A plain cache gets an eviction window of budget - sinks tokens.
// CHECK-LABEL: func.func @layer
// CHECK: seq.kv_load {{.*}} -> !seq.kv_cache<2x16x64xf32, sinks = 4, window = 12>
// CHECK: seq.kv_store {{.*}} : !seq.kv_cache<2x16x64xf32, sinks = 4, window = 12>, memref<?xi8>
func.func @layer(%s: memref<?xi8>, %k: tensor<1x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x64xf32>, tensor<1x2x16xf32>
  seq.kv_store %a, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return
}

// -----

// Within the budget already: unchanged. Compressed caches: unchanged.
// CHECK-LABEL: func.func @small
// CHECK-SAME: !seq.kv_cache<2x16x16xf32>
// CHECK-SAME: !seq.kv_cache<2x16x64xf32, keys
func.func @small(%a: !seq.kv_cache<2x16x16xf32>, %b: !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, window = 8>) {
  return
}

// -----

// h2o and roco: the recent tokens are the type's window, the budget counts
// every kept token.
// RUN: seqc-opt %s --split-input-file --seq-evict-kv="policy=h2o budget=16 sinks=2 recent=4" | FileCheck %s --check-prefix=H2O
// RUN: seqc-opt %s --split-input-file --seq-evict-kv="policy=roco budget=8" | FileCheck %s --check-prefix=ROCO
// H2O-LABEL: func.func @layer
// H2O: seq.kv_load {{.*}} -> !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>
// ROCO-LABEL: func.func @layer
// ROCO: seq.kv_load {{.*}} -> !seq.kv_cache<2x16x64xf32, evict = roco, budget = 8>
