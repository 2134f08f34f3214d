// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx2}))" 2>%t.warnings | FileCheck %s
// RUN: FileCheck %s --check-prefix=WARN < %t.warnings
// WARN: warning: int8 product left with f32 activations (int8-dot=avx2): its reduction length is dynamic or not a multiple of activation-block=32, or its weight rows are not contiguous
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx512vnni activation-block=64}))" | FileCheck %s --check-prefix=ZMM
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avxvnni}))" | FileCheck %s --check-prefix=VEX
// RUN: not seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=sse}))" 2>&1 | FileCheck %s --check-prefix=BAD-ISA
// RUN: not seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx2 activation-block=6}))" 2>&1 | FileCheck %s --check-prefix=BAD-BLOCK

// BAD-ISA: error: seq-parallelize-products: int8-dot=sse: expected none, avx2, avxvnni or avx512vnni
// BAD-BLOCK: error: seq-parallelize-products: activation-block=6: expected a positive multiple of 4

// A prefill int8 product: the activations are quantized per token and block
// (codes, a scale per 32-bit lane), then an scf.parallel over (n, t) sums
// integer dot products 32 (avx2, avxvnni) or 64 (avx512vnni) bytes at a
// time.
// CHECK-LABEL: func.func @prefill_int8
// CHECK-SAME: (%[[X:.*]]: memref<?x128xf32>, %[[W:.*]]: memref<64x128xi8>, %[[Y:.*]]: memref<?x64xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[CODES:.*]] = memref.alloc(%[[T]]) {alignment = 64 : i64} : memref<?x128xi8>
// CHECK: %[[SCALES:.*]] = memref.alloc(%[[T]]) {alignment = 64 : i64} : memref<?x32xf32>
// CHECK: scf.for
// CHECK:   scf.for
// CHECK:     math.absf
// CHECK:     arith.maximumf
// CHECK:   math.roundeven
// CHECK:   arith.fptosi
// CHECK:   memref.store %{{.*}}, %[[CODES]]
// CHECK:   memref.store %{{.*}}, %[[SCALES]]
// CHECK: scf.parallel (%[[N:.*]], %[[TI:.*]]) = (%{{.*}}, %{{.*}}) to (%c64, %[[T]])
// CHECK:   scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK:     vector.load %[[W]][%[[N]], {{.*}} : memref<64x128xi8>, vector<32xi8>
// CHECK:     vector.load %[[CODES]][%[[TI]], {{.*}} : memref<?x128xi8>, vector<32xi8>
// CHECK:     vector.load %[[SCALES]][%[[TI]], {{.*}} : memref<?x32xf32>, vector<8xf32>
// CHECK:     math.absi
// CHECK:     llvm.call_intrinsic "llvm.x86.avx2.psign.b"
// CHECK:     llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK:     llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK:     arith.sitofp {{.*}} : vector<8xi32> to vector<8xf32>
// CHECK:     math.fma
// CHECK:   vector.reduction <add>
// CHECK:   memref.load %[[Y]][%[[TI]], %[[N]]]
// CHECK:   memref.store %{{.*}}, %[[Y]][%[[TI]], %[[N]]]
// CHECK: memref.dealloc %[[CODES]]
// CHECK: memref.dealloc %[[SCALES]]
// CHECK-NOT: linalg.generic
// ZMM-LABEL: func.func @prefill_int8
// ZMM: scf.parallel
// ZMM:   math.absi %{{.*}} : vector<64xi8>
// ZMM:   arith.cmpi slt, %{{.*}}, %{{.*}} : vector<64xi8>
// ZMM:   arith.select
// ZMM:   llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"({{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// ZMM:   vector.reduction <add>
// VEX-LABEL: func.func @prefill_int8
// VEX: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"({{.*}}) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
func.func @prefill_int8(%x: memref<?x128xf32>, %w: memref<64x128xi8>, %y: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x128xf32>, memref<64x128xi8>) outs(%y : memref<?x64xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %bf = arith.sitofp %b : i8 to f32
    %p = arith.mulf %a, %bf fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A decode product under min-decode-elements: the same kernel in
// sequential loops (no scf.parallel).
// CHECK-LABEL: func.func @decode_int8
// CHECK-NOT: scf.parallel
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK-NOT: linalg.generic
#x1 = affine_map<(n, t, k) -> (t, k)>
#w1 = affine_map<(n, t, k) -> (n, k)>
#y1 = affine_map<(n, t, k) -> (t, n)>
func.func @decode_int8(%x: memref<1x64xf32>, %w: memref<16x64xi8>, %y: memref<1x16xf32>) {
  linalg.generic {indexing_maps = [#x1, #w1, #y1], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<16x64xi8>) outs(%y : memref<1x16xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %bf = arith.sitofp %b : i8 to f32
    %p = arith.mulf %bf, %a fastmath<reassoc,contract> : f32
    %s = arith.addf %p, %acc fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left to the f32 path: a reduction length that the activation block (32)
// does not divide (48; with a warning), and a float-weight product.
// CHECK-LABEL: func.func @not_int8_kernels
// CHECK-NOT: llvm.call_intrinsic
// CHECK: scf.parallel
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: scf.parallel
// CHECK-NOT: llvm.call_intrinsic
#x2 = affine_map<(n, t, k) -> (t, k)>
#w2 = affine_map<(n, t, k) -> (n, k)>
#y2 = affine_map<(n, t, k) -> (t, n)>
func.func @not_int8_kernels(%x: memref<?x48xf32>, %w: memref<16x48xi8>, %y: memref<?x16xf32>, %wf: memref<16x48xf32>) {
  linalg.generic {indexing_maps = [#x2, #w2, #y2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x48xf32>, memref<16x48xi8>) outs(%y : memref<?x16xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %bf = arith.sitofp %b : i8 to f32
    %p = arith.mulf %a, %bf fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x2, #w2, #y2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wf : memref<?x48xf32>, memref<16x48xf32>) outs(%y : memref<?x16xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}
