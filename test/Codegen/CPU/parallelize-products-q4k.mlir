// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avxvnni}),canonicalize,cse)" | FileCheck %s
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products))" | FileCheck %s --check-prefix=NONE

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#s = affine_map<(n, t, k) -> (n, k floordiv 256)>
#y = affine_map<(n, t, k) -> (t, n)>

// A prefill q4k product over 96 channels (one short super-block: a
// 64-channel unit, then a single sub-block), its body's constants outside
// and commutative operands swapped as canonicalization may leave them. Per
// token and unit the activations' codes go through one dot product with
// bytes of 1 (Σ q per lane, from zero), stored as -a · Σ q in f32 beside
// the lanes' scales a. Per tile row the lanes' weight scales are d · sc and
// the lanes' minima dmin · m (each 6-bit byte converted, times the
// super-block's factor, spread over its four lanes); per token the dot
// products start from zero, then one multiply-add by a · d · sc and one by
// -a · Σ q times dmin · m.
// CHECK-LABEL: func.func @prefill_q4k
// CHECK-SAME: (%[[X:.*]]: memref<?x96xf32>, %[[W:.*]]: memref<64x48xi8>, %[[SC:.*]]: memref<64x3xi8>, %[[M:.*]]: memref<64x3xi8>, %[[D:.*]]: memref<64x1xf16>, %[[DMIN:.*]]: memref<64x1xf16>, %[[Y:.*]]: memref<?x64xf32>)
// CHECK-DAG: %[[ONES:.*]] = arith.constant dense<1> : vector<32xi8>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0> : vector<8xi32>
// CHECK-DAG: %[[CODES:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x96xi8>
// CHECK-DAG: %[[CORR:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x16xf32>
// CHECK-DAG: %[[SCALES:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x16xf32>
// CHECK: scf.parallel
// CHECK:   %[[Q0:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[ZERO]], %[[ONES]], %{{.*}})
// CHECK:   %[[Q1:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[Q0]], %[[ONES]], %{{.*}})
// CHECK:   %[[LS:.*]] = vector.from_elements %[[A0:.*]], %[[A0]], %[[A0]], %[[A0]], %[[A1:.*]], %[[A1]], %[[A1]], %[[A1]] : vector<8xf32>
// CHECK:   %[[QF:.*]] = arith.sitofp %[[Q1]] : vector<8xi32> to vector<8xf32>
// CHECK:   %[[QA:.*]] = arith.mulf %[[QF]], %[[LS]] : vector<8xf32>
// CHECK:   %[[NQA:.*]] = arith.negf %[[QA]] : vector<8xf32>
// CHECK:   vector.store %[[NQA]], %[[CORR]]
// CHECK:   vector.store %[[LS]], %[[SCALES]]
// CHECK: scf.parallel (%[[N:.*]], %[[T:.*]]) = {{.*}} step (%c4{{.*}}, %c4{{.*}})
// CHECK:   vector.load %[[W]][%[[N]], %c0] : memref<64x48xi8>, vector<32xi8>
// CHECK:   %[[DH:.*]] = memref.load %[[D]][%[[N]], %c0] : memref<64x1xf16>
// CHECK:   %[[DF:.*]] = arith.extf %[[DH]] : f16 to f32
// CHECK:   %[[SCB:.*]] = vector.load %[[SC]][%[[N]], %c0] : memref<64x3xi8>, vector<2xi8>
// CHECK:   %[[SCF:.*]] = arith.uitofp %[[SCB]] : vector<2xi8> to vector<2xf32>
// CHECK:   %[[DB:.*]] = vector.broadcast %[[DF]] : f32 to vector<2xf32>
// CHECK:   %[[STEP:.*]] = arith.mulf %[[SCF]], %[[DB]] : vector<2xf32>
// CHECK:   %[[STEPL:.*]] = vector.shuffle %[[STEP]], %[[STEP]] [0, 0, 0, 0, 1, 1, 1, 1]
// CHECK:   memref.load %[[DMIN]][%[[N]], %c0] : memref<64x1xf16>
// CHECK:   vector.load %[[M]][%[[N]], %c0] : memref<64x3xi8>, vector<2xi8>
// CHECK:   %[[MINL:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 0, 0, 0, 1, 1, 1, 1]
// CHECK:   %[[C:.*]] = vector.load %[[CORR]][%[[T]], %c0] : memref<?x16xf32>, vector<8xf32>
// CHECK:   %[[A:.*]] = vector.load %[[SCALES]][%[[T]], %c0] : memref<?x16xf32>, vector<8xf32>
// CHECK:   %[[S0:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[ZERO]], %{{.*}}, %{{.*}})
// CHECK:   %[[S1:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[S0]], %{{.*}}, %{{.*}})
// CHECK:   %[[F:.*]] = arith.sitofp %[[S1]] : vector<8xi32> to vector<8xf32>
// CHECK:   %[[AS:.*]] = arith.mulf %[[A]], %[[STEPL]] : vector<8xf32>
// CHECK:   %[[ACC:.*]] = math.fma %[[F]], %[[AS]], %{{.*}} : vector<8xf32>
// CHECK:   math.fma %[[C]], %[[MINL]], %[[ACC]] : vector<8xf32>
// The last sub-block: 16 bytes unpacked into channel order, one factor.
// CHECK:   vector.load %[[W]][%[[N]], %c32] : memref<64x48xi8>, vector<16xi8>
// CHECK:   vector.load %[[SC]][%[[N]], %c2] : memref<64x3xi8>, vector<1xi8>
// CHECK-COUNT-16: vector.reduction <add>
// CHECK: memref.dealloc %[[CODES]]
// CHECK-NOT: linalg.generic

// NONE-LABEL: func.func @prefill_q4k
// NONE-NOT: llvm.call_intrinsic
// NONE: scf.parallel
func.func @prefill_q4k(%x: memref<?x96xf32>, %w: memref<64x48xi8>, %sc: memref<64x3xi8>, %m: memref<64x3xi8>, %d: memref<64x1xf16>, %dmin: memref<64x1xf16>, %y: memref<?x64xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c4 = arith.constant 4 : i8
  %c15 = arith.constant 15 : i8
  linalg.generic {indexing_maps = [#x, #w, #g, #g, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %sc, %m, %d, %dmin : memref<?x96xf32>, memref<64x48xi8>, memref<64x3xi8>, memref<64x3xi8>, memref<64x1xf16>, memref<64x1xf16>) outs(%y : memref<?x64xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bs: i8, %bm: i8, %bd: f16, %bdm: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %c4, %h8 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %c15, %v : i8
    %nf = arith.uitofp %n : i8 to f32
    %sf = arith.uitofp %bs : i8 to f32
    %df = arith.extf %bd : f16 to f32
    %step = arith.mulf %sf, %df : f32
    %mf = arith.uitofp %bm : i8 to f32
    %dmf = arith.extf %bdm : f16 to f32
    %off = arith.mulf %mf, %dmf : f32
    %scaled = arith.mulf %step, %nf : f32
    %wv = arith.subf %scaled, %off : f32
    %p = arith.mulf %wv, %a : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#s = affine_map<(n, t, k) -> (n, k floordiv 256)>
#y = affine_map<(n, t, k) -> (t, n)>

// Not q4k: the minima added rather than subtracted, and (second function)
// the scale and the minimum tables swapped between the factors. The matcher
// leaves both to the generic loops (no integer kernel would compute them).
// CHECK-LABEL: func.func @not_q4k
// CHECK-NOT: llvm.call_intrinsic
// CHECK: arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-LABEL: func.func @swapped_tables
// CHECK-NOT: llvm.call_intrinsic
// CHECK: return
func.func @not_q4k(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %sc: memref<8x2xi8>, %m: memref<8x2xi8>, %d: memref<8x1xf16>, %dmin: memref<8x1xf16>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #g, #g, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %sc, %m, %d, %dmin : memref<1x64xf32>, memref<8x32xi8>, memref<8x2xi8>, memref<8x2xi8>, memref<8x1xf16>, memref<8x1xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bs: i8, %bm: i8, %bd: f16, %bdm: f16, %acc: f32):
    %k = linalg.index 2 : index
    %c32 = arith.constant 32 : index
    %c16 = arith.constant 16 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %c4 = arith.constant 4 : i8
    %sh = arith.muli %h8, %c4 : i8
    %v = arith.shrui %b, %sh : i8
    %c15 = arith.constant 15 : i8
    %n = arith.andi %v, %c15 : i8
    %nf = arith.uitofp %n : i8 to f32
    %df = arith.extf %bd : f16 to f32
    %sf = arith.uitofp %bs : i8 to f32
    %step = arith.mulf %df, %sf : f32
    %dmf = arith.extf %bdm : f16 to f32
    %mf = arith.uitofp %bm : i8 to f32
    %off = arith.mulf %dmf, %mf : f32
    %scaled = arith.mulf %nf, %step : f32
    %wv = arith.addf %scaled, %off : f32
    %p = arith.mulf %a, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
func.func @swapped_tables(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %sc: memref<8x2xi8>, %m: memref<8x2xi8>, %d: memref<8x1xf16>, %dmin: memref<8x1xf16>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #g, #g, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %sc, %m, %d, %dmin : memref<1x64xf32>, memref<8x32xi8>, memref<8x2xi8>, memref<8x2xi8>, memref<8x1xf16>, memref<8x1xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bs: i8, %bm: i8, %bd: f16, %bdm: f16, %acc: f32):
    %k = linalg.index 2 : index
    %c32 = arith.constant 32 : index
    %c16 = arith.constant 16 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %c4 = arith.constant 4 : i8
    %sh = arith.muli %h8, %c4 : i8
    %v = arith.shrui %b, %sh : i8
    %c15 = arith.constant 15 : i8
    %n = arith.andi %v, %c15 : i8
    %nf = arith.uitofp %n : i8 to f32
    %df = arith.extf %bd : f16 to f32
    %sf = arith.uitofp %bm : i8 to f32
    %step = arith.mulf %df, %sf : f32
    %dmf = arith.extf %bdm : f16 to f32
    %mf = arith.uitofp %bs : i8 to f32
    %off = arith.mulf %dmf, %mf : f32
    %scaled = arith.mulf %nf, %step : f32
    %wv = arith.subf %scaled, %off : f32
    %p = arith.mulf %a, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
