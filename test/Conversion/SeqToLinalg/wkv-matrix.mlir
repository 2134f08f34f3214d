// RUN: seqc-opt %s --convert-seq-to-linalg --split-input-file | FileCheck %s

// RWKV-5 over several tokens: the heads are independent recurrences, so an
// scf.for over heads (marked seq.parallel: seq-parallelize-loops makes it a
// task per head) runs one scf.for over the tokens per head, carrying the
// output and that head's [1, N, N] state slice. A token's r, k, v rows are
// the head's [1, N] slices; the output is a reduction over the key channel
// i (loops h, i, j), the new state an elementwise update
// w[h,i] * S + k[h,i] * v[h,j] written in place into the carried state (its
// output operand), so bufferization keeps one buffer.
// CHECK-LABEL: func.func @wkv5
// CHECK-SAME: (%[[R:.*]]: tensor<?x8xf32>, %[[K:.*]]: tensor<?x8xf32>, %[[V:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<2x4xf32>, %[[U:.*]]: tensor<2x4xf32>, %[[S:.*]]: tensor<2x4x4xf32>)
// CHECK: %[[T:.*]] = tensor.dim %[[R]]
// CHECK: %[[HL:.*]]:2 = scf.for %[[H:.*]] = %{{.*}} to %c2 step %{{.*}} iter_args(%[[Y0:.*]] = %{{.*}}, %[[S0:.*]] = %[[S]])
// CHECK: %[[SH:.*]] = tensor.extract_slice %[[S0]][%[[H]], 0, 0] [1, 4, 4] [1, 1, 1] : tensor<2x4x4xf32> to tensor<1x4x4xf32>
// CHECK: %[[L:.*]]:2 = scf.for %[[I:.*]] = %{{.*}} to %[[T]] step %{{.*}} iter_args(%[[Y:.*]] = %[[Y0]], %[[ST:.*]] = %[[SH]])
// CHECK: tensor.extract_slice %[[R]][%[[I]], %{{.*}}] [1, 4] [1, 1] : tensor<?x8xf32> to tensor<1x4xf32>
// CHECK: tensor.extract_slice %[[U]][%[[H]], 0] [1, 4] [1, 1] : tensor<2x4xf32> to tensor<1x4xf32>
// CHECK: %[[OUT:.*]] = linalg.generic {indexing_maps = [#[[HI:.*]], #[[HI]], #[[HJ:.*]], #[[HI]], #[[HIJ:.*]], #[[HJ]]], iterator_types = ["parallel", "reduction", "parallel"]} ins({{.*}}, %[[ST]] :
// CHECK: %[[NEXT:.*]] = linalg.generic {indexing_maps = [#[[HI]], #[[HI]], #[[HJ]], #[[HIJ]]], iterator_types = ["parallel", "parallel", "parallel"]} ins({{.*}}) outs(%[[ST]] : tensor<1x4x4xf32>)
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[OUT]] {{\[\[}}0, 1]] : tensor<1x4xf32> into tensor<4xf32>
// CHECK: %[[INS:.*]] = tensor.insert_slice %[[FLAT]] into %[[Y]][%[[I]], %{{.*}}] [1, 4] [1, 1]
// CHECK: scf.yield %[[INS]], %[[NEXT]]
// CHECK: %[[BACK:.*]] = tensor.insert_slice %[[L]]#1 into %[[S0]][%[[H]], 0, 0] [1, 4, 4] [1, 1, 1]
// CHECK: scf.yield %[[L]]#0, %[[BACK]]
// CHECK: } {seq.parallel}
// CHECK: return %[[HL]]#0, %[[HL]]#1
// CHECK-NOT: seq.wkv5
func.func @wkv5(%r: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %w: tensor<2x4xf32>, %u: tensor<2x4xf32>, %s: tensor<2x4x4xf32>) -> (tensor<?x8xf32>, tensor<2x4x4xf32>) {
  %y, %s1 = seq.wkv5 %r, %k, %v, %w, %u, %s : tensor<?x8xf32>, tensor<2x4xf32>, tensor<2x4x4xf32>
  return %y, %s1 : tensor<?x8xf32>, tensor<2x4x4xf32>
}

// -----

// RWKV-6: the decay is a [T, C] input whose row is taken per token; f16
// inputs are extended inside the bodies and the output truncated back.
// CHECK-LABEL: func.func @wkv6_f16
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<?x8xf16>, %{{[a-z0-9]+}}: tensor<?x8xf16>, %{{[a-z0-9]+}}: tensor<?x8xf16>, %[[W:[a-z0-9]+]]: tensor<?x8xf16>, %[[U:[a-z0-9]+]]: tensor<2x4xf16>
// CHECK: scf.for %[[H:.*]] = {{.*}} iter_args(
// CHECK: scf.for %[[I:.*]] = {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[ST:.*]] = %{{.*}})
// CHECK: %[[WT:.*]] = tensor.extract_slice %[[W]][%[[I]], %{{.*}}] [1, 4]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[WT]], {{.*}}) outs(%[[ST]] :
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK-NOT: seq.wkv6
func.func @wkv6_f16(%r: tensor<?x8xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %w: tensor<?x8xf16>, %u: tensor<2x4xf16>, %s: tensor<2x4x4xf32>) -> (tensor<?x8xf16>, tensor<2x4x4xf32>) {
  %y, %s1 = seq.wkv6 %r, %k, %v, %w, %u, %s : tensor<?x8xf16>, tensor<2x4xf16>, tensor<2x4x4xf32>
  return %y, %s1 : tensor<?x8xf16>, tensor<2x4x4xf32>
}

// -----

// RWKV-7: sa = S·a (reduction over the key channel j), the delta-rule state
// update in place, then y = S'·r (reduction over j) on the new state.
// CHECK-LABEL: func.func @wkv7
// CHECK: scf.for {{.*}} iter_args(
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[ST:.*]] = %{{.*}})
// CHECK: %[[SA:.*]] = linalg.generic {indexing_maps = [#[[HIJ:.*]], #[[HJ:.*]], #[[HI:.*]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ST]], %{{.*}} :
// CHECK: %[[NEXT:.*]] = linalg.generic {indexing_maps = [#[[HJ]], #[[HI]], #[[HJ]], #[[HI]], #[[HJ]], #[[HIJ]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}}, %[[SA]], {{.*}}) outs(%[[ST]] :
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[HIJ]], #[[HJ]], #[[HI]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[NEXT]], %{{.*}} :
// CHECK: scf.yield %{{.*}}, %[[NEXT]]
// CHECK-NOT: seq.wkv7
func.func @wkv7(%r: tensor<?x8xf32>, %w: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<2x4x4xf32>) -> (tensor<?x8xf32>, tensor<2x4x4xf32>) {
  %y, %s1 = seq.wkv7 %r, %w, %k, %v, %a, %b, %s : tensor<?x8xf32>, tensor<2x4x4xf32>
  return %y, %s1 : tensor<?x8xf32>, tensor<2x4x4xf32>
}

// -----

// One token (decode): no loop over heads; the token loop works on [H, N]
// rows and the whole [H, N, N] state.
// CHECK-LABEL: func.func @wkv7_step
// CHECK-NOT: seq.parallel
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[ST:.*]] = %{{.*}}) -> (tensor<1x8xf32>, tensor<2x4x4xf32>)
// CHECK: tensor.expand_shape %{{.*}} output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: linalg.generic {{.*}} outs(%[[ST]] : tensor<2x4x4xf32>)
// CHECK-NOT: seq.parallel
func.func @wkv7_step(%r: tensor<1x8xf32>, %w: tensor<1x8xf32>, %k: tensor<1x8xf32>, %v: tensor<1x8xf32>, %a: tensor<1x8xf32>, %b: tensor<1x8xf32>, %s: tensor<2x4x4xf32>) -> (tensor<1x8xf32>, tensor<2x4x4xf32>) {
  %y, %s1 = seq.wkv7 %r, %w, %k, %v, %a, %b, %s : tensor<1x8xf32>, tensor<2x4x4xf32>
  return %y, %s1 : tensor<1x8xf32>, tensor<2x4x4xf32>
}
