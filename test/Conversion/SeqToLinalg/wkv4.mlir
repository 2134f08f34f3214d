// RUN: seqc-opt %s --convert-seq-to-linalg | FileCheck %s

// One scf.for over the tokens carries the output and the three state rows;
// each step is one elementwise linalg.generic computing in f32.
// CHECK-LABEL: func.func @wkv4_f16
// CHECK-SAME: (%[[K:.*]]: tensor<?x8xf16>, %[[V:.*]]: tensor<?x8xf16>, %[[W:.*]]: tensor<8xf16>, %[[U:.*]]: tensor<8xf16>, %[[S:.*]]: tensor<3x8xf32>)
// CHECK: %[[T:.*]] = tensor.dim %[[K]]
// CHECK: %[[AA:.*]] = tensor.extract_slice %[[S]][0, 0] [1, 8] [1, 1] : tensor<3x8xf32> to tensor<8xf32>
// CHECK: %[[BB:.*]] = tensor.extract_slice %[[S]][1, 0]
// CHECK: %[[PP:.*]] = tensor.extract_slice %[[S]][2, 0]
// CHECK: %[[R:.*]]:4 = scf.for %[[I:.*]] = %{{.*}} to %[[T]] step %{{.*}} iter_args(%[[Y:.*]] = %{{.*}}, %{{.*}} = %[[AA]], %{{.*}} = %[[BB]], %{{.*}} = %[[PP]])
// CHECK:   %[[KT:.*]] = tensor.extract_slice %[[K]][%[[I]], 0] [1, 8] [1, 1] : tensor<?x8xf16> to tensor<8xf16>
// CHECK:   %[[G:.*]]:4 = linalg.generic {{.*}} iterator_types = ["parallel"]} ins(%[[KT]], %{{.*}}, %[[W]], %[[U]] : tensor<8xf16>, tensor<8xf16>, tensor<8xf16>, tensor<8xf16>)
// CHECK:     arith.extf
// CHECK:     arith.maximumf
// CHECK:     math.exp
// CHECK:     arith.divf
// CHECK:     arith.truncf {{.*}} : f32 to f16
// CHECK:     linalg.yield
// CHECK:   tensor.insert_slice %[[G]]#0 into %[[Y]][%[[I]], 0] [1, 8] [1, 1]
// CHECK:   scf.yield
// CHECK: tensor.insert_slice %[[R]]#1 into %{{.*}}[0, 0] [1, 8]
// CHECK: tensor.insert_slice %[[R]]#2 into %{{.*}}[1, 0] [1, 8]
// CHECK: tensor.insert_slice %[[R]]#3 into %{{.*}}[2, 0] [1, 8]
// CHECK-NOT: seq.wkv4
func.func @wkv4_f16(%k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %w: tensor<8xf16>, %u: tensor<8xf16>, %s: tensor<3x8xf32>) -> (tensor<?x8xf16>, tensor<3x8xf32>) {
  %y, %s1 = seq.wkv4 %k, %v, %w, %u, %s : tensor<?x8xf16>, tensor<8xf16>, tensor<3x8xf32>
  return %y, %s1 : tensor<?x8xf16>, tensor<3x8xf32>
}
