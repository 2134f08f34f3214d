// A transform whose result is materialized into a caller's strided buffer
// (every other column of a 2x32 buffer): eliminate-empty-tensors makes the
// lowering write there directly, and its vector writes are lowered to
// loops where the innermost stride is not 1. The rotated rows of ones are
// [4, 0, ...] (normalized order 16); the columns in between keep their -1.
// RUN: seqc-opt %s --seq-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_libs | FileCheck %s
// CHECK: [4,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1,   0,   -1],
// CHECK-NEXT: [4,   -1,   0,   -1,   0,

func.func private @printMemrefF32(memref<*xf32>)

func.func @rotate(%xm: memref<2x16xf32>, %ym: memref<2x16xf32, strided<[32, 2]>>) {
  %x = bufferization.to_tensor %xm restrict : memref<2x16xf32> to tensor<2x16xf32>
  %y = seq.hadamard %x : tensor<2x16xf32>
  bufferization.materialize_in_destination %y in restrict writable %ym : (tensor<2x16xf32>, memref<2x16xf32, strided<[32, 2]>>) -> ()
  return
}

func.func @main() {
  %one = arith.constant 1.0 : f32
  %minus = arith.constant -1.0 : f32
  %x = memref.alloc() : memref<2x16xf32>
  linalg.fill ins(%one : f32) outs(%x : memref<2x16xf32>)
  %buf = memref.alloc() : memref<2x32xf32>
  linalg.fill ins(%minus : f32) outs(%buf : memref<2x32xf32>)
  %y = memref.subview %buf[0, 0] [2, 16] [1, 2] : memref<2x32xf32> to memref<2x16xf32, strided<[32, 2]>>
  call @rotate(%x, %y) : (memref<2x16xf32>, memref<2x16xf32, strided<[32, 2]>>) -> ()
  %u = memref.cast %buf : memref<2x32xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}
