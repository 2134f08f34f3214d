// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-group-products{min-decode-elements=2048}))" | FileCheck %s

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
#id = affine_map<(t, n) -> (t, n)>

// A LoRA down-projection %d (32 rows) feeds tanh and its up-projection %u
// (64 rows); %a and %b (64 rows) need only the input. %a is delayed until
// the end, where %a, %u and %b are placed together, and %d with its tanh
// first. Every op keeps its operands before it.
// CHECK-LABEL: func.func @lora
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%arg0, %arg2 : tensor<1x256xf32>, tensor<32x256xf32>)
// CHECK-NEXT: ^bb0
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%[[D]] : tensor<1x32xf32>)
// CHECK: math.tanh
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<1x256xf32>, tensor<64x256xf32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[U:.*]] = linalg.generic {{.*}} ins(%[[T]], %arg3 : tensor<1x32xf32>, tensor<64x32xf32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%arg0, %arg4 : tensor<1x256xf32>, tensor<64x256xf32>)
// CHECK: return %[[A]], %[[U]], %[[B]]
func.func @lora(%x: tensor<1x256xf32>, %wa: tensor<64x256xf32>, %wd: tensor<32x256xf32>, %wu: tensor<64x32xf32>, %wb: tensor<64x256xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>) {
  %c0 = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<1x64xf32>
  %f0 = linalg.fill ins(%c0 : f32) outs(%e0 : tensor<1x64xf32>) -> tensor<1x64xf32>
  %a = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wa : tensor<1x256xf32>, tensor<64x256xf32>) outs(%f0 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  %e1 = tensor.empty() : tensor<1x32xf32>
  %f1 = linalg.fill ins(%c0 : f32) outs(%e1 : tensor<1x32xf32>) -> tensor<1x32xf32>
  %d = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wd : tensor<1x256xf32>, tensor<32x256xf32>) outs(%f1 : tensor<1x32xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x32xf32>
  %e2 = tensor.empty() : tensor<1x32xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<1x32xf32>) outs(%e2 : tensor<1x32xf32>) {
  ^bb0(%i: f32, %o: f32):
    %h = math.tanh %i : f32
    linalg.yield %h : f32
  } -> tensor<1x32xf32>
  %e3 = tensor.empty() : tensor<1x64xf32>
  %f3 = linalg.fill ins(%c0 : f32) outs(%e3 : tensor<1x64xf32>) -> tensor<1x64xf32>
  %u = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%t, %wu : tensor<1x32xf32>, tensor<64x32xf32>) outs(%f3 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  %e4 = tensor.empty() : tensor<1x64xf32>
  %f4 = linalg.fill ins(%c0 : f32) outs(%e4 : tensor<1x64xf32>) -> tensor<1x64xf32>
  %b = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wb : tensor<1x256xf32>, tensor<64x256xf32>) outs(%f4 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  return %a, %u, %b : tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>

// %b reads %a's result: it stays after it, and the op that uses %a is not
// moved past %b. A product whose weight is under min-decode-elements (%s,
// 16 x 64) runs on one thread and stays where it is.
// CHECK-LABEL: func.func @chain
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[A]], %arg3
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%[[A]], %arg2
// CHECK: return %[[S]], %[[B]]
func.func @chain(%x: tensor<1x64xf32>, %wa: tensor<64x64xf32>, %wb: tensor<64x64xf32>, %ws: tensor<16x64xf32>) -> (tensor<1x16xf32>, tensor<1x64xf32>) {
  %c0 = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<1x64xf32>
  %f0 = linalg.fill ins(%c0 : f32) outs(%e0 : tensor<1x64xf32>) -> tensor<1x64xf32>
  %a = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wa : tensor<1x64xf32>, tensor<64x64xf32>) outs(%f0 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  %e1 = tensor.empty() : tensor<1x16xf32>
  %f1 = linalg.fill ins(%c0 : f32) outs(%e1 : tensor<1x16xf32>) -> tensor<1x16xf32>
  %s = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %ws : tensor<1x64xf32>, tensor<16x64xf32>) outs(%f1 : tensor<1x16xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %q = arith.addf %o, %p : f32
    linalg.yield %q : f32
  } -> tensor<1x16xf32>
  %e2 = tensor.empty() : tensor<1x64xf32>
  %f2 = linalg.fill ins(%c0 : f32) outs(%e2 : tensor<1x64xf32>) -> tensor<1x64xf32>
  %b = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %wb : tensor<1x64xf32>, tensor<64x64xf32>) outs(%f2 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %q = arith.addf %o, %p : f32
    linalg.yield %q : f32
  } -> tensor<1x64xf32>
  return %s, %b : tensor<1x16xf32>, tensor<1x64xf32>
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
#o = affine_map<(t, n) -> (t, n)>

// Only products marked seq.parallel are grouped: %a and %b move to the
// end, together; the unmarked product %u stays in order with a generic
// without inputs (%z), which is no product.
// CHECK-LABEL: func.func @unmarked
// CHECK: %[[U:.*]] = linalg.generic {{.*}} ins(%arg0, %arg2
// CHECK: %[[Z:.*]] = linalg.generic {{.*}} outs(
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1
// CHECK-NOT: linalg.generic
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%arg0, %arg3
// CHECK: return %[[A]], %[[U]], %[[Z]], %[[B]]
func.func @unmarked(%x: tensor<1x64xf32>, %wa: tensor<64x64xf32>, %wu: tensor<64x64xf32>, %wb: tensor<64x64xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>) {
  %c0 = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<1x64xf32>
  %f0 = linalg.fill ins(%c0 : f32) outs(%e0 : tensor<1x64xf32>) -> tensor<1x64xf32>
  %a = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wa : tensor<1x64xf32>, tensor<64x64xf32>) outs(%f0 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  %u = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : tensor<1x64xf32>, tensor<64x64xf32>) outs(%f0 : tensor<1x64xf32>) {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  %z = linalg.generic {indexing_maps = [#o], iterator_types = ["parallel", "parallel"]} outs(%e0 : tensor<1x64xf32>) {
  ^bb0(%o: f32):
    linalg.yield %c0 : f32
  } -> tensor<1x64xf32>
  %b = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wb : tensor<1x64xf32>, tensor<64x64xf32>) outs(%f0 : tensor<1x64xf32>) attrs = {seq.parallel} {
  ^bb0(%i: f32, %w: f32, %o: f32):
    %p = arith.mulf %i, %w : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  return %a, %u, %z, %b : tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>
}
