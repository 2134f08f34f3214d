// RUN: seqc-opt %s --split-input-file --seq-mixed-precision-kv="budget=16 sinks=2 recent=4 key-bits=4 value-bits=2 group-size=8" | FileCheck %s
// RUN: seqc-opt %s --split-input-file --seq-mixed-precision-kv="policy=roco budget=8 group-size=8 symmetric=true" | FileCheck %s --check-prefix=ROCO
// RUN: not seqc-opt %s --split-input-file --seq-mixed-precision-kv="policy=window budget=8 group-size=8" 2>&1 | FileCheck %s --check-prefix=POLICY
// RUN: not seqc-opt %s --split-input-file --seq-mixed-precision-kv="budget=8 key-bits=5 group-size=8" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not seqc-opt %s --split-input-file --seq-mixed-precision-kv="budget=8 recent=8 group-size=8" 2>&1 | FileCheck %s --check-prefix=BUDGET
// RUN: not seqc-opt %s --split-input-file --seq-mixed-precision-kv="budget=8 group-size=6" 2>&1 | FileCheck %s --check-prefix=GROUP

// Important tokens (h2o scores) stay at full precision, the others are
// quantized per token instead of dropped (MiKV).
// CHECK-LABEL: func.func @layer
// CHECK: seq.kv_load {{.*}} -> !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, sinks = 2, window = 4, evict = h2o, budget = 16>
// ROCO-LABEL: func.func @layer
// ROCO: !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = 8, axis = 1, symmetric>, values = #seq.quant<bits = 2, group = 8, axis = 1, symmetric>, evict = roco, budget = 8>
// POLICY: seq-mixed-precision-kv.mlir:[[@LINE+6]]:{{[0-9]+}}: error: seq-mixed-precision-kv: unknown policy 'window' (expected h2o or roco)
// BITS: error: seq-mixed-precision-kv: invalid key-bits=5 (expected 2, 3, 4 or 8)
// BUDGET: error: seq-mixed-precision-kv: group-size and budget must be positive and the budget larger than sinks + recent, got group-size=8 budget=8 sinks=0 recent=8
// GROUP: error: seq-mixed-precision-kv: cannot rewrite '!seq.kv_cache<2x16x64xf32>': key encoding group size 6 does not divide head_dim 16
func.func @layer(%s: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return
}

// -----

// A capacity within the budget: nothing would leave the set; unchanged.
// CHECK-LABEL: func.func @small
// CHECK-SAME: !seq.kv_cache<2x16x16xf32>
func.func @small(%a: !seq.kv_cache<2x16x16xf32>) {
  return
}
