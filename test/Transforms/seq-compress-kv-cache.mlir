// RUN: seqc-opt %s --seq-compress-kv-cache="key-bits=2 value-bits=4 group-size=32 sinks=4 window=64" -split-input-file | FileCheck %s
// RUN: seqc-opt %s --seq-compress-kv-cache -split-input-file | FileCheck %s --check-prefix=DEFAULT
// RUN: seqc-opt %s --seq-compress-kv-cache -split-input-file --verify-roundtrip > /dev/null
// RUN: seqc-opt %s --seq-compress-kv-cache="per-token-keys=true symmetric=true window=0" -split-input-file | FileCheck %s --check-prefix=PERTOKEN
// The pass is idempotent.
// RUN: seqc-opt %s --seq-compress-kv-cache --seq-compress-kv-cache -split-input-file | FileCheck %s --check-prefix=DEFAULT

// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%{{.*}}: !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>, sinks = 4, window = 64>
// CHECK: seq.kv_append {{.*}} : !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>, sinks = 4, window = 64>
// CHECK: seq.kv_attention {{.*}} !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2
// CHECK: return {{.*}} !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 2
// The already-compressed cache is left as it is.
// CHECK-LABEL: func.func @already
// CHECK-SAME: !seq.kv_cache<8x64x4096xf16, values = #seq.quant<bits = 8, group = 64, axis = 1, symmetric>>

// DEFAULT-LABEL: func.func @layer
// DEFAULT-SAME: !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 4, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>, window = 32>

// PERTOKEN-LABEL: func.func @layer
// PERTOKEN-SAME: !seq.kv_cache<8x64x4096xf16, keys = #seq.quant<bits = 4, group = 32, axis = 1, symmetric>, values = #seq.quant<bits = 4, group = 32, axis = 1, symmetric>>

func.func @layer(%c: !seq.kv_cache<8x64x4096xf16>, %k: tensor<1x8x64xf32>, %q: tensor<1x32x64xf32>) -> (tensor<1x32x64xf32>, !seq.kv_cache<8x64x4096xf16>) {
  %c1 = seq.kv_append %c, %k, %k : !seq.kv_cache<8x64x4096xf16>, tensor<1x8x64xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<1x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
  return %o, %c2 : tensor<1x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
}

func.func @already(%c: !seq.kv_cache<8x64x4096xf16, values = #seq.quant<bits = 8, group = 64, axis = 1, symmetric>>) {
  return
}
