// RUN: seqc-opt %s --convert-seq-to-linalg -split-input-file | FileCheck %s

// Defaults (SpikeGPT): decay_input, fire = ge, hard reset to 0. One
// elementwise step per token in an scf.for that carries the spikes and the
// membrane; the membrane is the generic's second output, updated in place.
// CHECK-LABEL: func.func @lif_default
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[V:.*]]: tensor<8xf32>)
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x8xf32>
// CHECK: %[[E:.*]] = tensor.empty(%[[T]]) : tensor<?x8xf32>
// CHECK: %[[R:.*]]:2 = scf.for %[[I:.*]] = %{{.*}} to %[[T]] step %{{.*}} iter_args(%[[S:.*]] = %[[E]], %[[M:.*]] = %[[V]])
// CHECK: %[[XT:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [1, 8] [1, 1] : tensor<?x8xf32> to tensor<8xf32>
// CHECK: %[[G:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel"]} ins(%[[XT]] : tensor<8xf32>) outs(%{{.*}}, %[[M]] : tensor<8xf32>, tensor<8xf32>)
// CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32, %[[VM:.*]]: f32):
// CHECK-DAG: %[[TAU:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-DAG: %[[THR:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[RST:.*]] = arith.constant 0.000000e+00 : f32
// h = v + (x - (v - v_reset)) / tau
// CHECK: %[[D:.*]] = arith.subf %[[VM]], %[[RST]] : f32
// CHECK: %[[XD:.*]] = arith.subf %[[IN]], %[[D]] : f32
// CHECK: %[[Q:.*]] = arith.divf %[[XD]], %[[TAU]] : f32
// CHECK: %[[H:.*]] = arith.addf %[[VM]], %[[Q]] : f32
// CHECK: %[[F:.*]] = arith.cmpf oge, %[[H]], %[[THR]] : f32
// CHECK: %[[SP:.*]] = arith.select %[[F]], %{{.*}}, %{{.*}} : f32
// CHECK: %[[NV:.*]] = arith.select %[[F]], %[[RST]], %[[H]] : f32
// CHECK: linalg.yield %[[SP]], %[[NV]] : f32, f32
// CHECK: %[[INS:.*]] = tensor.insert_slice %[[G]]#0 into %[[S]][%[[I]], 0] [1, 8] [1, 1] : tensor<8xf32> into tensor<?x8xf32>
// CHECK: scf.yield %[[INS]], %[[G]]#1
// CHECK: return %[[R]]#0, %[[R]]#1
// CHECK-NOT: seq.lif
func.func @lif_default(%x: tensor<?x8xf32>, %v: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>) {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<?x8xf32>, tensor<8xf32>
  return %s, %v1 : tensor<?x8xf32>, tensor<8xf32>
}

// -----

// fire = gt: a strict comparison (NIR, Lava, snnTorch).
// CHECK-LABEL: func.func @lif_gt
// CHECK: linalg.generic
// CHECK: arith.cmpf ogt
// CHECK-NOT: arith.cmpf oge
// CHECK-NOT: seq.lif
func.func @lif_gt(%x: tensor<4x8xf32>, %v: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>) {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32, fire = #seq.fire<gt>} : tensor<4x8xf32>, tensor<8xf32>
  return %s, %v1 : tensor<4x8xf32>, tensor<8xf32>
}

// -----

// Soft reset: v = h - s * v_threshold.
// CHECK-LABEL: func.func @lif_soft
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: f32, %{{.*}}: f32):
// CHECK-DAG: %[[THR:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[H:.*]] = arith.addf
// CHECK: %[[F:.*]] = arith.cmpf oge, %[[H]], %[[THR]] : f32
// CHECK: %[[SP:.*]] = arith.select %[[F]]
// CHECK: %[[SV:.*]] = arith.mulf %[[SP]], %[[THR]] : f32
// CHECK: %[[NV:.*]] = arith.subf %[[H]], %[[SV]] : f32
// CHECK: linalg.yield %[[SP]], %[[NV]] : f32, f32
// CHECK-NOT: seq.lif
func.func @lif_soft(%x: tensor<4x8xf32>, %v: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>) {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32, v_threshold = 0.5 : f32, reset = #seq.reset<soft>} : tensor<4x8xf32>, tensor<8xf32>
  return %s, %v1 : tensor<4x8xf32>, tensor<8xf32>
}

// -----

// decay_input = false: h = v - (v - v_reset) / tau + x; f16 is computed in
// f32 and both results are truncated back.
// CHECK-LABEL: func.func @lif_no_decay_input
// CHECK: scf.for
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, 0, 0] [1, 2, 3] [1, 1, 1] : tensor<4x2x3xf16> to tensor<2x3xf16>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]}
// CHECK: ^bb0(%[[IN:.*]]: f16, %{{.*}}: f16, %[[VM:.*]]: f16):
// CHECK: %[[X:.*]] = arith.extf %[[IN]] : f16 to f32
// CHECK: %[[V:.*]] = arith.extf %[[VM]] : f16 to f32
// CHECK-DAG: %[[TAU:.*]] = arith.constant 4.000000e+00 : f32
// CHECK-DAG: %[[RST:.*]] = arith.constant -2.500000e-01 : f32
// CHECK: %[[D:.*]] = arith.subf %[[V]], %[[RST]] : f32
// CHECK: %[[Q:.*]] = arith.divf %[[D]], %[[TAU]] : f32
// CHECK: %[[L:.*]] = arith.subf %[[V]], %[[Q]] : f32
// CHECK: %[[H:.*]] = arith.addf %[[L]], %[[X]] : f32
// CHECK: %[[F:.*]] = arith.cmpf oge, %[[H]]
// CHECK: %[[SP:.*]] = arith.select %[[F]]
// CHECK: %[[NV:.*]] = arith.select %[[F]], %[[RST]], %[[H]] : f32
// CHECK: %[[SP16:.*]] = arith.truncf %[[SP]] : f32 to f16
// CHECK: %[[NV16:.*]] = arith.truncf %[[NV]] : f32 to f16
// CHECK: linalg.yield %[[SP16]], %[[NV16]] : f16, f16
// CHECK: tensor.insert_slice %{{.*}}[%{{.*}}, 0, 0] [1, 2, 3] [1, 1, 1] : tensor<2x3xf16> into tensor<4x2x3xf16>
// CHECK-NOT: seq.lif
func.func @lif_no_decay_input(%x: tensor<4x2x3xf16>, %v: tensor<2x3xf16>) -> (tensor<4x2x3xf16>, tensor<2x3xf16>) {
  %s, %v1 = seq.lif %x, %v {tau = 4.0 : f32, v_reset = -0.25 : f32, decay_input = false} : tensor<4x2x3xf16>, tensor<2x3xf16>
  return %s, %v1 : tensor<4x2x3xf16>, tensor<2x3xf16>
}

// -----

// One neuron per step (input [T], membrane a rank-0 tensor).
// CHECK-LABEL: func.func @lif_scalar
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}] [1] [1] : tensor<5xf32> to tensor<f32>
// CHECK: linalg.generic {{.*}} iterator_types = []}
// CHECK: tensor.insert_slice %{{.*}}[%{{.*}}] [1] [1] : tensor<f32> into tensor<5xf32>
func.func @lif_scalar(%x: tensor<5xf32>, %v: tensor<f32>) -> (tensor<5xf32>, tensor<f32>) {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<5xf32>, tensor<f32>
  return %s, %v1 : tensor<5xf32>, tensor<f32>
}

// -----

// A dynamic membrane with a static input: the loop carries the static shape
// and the result is cast back to the op's type.
// CHECK-LABEL: func.func @lif_dynamic_membrane
// CHECK-SAME: (%{{.*}}: tensor<?x8xf32>, %[[V:.*]]: tensor<?xf32>)
// CHECK: %[[C:.*]] = tensor.cast %[[V]] : tensor<?xf32> to tensor<8xf32>
// CHECK: %[[R:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[C]]) -> (tensor<?x8xf32>, tensor<8xf32>)
// CHECK: %[[B:.*]] = tensor.cast %[[R]]#1 : tensor<8xf32> to tensor<?xf32>
// CHECK: return %[[R]]#0, %[[B]]
func.func @lif_dynamic_membrane(%x: tensor<?x8xf32>, %v: tensor<?xf32>) -> (tensor<?x8xf32>, tensor<?xf32>) {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<?x8xf32>, tensor<?xf32>
  return %s, %v1 : tensor<?x8xf32>, tensor<?xf32>
}
