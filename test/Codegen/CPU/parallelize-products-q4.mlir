// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avxvnni}),canonicalize,cse)" 2>%t.warnings | FileCheck %s
// RUN: FileCheck %s --check-prefix=WARN < %t.warnings
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx2}))" 2>/dev/null | FileCheck %s --check-prefix=AVX2
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products))" | FileCheck %s --check-prefix=NONE

// WARN: warning: group product left to the generic loops (int8-dot=avxvnni): its weight or scale rows are not contiguous

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// A prefill q4 product over 96 channels (a 64-channel chunk, then a single
// group), its body's constants outside and commutative operands swapped as
// canonicalization may leave them. The activations are quantized per token
// and chunk (codes in the nibbles' order, -8 · Σ q per lane, the lanes'
// scales), then per tile of 4 rows x 4 tokens each row's 32 bytes are split
// into nibbles once and each token takes two vpdpbusd from its corrections,
// one conversion and one multiply-add by the two groups' scales. The last
// group's 16 bytes are unpacked into channel order.
// CHECK-LABEL: func.func @prefill_q4
// CHECK-SAME: (%[[X:.*]]: memref<?x96xf32>, %[[W:.*]]: memref<64x48xi8>, %[[D:.*]]: memref<64x3xf16>, %[[Y:.*]]: memref<?x64xf32>)
// CHECK-DAG: %[[CODES:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x96xi8>
// CHECK-DAG: %[[CORR:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x16xi32>
// CHECK-DAG: %[[SCALES:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x16xf32>
// CHECK: scf.parallel
// CHECK:   math.roundeven
// CHECK:   memref.store %{{.*}}, %[[CODES]]
// CHECK:   llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.*}}, %{{.*}}, %{{.*}})
// CHECK:   llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK:   vector.store %{{.*}}, %[[CORR]]
// CHECK:   %[[LS:.*]] = vector.from_elements %[[A0:.*]], %[[A0]], %[[A0]], %[[A0]], %[[A1:.*]], %[[A1]], %[[A1]], %[[A1]] : vector<8xf32>
// CHECK:   vector.store %[[LS]], %[[SCALES]]
// CHECK: scf.parallel (%[[N:.*]], %[[T:.*]]) = {{.*}} step (%c4{{.*}}, %c4{{.*}})
// CHECK:   %[[P:.*]] = vector.load %[[W]][%[[N]], %c0] : memref<64x48xi8>, vector<32xi8>
// CHECK:   %[[HI:.*]] = arith.shrui %[[P]]
// CHECK:   %[[LO:.*]] = arith.andi %[[P]]
// CHECK:   %[[HI2:.*]] = arith.andi %[[HI]]
// CHECK:   %[[DS:.*]] = vector.load %[[D]][%[[N]], %c0] : memref<64x3xf16>, vector<2xf16>
// CHECK:   %[[DW:.*]] = arith.extf %[[DS]] : vector<2xf16> to vector<2xf32>
// CHECK:   %[[DL:.*]] = vector.shuffle %[[DW]], %[[DW]] [0, 0, 0, 0, 1, 1, 1, 1]
// CHECK:   %[[Q0:.*]] = vector.load %[[CODES]][%[[T]], %c0] : memref<?x96xi8>, vector<32xi8>
// CHECK:   %[[Q1:.*]] = vector.load %[[CODES]][%[[T]], %c32] : memref<?x96xi8>, vector<32xi8>
// CHECK:   %[[C:.*]] = vector.load %[[CORR]][%[[T]], %c0] : memref<?x16xi32>, vector<8xi32>
// CHECK:   %[[A:.*]] = vector.load %[[SCALES]][%[[T]], %c0] : memref<?x16xf32>, vector<8xf32>
// CHECK:   %[[S0:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[C]], %[[LO]], %[[Q0]])
// CHECK:   %[[S1:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[S0]], %[[HI2]], %[[Q1]])
// CHECK:   %[[F:.*]] = arith.sitofp %[[S1]] : vector<8xi32> to vector<8xf32>
// CHECK:   %[[AS:.*]] = arith.mulf %[[A]], %[[DL]] : vector<8xf32>
// CHECK:   math.fma %[[F]], %[[AS]], %{{.*}} : vector<8xf32>
// CHECK:   %[[TAIL:.*]] = vector.load %[[W]][%[[N]], %c32] : memref<64x48xi8>, vector<16xi8>
// CHECK:   vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31] : vector<16xi8>, vector<16xi8>
// CHECK:   vector.load %[[D]][%[[N]], %c2] : memref<64x3xf16>, vector<1xf16>
// CHECK-COUNT-16: vector.reduction <add>
// CHECK: memref.dealloc %[[CODES]]
// CHECK-NOT: linalg.generic

// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2-NOT: vpdpbusd
// NONE-LABEL: func.func @prefill_q4
// NONE-NOT: llvm.call_intrinsic
// NONE: scf.parallel
func.func @prefill_q4(%x: memref<?x96xf32>, %w: memref<64x48xi8>, %d: memref<64x3xf16>, %y: memref<?x64xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c4 = arith.constant 4 : i8
  %c15 = arith.constant 15 : i8
  %c8 = arith.constant 8.0 : f32
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<?x96xf32>, memref<64x48xi8>, memref<64x3xf16>) outs(%y : memref<?x64xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %c4, %h8 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %c15, %v : i8
    %nf = arith.uitofp %n : i8 to f32
    %q = arith.subf %nf, %c8 : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %df, %q : f32
    %p = arith.mulf %wv, %a : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// Not q4: the codes centred on 7. The matcher leaves it to the generic
// loops (no integer kernel would compute this).
// CHECK-LABEL: func.func @not_q4
// CHECK-NOT: llvm.call_intrinsic
// CHECK: arith.subf %{{.*}}, %{{.*}} : f32
func.func @not_q4(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %d: memref<8x2xf16>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<1x64xf32>, memref<8x32xi8>, memref<8x2xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
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
    %c7 = arith.constant 7.0 : f32
    %q = arith.subf %nf, %c7 : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %q, %df : f32
    %p = arith.mulf %a, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// Weight rows with a stride between codes: warned about and left to the
// generic loops.
// CHECK-LABEL: func.func @strided_q4
// CHECK-NOT: llvm.call_intrinsic
// CHECK: return
func.func @strided_q4(%x: memref<1x64xf32>, %w: memref<8x32xi8, strided<[64, 2]>>, %d: memref<8x2xf16>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<1x64xf32>, memref<8x32xi8, strided<[64, 2]>>, memref<8x2xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
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
    %c8 = arith.constant 8.0 : f32
    %q = arith.subf %nf, %c8 : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %q, %df : f32
    %p = arith.mulf %a, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// The q4 body with one op more, a store a kernel would drop: not the form,
// left to the generic loops with its store.
// CHECK-LABEL: func.func @extra_op
// CHECK-NOT: llvm.call_intrinsic
// CHECK: memref.store %{{.*}}, %{{.*}}[%c0] : memref<1xf32>
func.func @extra_op(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %d: memref<8x2xf16>, %y: memref<1x8xf32>, %log: memref<1xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<1x64xf32>, memref<8x32xi8>, memref<8x2xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
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
    %c8 = arith.constant 8.0 : f32
    %q = arith.subf %nf, %c8 : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %q, %df : f32
    %p = arith.mulf %a, %wv : f32
    %c0 = arith.constant 0 : index
    memref.store %p, %log[%c0] : memref<1xf32>
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// No channels (K = 0): nothing for a kernel; left to the generic loops.
// CHECK-LABEL: func.func @empty_q4
// CHECK-NOT: llvm.call_intrinsic
// CHECK: return
func.func @empty_q4(%x: memref<1x0xf32>, %w: memref<8x0xi8>, %d: memref<8x0xf16>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<1x0xf32>, memref<8x0xi8>, memref<8x0xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
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
    %c8 = arith.constant 8.0 : f32
    %q = arith.subf %nf, %c8 : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %q, %df : f32
    %p = arith.mulf %a, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
