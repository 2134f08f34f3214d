// RUN: seqc-opt %s --split-input-file --convert-seq-hadamard-to-loops | FileCheck %s

// A power-of-two block up to 256 channels is transformed in registers: one
// vector load per block (straight from the input when its last stride is 1,
// checked once; else through a scratch row), per stage (3 for order 8, the
// widest partners first) a shuffle that swaps butterfly partners and a
// multiply-add by ±1, the 1/sqrt(8) scale, and one vector write into the
// result tensor carried by the loops (so bufferization can place it in the
// caller's buffer).
// CHECK-LABEL: func.func @order8
// CHECK-DAG: %[[S:.*]] = arith.constant 0.353553385 : f32
// CHECK-DAG: %[[INIT:.*]] = tensor.empty() : tensor<4x16xf32>
// CHECK-DAG: %{{.*}}, %{{.*}}, %{{.*}}:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata
// CHECK-DAG: %[[UNIT:.*]] = arith.cmpi eq, %[[STRIDES]]#1, %{{.*}} : index
// CHECK: %[[RES:.*]] = scf.for %[[R:.*]] = {{.*}} iter_args(%[[T0:.*]] = %[[INIT]])
// CHECK:   scf.for %[[B:.*]] = {{.*}} iter_args(%[[T1:.*]] = %[[T0]])
// CHECK:     %[[V:.*]] = scf.if %[[UNIT]] -> (vector<8xf32>) {
// CHECK:       memref.reinterpret_cast {{.*}} sizes: [8], strides: [1]
// CHECK:       vector.load {{.*}} : memref<8xf32, strided<[1], offset: ?>>, vector<8xf32>
// CHECK:     } else {
// CHECK:       scf.for
// CHECK:       vector.load {{.*}} : memref<8xf32>, vector<8xf32>
// CHECK:     }
// CHECK:     %[[W4:.*]] = vector.shuffle %[[V]], %[[V]] [4, 5, 6, 7, 0, 1, 2, 3]
// CHECK:     arith.constant dense<[1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, -1.000000e+00, -1.000000e+00, -1.000000e+00, -1.000000e+00]>
// CHECK:     %[[M4:.*]] = arith.mulf %[[V]], %{{.*}} fastmath<contract> : vector<8xf32>
// CHECK:     %[[A4:.*]] = arith.addf %[[M4]], %[[W4]] fastmath<contract> : vector<8xf32>
// CHECK:     vector.shuffle %[[A4]], %[[A4]] [2, 3, 0, 1, 6, 7, 4, 5]
// CHECK:     arith.constant dense<[1.000000e+00, 1.000000e+00, -1.000000e+00, -1.000000e+00, 1.000000e+00, 1.000000e+00, -1.000000e+00, -1.000000e+00]>
// CHECK:     vector.shuffle %{{.*}}, %{{.*}} [1, 0, 3, 2, 5, 4, 7, 6]
// CHECK:     arith.constant dense<[1.000000e+00, -1.000000e+00, 1.000000e+00, -1.000000e+00, 1.000000e+00, -1.000000e+00, 1.000000e+00, -1.000000e+00]>
// CHECK:     %[[SV:.*]] = vector.broadcast %[[S]] : f32 to vector<8xf32>
// CHECK:     %[[OUT:.*]] = arith.mulf %{{.*}}, %[[SV]] : vector<8xf32>
// CHECK:     %[[W:.*]] = vector.transfer_write %[[OUT]], %[[T1]][%[[R]], %{{.*}}] {in_bounds = [true]} : vector<8xf32>, tensor<4x16xf32>
// CHECK:     scf.yield %[[W]]
// CHECK: return %[[RES]]
// CHECK-NOT: seq.hadamard
func.func @order8(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %y = seq.hadamard %x {block_size = 8 : i64} : tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Order 32: partners 16 and 8 apart are whole AVX2 registers: a and b
// halves, addf / subf and an interleave, no multiply; then the in-register
// stages.
// CHECK-LABEL: func.func @order32
// CHECK: vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : vector<32xf32>, vector<32xf32>
// CHECK: arith.addf {{.*}} : vector<16xf32>
// CHECK: arith.subf {{.*}} : vector<16xf32>
// CHECK: arith.addf {{.*}} : vector<16xf32>
// CHECK: arith.subf {{.*}} : vector<16xf32>
// CHECK-COUNT-3: arith.mulf {{.*}} fastmath<contract> : vector<32xf32>
// CHECK-NOT: arith.mulf {{.*}} fastmath<contract>
// CHECK: vector.transfer_write
func.func @order32(%x: tensor<3x32xf32>) -> tensor<3x32xf32> {
  %y = seq.hadamard %x : tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

// f16 input: widened to f32 in registers, narrowed back.
// CHECK-LABEL: func.func @order16_f16
// CHECK: vector.load {{.*}} : memref<16xf16, strided<[1], offset: ?>>, vector<16xf16>
// CHECK: arith.extf {{.*}} : vector<16xf16> to vector<16xf32>
// CHECK: arith.truncf {{.*}} : vector<16xf32> to vector<16xf16>
// CHECK: vector.transfer_write {{.*}} : vector<16xf16>, tensor<?x16xf16>
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
// CHECK: tensor.insert {{.*}} : tensor<2x12xf32>
// CHECK-NOT: vector.
func.func @order12(%x: tensor<2x12xf32>) -> tensor<2x12xf32> {
  %y = seq.hadamard %x : tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}
