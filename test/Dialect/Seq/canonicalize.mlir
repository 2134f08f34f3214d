// Folds and canonicalizations of the seq dialect, and what is deliberately
// left alone.
// RUN: seqc-opt %s -canonicalize -split-input-file | FileCheck %s
// RUN: seqc-opt %s -canonicalize -split-input-file --verify-roundtrip > /dev/null

// Two normalized Sylvester rotations of one size cancel (H is symmetric).
// CHECK-LABEL: func.func @hadamard_pair_cancels
// CHECK-NEXT: return %arg0
func.func @hadamard_pair_cancels(%x: tensor<4x128xf32>) -> tensor<4x128xf32> {
  %0 = seq.hadamard %x : tensor<4x128xf32>
  %1 = seq.hadamard %0 : tensor<4x128xf32>
  return %1 : tensor<4x128xf32>
}

// -----

// Block size given on one side only still names the same matrix.
// CHECK-LABEL: func.func @hadamard_pair_explicit_block
// CHECK-NEXT: return %arg0
func.func @hadamard_pair_explicit_block(%x: tensor<4x96xf32>) -> tensor<4x96xf32> {
  %0 = seq.hadamard %x {block_size = 96 : i64} : tensor<4x96xf32>
  %1 = seq.hadamard %0 : tensor<4x96xf32>
  return %1 : tensor<4x96xf32>
}

// -----

// Paley I (order 20) is not symmetric: H·H is not the identity, Hᵀ·H is.
// CHECK-LABEL: func.func @hadamard_paley1
// CHECK: %[[A:.*]] = seq.hadamard %arg0 : tensor<2x20xf32>
// CHECK: %[[B:.*]] = seq.hadamard %[[A]] : tensor<2x20xf32>
// CHECK: return %[[B]], %arg0
func.func @hadamard_paley1(%x: tensor<2x20xf32>) -> (tensor<2x20xf32>, tensor<2x20xf32>) {
  %0 = seq.hadamard %x : tensor<2x20xf32>
  %1 = seq.hadamard %0 : tensor<2x20xf32>
  %2 = seq.hadamard %0 {transpose = true} : tensor<2x20xf32>
  return %1, %2 : tensor<2x20xf32>, tensor<2x20xf32>
}

// -----

// Unnormalized rotations multiply by n, and different block sizes are
// different matrices: neither folds.
// CHECK-LABEL: func.func @hadamard_no_fold
// CHECK-COUNT-4: seq.hadamard
func.func @hadamard_no_fold(%x: tensor<4x128xf32>) -> (tensor<4x128xf32>, tensor<4x128xf32>) {
  %0 = seq.hadamard %x {normalized = false} : tensor<4x128xf32>
  %1 = seq.hadamard %0 {normalized = false} : tensor<4x128xf32>
  %2 = seq.hadamard %x {block_size = 64 : i64} : tensor<4x128xf32>
  %3 = seq.hadamard %2 : tensor<4x128xf32>
  return %1, %3 : tensor<4x128xf32>, tensor<4x128xf32>
}

// -----

// `gt` keeps 0 and 1 as they are; `ge` maps 0 to 1 and must stay.
// CHECK-LABEL: func.func @heaviside_idempotent
// CHECK: %[[S:.*]] = seq.heaviside %arg0 : tensor<8xf32>
// CHECK: %[[T:.*]] = seq.heaviside %[[S]] : tensor<8xf32>
// CHECK: return %[[S]], %[[T]]
func.func @heaviside_idempotent(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %0 = seq.heaviside %x : tensor<8xf32>
  %1 = seq.heaviside %0 {fire = #seq.fire<gt>} : tensor<8xf32>
  %2 = seq.heaviside %0 : tensor<8xf32>
  return %1, %2 : tensor<8xf32>, tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @heaviside_of_spikes
// CHECK: %[[S:.*]], %{{.*}} = seq.lif
// CHECK-NEXT: return %[[S]]
func.func @heaviside_of_spikes(%x: tensor<4x8xf32>, %v: tensor<8xf32>) -> tensor<4x8xf32> {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<4x8xf32>, tensor<8xf32>
  %0 = seq.heaviside %s {fire = #seq.fire<gt>} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// -0.0 >= 0 holds (IEEE comparison), -0.0 > 0 does not.
// CHECK-LABEL: func.func @heaviside_constant
// CHECK-DAG: arith.constant dense<[0.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00]> : tensor<4xf32>
// CHECK-DAG: arith.constant dense<[0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00]> : tensor<4xf32>
// CHECK-DAG: arith.constant dense<1.000000e+00> : tensor<2x2xf16>
// CHECK-NOT: seq.heaviside
func.func @heaviside_constant() -> (tensor<4xf32>, tensor<4xf32>, tensor<2x2xf16>) {
  %c = arith.constant dense<[-1.0, 0.0, 2.5, -0.0]> : tensor<4xf32>
  %0 = seq.heaviside %c : tensor<4xf32>
  %1 = seq.heaviside %c {fire = #seq.fire<gt>} : tensor<4xf32>
  %s = arith.constant dense<3.0> : tensor<2x2xf16>
  %2 = seq.heaviside %s : tensor<2x2xf16>
  return %0, %1, %2 : tensor<4xf32>, tensor<4xf32>, tensor<2x2xf16>
}

// -----

// Quantization is lossy: neither order of quantize/dequantize folds.
// CHECK-LABEL: func.func @quant_roundtrip_kept
// CHECK: seq.quantize
// CHECK: seq.dequantize
// CHECK: seq.quantize
func.func @quant_roundtrip_kept(%x: tensor<4x32xf32>) -> (tensor<4x32xf32>, tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>) {
  %q, %s, %m = seq.quantize %x : tensor<4x32xf32> -> tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<4x1xf32>, tensor<4x1xf32>
  %d = seq.dequantize %q, %s, %m : tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<4x32xf32>
  %q2, %s2, %m2 = seq.quantize %d : tensor<4x32xf32> -> tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<4x1xf32>, tensor<4x1xf32>
  return %d, %q2 : tensor<4x32xf32>, tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>
}

// -----

// A budget at or above the capacity never drops a token.
// CHECK-LABEL: func.func @evict_noop
// CHECK-NEXT: return %arg0
func.func @evict_noop(%c: !seq.kv_cache<4x64x256xf16>) -> !seq.kv_cache<4x64x256xf16> {
  %0 = seq.kv_evict %c {policy = #seq.evict<h2o>, budget = 256 : i64} : !seq.kv_cache<4x64x256xf16>
  return %0 : !seq.kv_cache<4x64x256xf16>
}

// -----

// CHECK-LABEL: func.func @evict_windows_merge
// CHECK-NEXT: %[[E:.*]] = seq.kv_evict %arg0 {budget = 64 : i64, policy = #seq.evict<window>}
// CHECK-NEXT: return %[[E]]
func.func @evict_windows_merge(%c: !seq.kv_cache<4x64x256xf16, sinks = 4>) -> !seq.kv_cache<4x64x256xf16, sinks = 4> {
  %0 = seq.kv_evict %c {policy = #seq.evict<window>, budget = 128 : i64} : !seq.kv_cache<4x64x256xf16, sinks = 4>
  %1 = seq.kv_evict %0 {policy = #seq.evict<window>, budget = 64 : i64} : !seq.kv_cache<4x64x256xf16, sinks = 4>
  return %1 : !seq.kv_cache<4x64x256xf16, sinks = 4>
}

// -----

// Heavy-hitter choices depend on the statistics at each step: not merged.
// CHECK-LABEL: func.func @evict_h2o_kept
// CHECK-COUNT-2: seq.kv_evict
func.func @evict_h2o_kept(%c: !seq.kv_cache<4x64x256xf16>) -> !seq.kv_cache<4x64x256xf16> {
  %0 = seq.kv_evict %c {policy = #seq.evict<h2o>, budget = 128 : i64} : !seq.kv_cache<4x64x256xf16>
  %1 = seq.kv_evict %0 {policy = #seq.evict<h2o>, budget = 64 : i64} : !seq.kv_cache<4x64x256xf16>
  return %1 : !seq.kv_cache<4x64x256xf16>
}
