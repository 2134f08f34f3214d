// RUN: seqc-opt %s --seq-perspective-head-once -split-input-file | FileCheck %s
// RUN: seqc-opt %s --seq-perspective-head-once --convert-seq-to-linalg -split-input-file | FileCheck %s --check-prefix=LOWERED

// The head of a model with P = 4 perspectives: the [T, P, C] hidden states
// projected to [T, P, V] by an int8 matrix (contraction, then the per-row
// scales), then mixed by alpha. The mix moves before both generics: one
// [T, C] x [C, V] projection of sum_p alpha_p h_p, then the scales.
#tpnk_h = affine_map<(t, p, n, k) -> (t, p, k)>
#tpnk_w = affine_map<(t, p, n, k) -> (n, k)>
#tpnk_o = affine_map<(t, p, n, k) -> (t, p, n)>
#tpn = affine_map<(t, p, n) -> (t, p, n)>
#tpn_s = affine_map<(t, p, n) -> (n)>
// CHECK-LABEL: func.func @head_int8
// CHECK-SAME: (%[[H:.*]]: tensor<?x4x16xf32>, %[[W:.*]]: tensor<50x16xi8>, %[[S:.*]]: tensor<50xf32>, %[[WC:.*]]: tensor<4x16xf32>)
// CHECK: %[[A:.*]] = seq.perspective_combine %[[H]], %[[WC]]
// CHECK: %[[M:.*]] = seq.perspective_mix %[[H]], %[[A]] : tensor<?x4x16xf32>, tensor<?x4xf32> -> tensor<?x16xf32>
// CHECK: %[[Z:.*]] = linalg.fill {{.*}} -> tensor<?x50xf32>
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[MH:.*]], #[[MW:.*]], #[[MO:.*]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[M]], %[[W]] : tensor<?x16xf32>, tensor<50x16xi8>) outs(%[[Z]] : tensor<?x50xf32>) attrs = {{.*}}seq.parallel
// CHECK: arith.sitofp
// CHECK: %[[R:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[Y]], %[[S]] : tensor<?x50xf32>, tensor<50xf32>)
// CHECK-NOT: seq.perspective_mix
// CHECK: return %[[R]] : tensor<?x50xf32>
// LOWERED-LABEL: func.func @head_int8
// LOWERED-NOT: seq.perspective
// LOWERED: return
func.func @head_int8(%h: tensor<?x4x16xf32>, %w: tensor<50x16xi8>, %s: tensor<50xf32>, %wc: tensor<4x16xf32>) -> tensor<?x50xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %h, %c0 : tensor<?x4x16xf32>
  %zero = arith.constant 0.0 : f32
  %alpha = seq.perspective_combine %h, %wc : tensor<?x4x16xf32>, tensor<4x16xf32> -> tensor<?x4xf32>
  %e = tensor.empty(%t) : tensor<?x4x50xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4x50xf32>) -> tensor<?x4x50xf32>
  %y = linalg.generic {indexing_maps = [#tpnk_h, #tpnk_w, #tpnk_o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %w : tensor<?x4x16xf32>, tensor<50x16xi8>) outs(%z : tensor<?x4x50xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %bf = arith.sitofp %b : i8 to f32
    %m = arith.mulf %a, %bf : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x50xf32>
  %e2 = tensor.empty(%t) : tensor<?x4x50xf32>
  %ys = linalg.generic {indexing_maps = [#tpn, #tpn_s, #tpn], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y, %s : tensor<?x4x50xf32>, tensor<50xf32>) outs(%e2 : tensor<?x4x50xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x4x50xf32>
  %l = seq.perspective_mix %ys, %alpha : tensor<?x4x50xf32>, tensor<?x4xf32> -> tensor<?x50xf32>
  return %l : tensor<?x50xf32>
}

// -----

// Not linear in the hidden states (the product is squared): left alone.
#tpnk_h = affine_map<(t, p, n, k) -> (t, p, k)>
#tpnk_w = affine_map<(t, p, n, k) -> (n, k)>
#tpnk_o = affine_map<(t, p, n, k) -> (t, p, n)>
// CHECK-LABEL: func.func @not_linear
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x4x16xf32>, tensor<50x16xf32>)
// CHECK: seq.perspective_mix %{{.*}}, %{{.*}} : tensor<2x4x50xf32>
func.func @not_linear(%h: tensor<2x4x16xf32>, %w: tensor<50x16xf32>, %alpha: tensor<2x4xf32>) -> tensor<2x50xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x50xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x50xf32>) -> tensor<2x4x50xf32>
  %y = linalg.generic {indexing_maps = [#tpnk_h, #tpnk_w, #tpnk_o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %w : tensor<2x4x16xf32>, tensor<50x16xf32>) outs(%z : tensor<2x4x50xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %a : f32
    %m2 = arith.mulf %m, %b : f32
    %r = arith.addf %acc, %m2 : f32
    linalg.yield %r : f32
  } -> tensor<2x4x50xf32>
  %l = seq.perspective_mix %y, %alpha : tensor<2x4x50xf32>, tensor<2x4xf32> -> tensor<2x50xf32>
  return %l : tensor<2x50xf32>
}

// -----

// The output starts at 1, not 0: affine, not linear (sum_p alpha_p (1 + y_p)
// is not 1 + y of the mix unless alpha sums to exactly 1), left alone.
#tpnk_h = affine_map<(t, p, n, k) -> (t, p, k)>
#tpnk_w = affine_map<(t, p, n, k) -> (n, k)>
#tpnk_o = affine_map<(t, p, n, k) -> (t, p, n)>
// CHECK-LABEL: func.func @nonzero_init
// CHECK: seq.perspective_mix %{{.*}}, %{{.*}} : tensor<2x4x50xf32>
func.func @nonzero_init(%h: tensor<2x4x16xf32>, %w: tensor<50x16xf32>, %alpha: tensor<2x4xf32>) -> tensor<2x50xf32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x4x50xf32>
  %z = linalg.fill ins(%one : f32) outs(%e : tensor<2x4x50xf32>) -> tensor<2x4x50xf32>
  %y = linalg.generic {indexing_maps = [#tpnk_h, #tpnk_w, #tpnk_o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %w : tensor<2x4x16xf32>, tensor<50x16xf32>) outs(%z : tensor<2x4x50xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x4x50xf32>
  %l = seq.perspective_mix %y, %alpha : tensor<2x4x50xf32>, tensor<2x4xf32> -> tensor<2x50xf32>
  return %l : tensor<2x50xf32>
}

// -----

// The weight depends on the perspective (indexed by p): not one shared
// head, left alone.
#tpnk_h = affine_map<(t, p, n, k) -> (t, p, k)>
#tpnk_w = affine_map<(t, p, n, k) -> (p, n, k)>
#tpnk_o = affine_map<(t, p, n, k) -> (t, p, n)>
// CHECK-LABEL: func.func @per_perspective_weight
// CHECK: seq.perspective_mix %{{.*}}, %{{.*}} : tensor<2x4x50xf32>
func.func @per_perspective_weight(%h: tensor<2x4x16xf32>, %w: tensor<4x50x16xf32>, %alpha: tensor<2x4xf32>) -> tensor<2x50xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x50xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x50xf32>) -> tensor<2x4x50xf32>
  %y = linalg.generic {indexing_maps = [#tpnk_h, #tpnk_w, #tpnk_o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %w : tensor<2x4x16xf32>, tensor<4x50x16xf32>) outs(%z : tensor<2x4x50xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x4x50xf32>
  %l = seq.perspective_mix %y, %alpha : tensor<2x4x50xf32>, tensor<2x4xf32> -> tensor<2x50xf32>
  return %l : tensor<2x50xf32>
}
