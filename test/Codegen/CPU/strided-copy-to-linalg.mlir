// RUN: seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-strided-copy-to-linalg))" | FileCheck %s

// A copy from or into a strided view becomes linalg.copy (loops later, not
// a call to the runner utilities' memrefCopy); a copy between identity
// layouts stays (it becomes llvm.memcpy).
// CHECK-LABEL: func.func @strided_source
// CHECK-SAME: (%[[A:.*]]: memref<32xf32, strided<[1], offset: 32>>, %[[B:.*]]: memref<32xf32>)
// CHECK: linalg.copy ins(%[[A]] : memref<32xf32, strided<[1], offset: 32>>) outs(%[[B]] : memref<32xf32>)
// CHECK-NOT: memref.copy
func.func @strided_source(%a: memref<32xf32, strided<[1], offset: 32>>,
                          %b: memref<32xf32>) {
  memref.copy %a, %b : memref<32xf32, strided<[1], offset: 32>> to memref<32xf32>
  return
}

// CHECK-LABEL: func.func @strided_target
// CHECK: linalg.copy ins(%{{.*}} : memref<4xf32>) outs(%{{.*}} : memref<4xf32, strided<[2]>>)
func.func @strided_target(%a: memref<4xf32>, %b: memref<4xf32, strided<[2]>>) {
  memref.copy %a, %b : memref<4xf32> to memref<4xf32, strided<[2]>>
  return
}

// CHECK-LABEL: func.func @identity
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<4xf32> to memref<4xf32>
// CHECK-NOT: linalg.copy
func.func @identity(%a: memref<4xf32>, %b: memref<4xf32>) {
  memref.copy %a, %b : memref<4xf32> to memref<4xf32>
  return
}
