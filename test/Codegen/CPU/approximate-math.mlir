// RUN: seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-approximate-math))" | FileCheck %s

// f32 exp and tanh, scalar or vector, become arithmetic (no math call left
// for the LLVM lowering to turn into expf or tanhf); other math ops and
// other element types are left alone.
// CHECK-LABEL: func.func @approximated
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: arith.mulf
// CHECK: return
func.func @approximated(%x: f32, %v: vector<16xf32>) -> (f32, vector<16xf32>, f32) {
  %e = math.exp %x : f32
  %t = math.tanh %v : vector<16xf32>
  %s = math.tanh %e : f32
  return %e, %t, %s : f32, vector<16xf32>, f32
}

// CHECK-LABEL: func.func @left_alone
// CHECK: math.exp %{{.*}} : f64
// CHECK: math.log %{{.*}} : f32
// CHECK: math.sqrt %{{.*}} : f32
func.func @left_alone(%x: f64, %y: f32) -> (f64, f32, f32) {
  %e = math.exp %x : f64
  %l = math.log %y : f32
  %r = math.sqrt %y : f32
  return %e, %l, %r : f64, f32, f32
}
