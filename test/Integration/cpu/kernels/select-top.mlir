// seq.select_top compiled for the CPU (seq-cpu-pipeline, mlir-runner): the
// positions of the k largest scores in ascending order, equal scores taken
// earliest first (0.5 at 0, 2 and 6; -0 equal to +0), negative scores, k
// above the count (every index) and k = 0 (none).
// RUN: seqc-opt %s --seq-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_libs | FileCheck %s

func.func private @printMemrefI64(memref<*xi64>)

func.func @top(%s: tensor<?xf32>, %k: index) {
  %i = seq.select_top %s, %k : tensor<?xf32> -> tensor<?xindex>
  %w = arith.index_cast %i : tensor<?xindex> to tensor<?xi64>
  %b = bufferization.to_buffer %w : tensor<?xi64> to memref<?xi64>
  %u = memref.cast %b : memref<?xi64> to memref<*xi64>
  call @printMemrefI64(%u) : (memref<*xi64>) -> ()
  return
}

func.func @main() {
  %c = arith.constant dense<[0.5, -1.0, 0.5, 2.0, -0.0, 0.0, 0.5, -3.0, 2.0, 1.0]> : tensor<10xf32>
  %s = tensor.cast %c : tensor<10xf32> to tensor<?xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c5 = arith.constant 5 : index
  %c7 = arith.constant 7 : index
  %c9 = arith.constant 9 : index
  %c12 = arith.constant 12 : index
  // CHECK: [3]
  call @top(%s, %c1) : (tensor<?xf32>, index) -> ()
  // CHECK: [0,  2,  3,  8,  9]
  call @top(%s, %c5) : (tensor<?xf32>, index) -> ()
  // CHECK: [0,  2,  3,  4,  6,  8,  9]
  call @top(%s, %c7) : (tensor<?xf32>, index) -> ()
  // CHECK: [0,  1,  2,  3,  4,  5,  6,  8,  9]
  call @top(%s, %c9) : (tensor<?xf32>, index) -> ()
  // CHECK: [0,  1,  2,  3,  4,  5,  6,  7,  8,  9]
  call @top(%s, %c12) : (tensor<?xf32>, index) -> ()
  // (The runner prints an element of an empty memref: the size is what counts.)
  // CHECK: sizes = [0]
  call @top(%s, %c0) : (tensor<?xf32>, index) -> ()
  return
}
