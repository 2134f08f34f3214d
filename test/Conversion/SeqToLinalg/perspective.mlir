// RUN: seqc-opt %s --convert-seq-to-linalg | FileCheck %s

// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[AL:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>

// The combiner: the mean over perspectives [T, C] (a reduction over p, then
// the 1/P scale), the scores W_c . mean [T, P] (a reduction over c), and a
// softmax over p: row maximum, exp(s - max), row sum, division.
// CHECK-LABEL: func.func @combine
// CHECK-SAME: (%[[H:.*]]: tensor<?x4x16xf32>, %[[W:.*]]: tensor<4x16xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[H]] : tensor<?x4x16xf32>) outs(%{{.*}} : tensor<?x16xf32>)
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<?x16xf32>)
// CHECK:   arith.constant 2.500000e-01 : f32
// CHECK: %[[S:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MEAN]], %[[W]] : tensor<?x16xf32>, tensor<4x16xf32>) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[S]] : tensor<?x4xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[MAX]] : tensor<?x4xf32>, tensor<?xf32>)
// CHECK:   arith.subf
// CHECK:   math.exp
// CHECK: %[[Z:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[E]] : tensor<?x4xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%[[E]], %[[Z]] : tensor<?x4xf32>, tensor<?xf32>)
// CHECK:   arith.divf
// CHECK: return %[[A]] : tensor<?x4xf32>
func.func @combine(%h: tensor<?x4x16xf32>, %w: tensor<4x16xf32>) -> tensor<?x4xf32> {
  %a = seq.perspective_combine %h, %w : tensor<?x4x16xf32>, tensor<4x16xf32> -> tensor<?x4xf32>
  return %a : tensor<?x4xf32>
}

// The mix: one generic over (t, n, p), p a reduction into zeros.
// CHECK-LABEL: func.func @mix
// CHECK-SAME: (%[[X:.*]]: tensor<3x4x50xf32>, %[[AA:.*]]: tensor<3x4xf32>)
// CHECK: %[[ZERO:.*]] = linalg.fill
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[IN]], #[[AL]], #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[AA]] : tensor<3x4x50xf32>, tensor<3x4xf32>) outs(%[[ZERO]] : tensor<3x50xf32>)
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: return %[[R]] : tensor<3x50xf32>
func.func @mix(%x: tensor<3x4x50xf32>, %a: tensor<3x4xf32>) -> tensor<3x50xf32> {
  %m = seq.perspective_mix %x, %a : tensor<3x4x50xf32>, tensor<3x4xf32> -> tensor<3x50xf32>
  return %m : tensor<3x50xf32>
}
