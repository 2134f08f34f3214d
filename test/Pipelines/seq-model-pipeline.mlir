// seq-model-pipeline runs what `seqc compile` runs for its --kv-* and
// --rotate-kv* flags, with options of the same names.
// RUN: seqc-opt %s --seq-model-pipeline="kv-bits=2 kv-group=32 kv-sinks=4 kv-window=64" | FileCheck %s --check-prefix=KIVI
// RUN: seqc-opt %s --seq-model-pipeline="kv-evict=h2o kv-budget=16 kv-sinks=2 kv-recent=4" | FileCheck %s --check-prefix=H2O
// RUN: seqc-opt %s --seq-model-pipeline="kv-evict=roco kv-budget=16 kv-bits=4 kv-group=8" | FileCheck %s --check-prefix=MIXED
// RUN: seqc-opt %s --seq-model-pipeline | FileCheck %s --check-prefix=NONE
// The same option checks as seqc compile's flags, before any pass runs.
// RUN: not seqc-opt %s --seq-model-pipeline="kv-evict=lru kv-budget=8" 2>&1 | FileCheck %s --check-prefix=POLICY
// RUN: not seqc-opt %s --seq-model-pipeline="kv-bits=4 value-bits=16" 2>&1 | FileCheck %s --check-prefix=HALF
// RUN: not seqc-opt %s --seq-model-pipeline="kv-rank=8" 2>&1 | FileCheck %s --check-prefix=NOCAL
// RUN: not seqc-opt %s --seq-model-pipeline="rotate-kv-keys=pre-rope" 2>&1 | FileCheck %s --check-prefix=NOROT
// RUN: not seqc-opt %s --seq-model-pipeline="rotate-kv-keys=before" 2>&1 | FileCheck %s --check-prefix=KEYS

// KIVI-LABEL: func.func @layer
// KIVI-SAME: !seq.kv_cache<2x64x256xf32, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, sinks = 4, window = 64>
// H2O-LABEL: func.func @layer
// H2O-SAME: !seq.kv_cache<2x64x256xf32, sinks = 2, window = 4, evict = h2o, budget = 16>
// MIXED-LABEL: func.func @layer
// MIXED-SAME: !seq.kv_cache<2x64x256xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, evict = roco, budget = 16>
// NONE-LABEL: func.func @layer
// NONE-SAME: !seq.kv_cache<2x64x256xf32>)
// POLICY: seq-model-pipeline: --kv-evict=lru: expected window, h2o or roco
// HALF: seq-model-pipeline: --key-bits and --value-bits: quantize both or neither (got 4 and 16)
// NOCAL: seq-model-pipeline: --kv-rank needs --kv-calibration
// NOROT: seq-model-pipeline: --rotate-kv-keys and --rotate-kv-heads need --rotate-kv
// KEYS: seq-model-pipeline: --rotate-kv-keys must be post-rope or pre-rope, got 'before'

func.func @layer(%c: !seq.kv_cache<2x64x256xf32>, %k: tensor<1x2x64xf32>, %q: tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, !seq.kv_cache<2x64x256xf32>) {
  %c1 = seq.kv_append %c, %k, %k : !seq.kv_cache<2x64x256xf32>, tensor<1x2x64xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<1x4x64xf32>, !seq.kv_cache<2x64x256xf32>
  return %o, %c2 : tensor<1x4x64xf32>, !seq.kv_cache<2x64x256xf32>
}
