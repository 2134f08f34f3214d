// RUN: seqc-opt %s --convert-seq-to-linalg -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @token_shift_dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[P:.*]]: tensor<8xf32>)
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x8xf32>
// CHECK: %[[LAST:.*]] = arith.subi %[[T]], %{{.*}} : index
// CHECK: %[[E:.*]] = tensor.empty(%[[T]]) : tensor<?x8xf32>
// CHECK: %[[WP:.*]] = tensor.insert_slice %[[P]] into %[[E]][0, 0] [1, 8] [1, 1] : tensor<8xf32> into tensor<?x8xf32>
// CHECK: %[[HEAD:.*]] = tensor.extract_slice %[[X]][0, 0] [%[[LAST]], 8] [1, 1] : tensor<?x8xf32> to tensor<?x8xf32>
// CHECK: %[[S:.*]] = tensor.insert_slice %[[HEAD]] into %[[WP]][1, 0] [%[[LAST]], 8] [1, 1] : tensor<?x8xf32> into tensor<?x8xf32>
// CHECK: %[[L:.*]] = tensor.extract_slice %[[X]][%[[LAST]], 0] [1, 8] [1, 1] : tensor<?x8xf32> to tensor<8xf32>
// CHECK: return %[[S]], %[[L]]
// CHECK-NOT: seq.token_shift
func.func @token_shift_dynamic(%x: tensor<?x8xf32>, %p: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>) {
  %0, %1 = seq.token_shift %x, %p : tensor<?x8xf32>, tensor<8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @token_shift_static
// CHECK: tensor.empty() : tensor<4x8xf16>
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [3, 8] [1, 1] : tensor<4x8xf16> to tensor<3x8xf16>
// CHECK: tensor.insert_slice %{{.*}}[1, 0] [3, 8] [1, 1] : tensor<3x8xf16> into tensor<4x8xf16>
// CHECK: tensor.extract_slice %{{.*}}[3, 0] [1, 8] [1, 1] : tensor<4x8xf16> to tensor<8xf16>
func.func @token_shift_static(%x: tensor<4x8xf16>, %p: tensor<8xf16>) -> (tensor<4x8xf16>, tensor<8xf16>) {
  %0, %1 = seq.token_shift %x, %p : tensor<4x8xf16>, tensor<8xf16>
  return %0, %1 : tensor<4x8xf16>, tensor<8xf16>
}

// -----

// Ops without a lowering yet are left in place.
// CHECK-LABEL: func.func @not_lowered
// CHECK: seq.heaviside
func.func @not_lowered(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = seq.heaviside %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// One static token: the shifted sequence is just the carried token.
// CHECK-LABEL: func.func @token_shift_one
// CHECK-SAME: (%[[X:.*]]: tensor<1x8xf32>, %[[P:.*]]: tensor<8xf32>)
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x8xf32>
// CHECK: %[[S:.*]] = tensor.insert_slice %[[P]] into %[[E]][0, 0] [1, 8] [1, 1]
// CHECK-NOT: tensor.insert_slice
// CHECK: %[[L:.*]] = tensor.extract_slice %[[X]][0, 0] [1, 8] [1, 1]
// CHECK: return %[[S]], %[[L]]
func.func @token_shift_one(%x: tensor<1x8xf32>, %p: tensor<8xf32>) -> (tensor<1x8xf32>, tensor<8xf32>) {
  %s, %l = seq.token_shift %x, %p : tensor<1x8xf32>, tensor<8xf32>
  return %s, %l : tensor<1x8xf32>, tensor<8xf32>
}
