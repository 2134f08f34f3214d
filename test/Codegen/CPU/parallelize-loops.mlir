// RUN: seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-parallelize-loops))" | FileCheck %s

// A loop marked seq.parallel (independent iterations, e.g. attention over
// KV heads) becomes an scf.parallel with the same body; other loops stay.
// CHECK-LABEL: func.func @heads
// CHECK: scf.parallel (%[[H:.*]]) = (%c0) to (%c4) step (%c1) {
// CHECK:   memref.store %{{.*}}, %{{.*}}[%[[H]]] : memref<4xf32>
// CHECK:   scf.reduce
// CHECK: scf.for
// CHECK-NOT: seq.parallel
func.func @heads(%m: memref<4xf32>, %x: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %h = %c0 to %c4 step %c1 {
    memref.store %x, %m[%h] : memref<4xf32>
  } {seq.parallel}
  scf.for %h = %c0 to %c4 step %c1 {
    memref.store %x, %m[%h] : memref<4xf32>
  }
  return
}
