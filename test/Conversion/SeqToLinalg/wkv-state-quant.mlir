// RUN: seqc-opt %s --convert-seq-to-linalg --split-input-file | FileCheck %s

// RWKV-4 with its state kept quantized: the words [p (64) | codes (16) |
// scales (2)] are taken apart once (the code words reinterpreted as bytes;
// 8-bit codes are their own bytes, so no shifts pack or unpack them);
// the token loop carries the packed codes, the scales and p, dequantizes a
// before each step (the mean form: one log per channel), and quantizes the
// new a into the carried codes and scales (in place, so that bufferization
// keeps one buffer); the words are put back together after the loop.
// CHECK-LABEL: func.func @wkv4_int8
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<82xf32>)
// CHECK: %[[P:.*]] = tensor.extract_slice %[[S]][0] [64] [1] : tensor<82xf32> to tensor<64xf32>
// CHECK: %[[CW:.*]] = tensor.extract_slice %[[S]][64] [16] [1] : tensor<82xf32> to tensor<16xf32>
// CHECK: linalg.generic {{.*}} ins(%[[CW]] : tensor<16xf32>) outs(%{{.*}} : tensor<16x4xi8>)
// CHECK:   arith.bitcast %{{.*}} : f32 to i32
// CHECK:   arith.trunci %{{.*}} : i32 to i8
// CHECK: %[[SC:.*]] = tensor.extract_slice %[[S]][80] [2] [1] : tensor<82xf32> to tensor<2xf32>
// CHECK: %[[L:.*]]:4 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[C:.*]] = %{{.*}}, %[[G:.*]] = %{{.*}}, %[[PP:.*]] = %[[P]]) -> (tensor<?x64xf32>, tensor<64xi8>, tensor<2xf32>, tensor<64xf32>)
// CHECK:   tensor.expand_shape %[[C]]
// CHECK:   %[[A:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[G]] : tensor<2x32xi8>, tensor<2xf32>)
// CHECK:     arith.sitofp
// CHECK:     arith.mulf
// CHECK:   %[[A1:.*]] = tensor.collapse_shape %[[A]]
// CHECK:   %[[STEP:.*]]:3 = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[A1]] : {{.*}}) outs(%{{.*}}, %{{.*}}, %[[PP]] : {{.*}})
// CHECK:     math.exp
// CHECK:     math.log
// CHECK:   tensor.expand_shape %[[STEP]]#1 {{.*}} into tensor<2x32xf32>
// CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:     arith.maximumf
// CHECK:   %[[NS:.*]] = linalg.generic {{.*}} outs(%[[G]] : tensor<2xf32>)
// CHECK:   linalg.generic
// CHECK:     math.round
// CHECK:     arith.fptoui
// CHECK:   linalg.copy ins(%{{.*}} : tensor<64xi8>) outs(%[[C]] : tensor<64xi8>)
// CHECK:   scf.yield %{{.*}}, %{{.*}}, %[[NS]], %[[STEP]]#2
// CHECK: tensor.collapse_shape %[[L]]#1
// CHECK: linalg.generic
// CHECK:   arith.shli
// CHECK:   arith.ori
// CHECK: linalg.generic
// CHECK:   arith.bitcast %{{.*}} : i32 to f32
// CHECK: tensor.insert_slice %[[L]]#3 into %{{.*}}[0] [64] [1] : tensor<64xf32> into tensor<82xf32>
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[64] [16] [1] : tensor<16xf32> into tensor<82xf32>
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[80] [2] [1] : tensor<2xf32> into tensor<82xf32>
// CHECK-NOT: seq.wkv4
func.func @wkv4_int8(%k: tensor<?x64xf32>, %v: tensor<?x64xf32>, %w: tensor<64xf32>, %u: tensor<64xf32>, %s: tensor<82xf32>) -> (tensor<?x64xf32>, tensor<82xf32>) {
  %y, %s1 = seq.wkv4 %k, %v, %w, %u, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 0, symmetric>} : tensor<?x64xf32>, tensor<64xf32>, tensor<82xf32>
  return %y, %s1 : tensor<?x64xf32>, tensor<82xf32>
}

// -----

// RWKV-5, two heads of 32, 4-bit codes: each head's words are [codes (32
// rows of 16 bytes = 128 words) | scales (32 x 1)]. Over several tokens the
// heads' loop (a task per head) slices the codes and the scales of its head.
// CHECK-LABEL: func.func @wkv5_int4
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<2x160xf32>)
// CHECK: tensor.extract_slice %[[S]][0, 0] [2, 128] [1, 1] : tensor<2x160xf32> to tensor<2x128xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [2, 32, 16] : tensor<2x512xi8> into tensor<2x32x16xi8>
// CHECK: tensor.extract_slice %[[S]][0, 128] [2, 32] [1, 1] : tensor<2x160xf32> to tensor<2x32xf32>
// CHECK: tensor.expand_shape %{{.*}} into tensor<2x32x1xf32>
// CHECK: scf.for {{.*}} -> (tensor<?x64xf32>, tensor<2x32x16xi8>, tensor<2x32x1xf32>)
// CHECK:   tensor.extract_slice %{{.*}} : tensor<2x32x16xi8> to tensor<1x32x16xi8>
// CHECK:   tensor.extract_slice %{{.*}} : tensor<2x32x1xf32> to tensor<1x32x1xf32>
// CHECK:   scf.for {{.*}} -> (tensor<?x64xf32>, tensor<1x32x16xi8>, tensor<1x32x1xf32>)
// CHECK:     arith.sitofp
// CHECK:     math.round
// CHECK: } {seq.parallel}
// CHECK-NOT: seq.wkv5
func.func @wkv5_int4(%r: tensor<?x64xf32>, %w: tensor<2x32xf32>, %s: tensor<2x160xf32>) -> (tensor<?x64xf32>, tensor<2x160xf32>) {
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s {state_quant = #seq.quant<bits = 4, group = 32, axis = 2, symmetric>} : tensor<?x64xf32>, tensor<2x32xf32>, tensor<2x160xf32>
  return %y, %s1 : tensor<?x64xf32>, tensor<2x160xf32>
}
