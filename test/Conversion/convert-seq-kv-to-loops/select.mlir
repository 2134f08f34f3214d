// RUN: seqc-opt %s --convert-seq-kv-to-loops --canonicalize --cse | FileCheck %s

// seq.kv_select in place: per head, the k-th largest score by a radix
// select over the scores' bits (32 counting passes; each score mapped to an
// i32 whose unsigned order is the float order), then the kept rows and the
// window moved down in order; the header then holds the kept rows and, in
// its second word, the dropped tokens, which seq.kv_length adds back.
// CHECK-LABEL: func.func @select
// CHECK-DAG: %[[MIN:.*]] = arith.constant -2147483648 : i32
// CHECK-DAG: %[[C31:.*]] = arith.constant 31 : i32
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK: %[[KEEP:.*]] = arith.maxsi %arg2, %c4
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %c0 to %c2
// CHECK: scf.for %{{.*}} = %c0 to %[[C32]] {{.*}} -> (i32)
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shrsi %{{.*}}, %[[C31]]
// CHECK: arith.ori %{{.*}}, %[[MIN]]
// CHECK: arith.xori
// CHECK: arith.cmpi uge
// CHECK: arith.cmpi ugt
// Rows move within the keys and values of the cache.
// CHECK: memref.load {{.*}} : memref<2x64x16xf32>
// CHECK: memref.store {{.*}} : memref<2x64x16xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%c0] : memref<2xi64>
// CHECK: memref.store %{{.*}}, %{{.*}}[%c1] : memref<2xi64>
// The length after it: rows plus dropped tokens.
// CHECK: %[[ROWS:.*]] = memref.load %{{.*}}[%c0] : memref<2xi64>
// CHECK: %[[R:.*]] = arith.index_cast %[[ROWS]]
// CHECK: %[[DROPPED:.*]] = memref.load %{{.*}}[%c1] : memref<2xi64>
// CHECK: %[[D:.*]] = arith.index_cast %[[DROPPED]]
// CHECK: %[[LEN:.*]] = arith.addi %[[R]], %[[D]]
// CHECK: return %[[LEN]]
func.func @select(%s: memref<?xi8>, %score: tensor<2x?xf32>, %keep: index) -> index {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %c2 = seq.kv_select %c, %score, %keep {window = 4} : !seq.kv_cache<2x16x64xf32>, tensor<2x?xf32>
  %n = seq.kv_length %c2 : !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %n : index
}
