// RUN: seqc-opt %s --split-input-file --convert-seq-hadamard-to-loops | FileCheck %s

// A power-of-two block up to 256 channels is transformed in registers: one
// vector load per block (straight from the input when its last stride is 1,
// checked once; else through a scratch row), per stage (3 for order 8)
// shuffles of the a and b halves, addf / subf and an interleaving shuffle,
// the 1/sqrt(8) scale, one vector store into a fresh buffer.
// CHECK-LABEL: func.func @order8
// CHECK-DAG: %[[S:.*]] = arith.constant 0.353553385 : f32
// CHECK-DAG: %[[OUT:.*]] = memref.alloc() : memref<4x16xf32>
// CHECK-DAG: %{{.*}}, %{{.*}}, %{{.*}}:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata
// CHECK-DAG: %[[UNIT:.*]] = arith.cmpi eq, %[[STRIDES]]#1, %{{.*}} : index
// CHECK: scf.for %[[R:.*]] =
// CHECK:   scf.for %[[B:.*]] =
// CHECK:     %[[V:.*]] = scf.if %[[UNIT]] -> (vector<8xf32>) {
// CHECK:       memref.reinterpret_cast {{.*}} sizes: [8], strides: [1]
// CHECK:       vector.load {{.*}} : memref<8xf32, strided<[1], offset: ?>>, vector<8xf32>
// CHECK:     } else {
// CHECK:       scf.for
// CHECK:       vector.load {{.*}} : memref<8xf32>, vector<8xf32>
// CHECK:     }
// CHECK:     vector.shuffle %[[V]], %[[V]] [0, 2, 4, 6] : vector<8xf32>, vector<8xf32>
// CHECK:     vector.shuffle %[[V]], %[[V]] [1, 3, 5, 7] : vector<8xf32>, vector<8xf32>
// CHECK:     arith.addf {{.*}} : vector<4xf32>
// CHECK:     arith.subf {{.*}} : vector<4xf32>
// CHECK:     vector.shuffle {{.*}} [0, 4, 1, 5, 2, 6, 3, 7] : vector<4xf32>, vector<4xf32>
// CHECK:     vector.shuffle {{.*}} [0, 1, 4, 5] : vector<8xf32>, vector<8xf32>
// CHECK:     vector.shuffle {{.*}} [2, 3, 6, 7] : vector<8xf32>, vector<8xf32>
// CHECK:     vector.shuffle {{.*}} [0, 1, 4, 5, 2, 3, 6, 7] : vector<4xf32>, vector<4xf32>
// CHECK:     vector.shuffle {{.*}} [0, 1, 2, 3] : vector<8xf32>, vector<8xf32>
// CHECK:     vector.shuffle {{.*}} [4, 5, 6, 7] : vector<8xf32>, vector<8xf32>
// CHECK:     vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7] : vector<4xf32>, vector<4xf32>
// CHECK:     %[[SV:.*]] = vector.broadcast %[[S]] : f32 to vector<8xf32>
// CHECK:     arith.mulf %{{.*}}, %[[SV]] : vector<8xf32>
// CHECK:     vector.store %{{.*}}, %[[OUT]][%[[R]], %{{.*}}] : memref<4x16xf32>, vector<8xf32>
// CHECK-NOT: seq.hadamard
func.func @order8(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %y = seq.hadamard %x {block_size = 8 : i64} : tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// f16 input: widened to f32 in registers, narrowed back.
// CHECK-LABEL: func.func @order16_f16
// CHECK: vector.load {{.*}} : memref<16xf16, strided<[1], offset: ?>>, vector<16xf16>
// CHECK: arith.extf {{.*}} : vector<16xf16> to vector<16xf32>
// CHECK: arith.truncf {{.*}} : vector<16xf32> to vector<16xf16>
// CHECK: vector.store {{.*}} : memref<?x16xf16>, vector<16xf16>
func.func @order16_f16(%x: tensor<?x16xf16>) -> tensor<?x16xf16> {
  %y = seq.hadamard %x : tensor<?x16xf16>
  return %y : tensor<?x16xf16>
}

// -----

// Order 12 (a Paley matrix, no power-of-two factor): the base factor is a
// dense product with a constant matrix over a scratch row, no vectors.
// CHECK-LABEL: func.func @order12
// CHECK: memref.alloc() : memref<12xf32>
// CHECK: arith.constant dense<{{.*}}> : tensor<12x12xf32>
// CHECK: scf.for
// CHECK:   memref.load
// CHECK:   arith.mulf
// CHECK-NOT: vector.
func.func @order12(%x: tensor<2x12xf32>) -> tensor<2x12xf32> {
  %y = seq.hadamard %x : tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}
