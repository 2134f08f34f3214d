// RUN: seqc-opt %s --convert-seq-to-linalg -split-input-file | FileCheck %s

// seq.permute_channels and seq.scale_channels read a constant per-layer
// table: one linalg.generic over [T, H, D] (no inputs) whose element
// (t, h, i) extracts table[layer, h, i].

// Output channel i of head h reads channel order[layer, h, i].
// CHECK-LABEL: func.func @permute
// CHECK-SAME: (%[[K:.*]]: tensor<?x1x4xf32>, %[[LAYER:.*]]: index)
// CHECK: %[[ORDER:.*]] = arith.constant dense<{{\[\[\[}}1, 3, 0, 2]], {{\[\[}}0, 1, 2, 3]]]> : tensor<2x1x4xi32>
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}) : tensor<?x1x4xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]} outs(%[[E]] : tensor<?x1x4xf32>)
// CHECK: %[[T:.*]] = linalg.index 0 : index
// CHECK: %[[H:.*]] = linalg.index 1 : index
// CHECK: %[[I:.*]] = linalg.index 2 : index
// CHECK: %[[O:.*]] = tensor.extract %[[ORDER]][%[[LAYER]], %[[H]], %[[I]]] : tensor<2x1x4xi32>
// CHECK: %[[C:.*]] = arith.index_cast %[[O]] : i32 to index
// CHECK: %[[V:.*]] = tensor.extract %[[K]][%[[T]], %[[H]], %[[C]]] : tensor<?x1x4xf32>
// CHECK: linalg.yield %[[V]] : f32
// CHECK-NOT: seq.permute_channels
func.func @permute(%k: tensor<?x1x4xf32>, %layer: index) -> tensor<?x1x4xf32> {
  %0 = seq.permute_channels %k[%layer] {order = dense<[[[1, 3, 0, 2]], [[0, 1, 2, 3]]]> : tensor<2x1x4xi32>} : tensor<?x1x4xf32>
  return %0 : tensor<?x1x4xf32>
}

// -----

// x[t, h, i] * scales[layer, h, i] in f32 (f16 extended, then truncated).
// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[K:.*]]: tensor<?x1x4xf16>, %[[LAYER:.*]]: index)
// CHECK: %[[SCALES:.*]] = arith.constant dense<{{\[\[\[}}5.000000e-01, 1.000000e+00, 2.000000e+00, 4.000000e+00]]]> : tensor<1x1x4xf32>
// CHECK: linalg.generic
// CHECK: %[[T:.*]] = linalg.index 0 : index
// CHECK: %[[H:.*]] = linalg.index 1 : index
// CHECK: %[[I:.*]] = linalg.index 2 : index
// CHECK: %[[S:.*]] = tensor.extract %[[SCALES]][%[[LAYER]], %[[H]], %[[I]]] : tensor<1x1x4xf32>
// CHECK: %[[X:.*]] = tensor.extract %[[K]][%[[T]], %[[H]], %[[I]]] : tensor<?x1x4xf16>
// CHECK: %[[XF:.*]] = arith.extf %[[X]] : f16 to f32
// CHECK: %[[P:.*]] = arith.mulf %[[XF]], %[[S]] : f32
// CHECK: %[[R:.*]] = arith.truncf %[[P]] : f32 to f16
// CHECK: linalg.yield %[[R]] : f16
// CHECK-NOT: seq.scale_channels
func.func @scale(%k: tensor<?x1x4xf16>, %layer: index) -> tensor<?x1x4xf16> {
  %0 = seq.scale_channels %k[%layer] {scales = dense<[[[0.5, 1.0, 2.0, 4.0]]]> : tensor<1x1x4xf32>} : tensor<?x1x4xf16>
  return %0 : tensor<?x1x4xf16>
}

// -----

// Tables given as operands (weights, as seqc compile moves them): read the
// same way; an order held in f32 converts back to an integer first.
// CHECK-LABEL: func.func @by_weights
// CHECK-SAME: (%[[K:.*]]: tensor<?x1x4xf32>, %[[LAYER:.*]]: index, %[[W:.*]]: tensor<2x1x4xf32>)
// CHECK-NOT: arith.constant dense
// CHECK: %[[O:.*]] = tensor.extract %[[W]][%[[LAYER]], %{{.*}}, %{{.*}}] : tensor<2x1x4xf32>
// CHECK: %[[OI:.*]] = arith.fptosi %[[O]] : f32 to i32
// CHECK: arith.index_cast %[[OI]] : i32 to index
// CHECK: %[[S:.*]] = tensor.extract %[[W]][%[[LAYER]], %{{.*}}, %{{.*}}] : tensor<2x1x4xf32>
// CHECK: arith.mulf %{{.*}}, %[[S]] : f32
func.func @by_weights(%k: tensor<?x1x4xf32>, %layer: index, %w: tensor<2x1x4xf32>) -> tensor<?x1x4xf32> {
  %0 = seq.permute_channels %k[%layer] by %w : tensor<?x1x4xf32>, tensor<2x1x4xf32>
  %1 = seq.scale_channels %0[%layer] by %w : tensor<?x1x4xf32>, tensor<2x1x4xf32>
  return %1 : tensor<?x1x4xf32>
}
