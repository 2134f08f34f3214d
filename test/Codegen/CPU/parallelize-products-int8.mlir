// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx2}))" 2>%t.warnings | FileCheck %s
// RUN: FileCheck %s --check-prefix=WARN < %t.warnings
// WARN: warning: int8 product left with f32 activations (int8-dot=avx2): its reduction length is dynamic or not a multiple of activation-block=32, or its weight rows are not contiguous
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx512vnni activation-block=64}))" | FileCheck %s --check-prefix=ZMM
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avxvnni}))" | FileCheck %s --check-prefix=VEX
// RUN: not seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=sse}))" 2>&1 | FileCheck %s --check-prefix=BAD-ISA
// RUN: not seqc-opt %s --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx2 activation-block=6}))" 2>&1 | FileCheck %s --check-prefix=BAD-BLOCK

// BAD-ISA: for the --int8-dot option: Cannot find option named 'sse'!
// BAD-BLOCK: error: seq-parallelize-products: activation-block=6: expected a positive multiple of 4

// A prefill int8 product: the activations are quantized per token and block
// (codes, a scale per 32-bit lane) on all threads (an scf.parallel over
// tokens and blocks), then an scf.parallel over tiles of 4 rows x 4 tokens
// sums integer dot products 32 (avx2, avxvnni) or 64 (avx512vnni) bytes at
// a time: each weight vector is loaded and prepared once for the tile's 4
// tokens, each token's codes and scales once for its 4 rows. The tokens
// beyond a multiple of 4 follow, one output per iteration.
// CHECK-LABEL: func.func @prefill_int8
// CHECK-SAME: (%[[X:.*]]: memref<?x128xf32>, %[[W:.*]]: memref<64x128xi8>, %[[Y:.*]]: memref<?x64xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[CODES:.*]] = memref.alloc(%[[T]]) {alignment = 64 : i64} : memref<?x128xi8>
// CHECK: %[[SCALES:.*]] = memref.alloc(%[[T]]) {alignment = 64 : i64} : memref<?x32xf32>
// CHECK: scf.parallel (%[[QT:.*]], %{{.*}}) = (%{{.*}}, %{{.*}}) to (%[[T]], %c4)
// CHECK:   scf.for
// CHECK:     math.absf
// CHECK:     arith.maximumf
// CHECK:   math.roundeven
// CHECK:   arith.fptosi
// CHECK-NOT: arith.xori
// CHECK:   memref.store %{{.*}}, %[[CODES]][%[[QT]]
// CHECK:   memref.store %{{.*}}, %[[SCALES]][%[[QT]]
// CHECK: %[[REM:.*]] = arith.remui %[[T]], %c4
// CHECK: %[[TT:.*]] = arith.subi %[[T]], %[[REM]]
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %[[TT]] step %c128
// CHECK: %[[BE:.*]] = arith.minui %{{.*}}, %[[TT]]
// CHECK: scf.parallel (%[[N:.*]], %[[TI:.*]]) = (%{{.*}}, %[[B]]) to (%c64{{.*}}, %[[BE]]) step (%c4{{.*}}, %c4{{.*}})
// CHECK:   scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:     vector.load %[[W]][%[[N]], {{.*}} : memref<64x128xi8>, vector<32xi8>
// CHECK:     math.absi
// CHECK-COUNT-3: vector.load %[[W]][{{.*}} : memref<64x128xi8>, vector<32xi8>
// CHECK:     vector.load %[[CODES]][%[[TI]], {{.*}} : memref<?x128xi8>, vector<32xi8>
// CHECK:     vector.load %[[SCALES]][%[[TI]], {{.*}} : memref<?x32xf32>, vector<8xf32>
// CHECK:     llvm.call_intrinsic "llvm.x86.avx2.psign.b"
// CHECK:     llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK:     llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK:     arith.sitofp {{.*}} : vector<8xi32> to vector<8xf32>
// CHECK:     math.fma
// CHECK-COUNT-15: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK-NOT: llvm.call_intrinsic
// CHECK:     scf.yield
// CHECK-COUNT-16: vector.reduction <add>
// CHECK: scf.parallel (%[[N1:.*]], %[[T1:.*]]) = (%{{.*}}, %[[TT]]) to (%c64{{.*}}, %[[T]])
// CHECK:   scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>)
// CHECK:   vector.reduction <add>
// CHECK:   memref.load %[[Y]][%[[T1]], %[[N1]]]
// CHECK:   memref.store %{{.*}}, %[[Y]][%[[T1]], %[[N1]]]
// CHECK: memref.dealloc %[[CODES]]
// CHECK: memref.dealloc %[[SCALES]]
// CHECK-NOT: linalg.generic
// With VNNI the codes are stored biased (q + 128, an unsigned byte), and
// each weight vector's bias term (-128 · Σ w per lane, one vpdpbusd of
// 0x80 bytes) is the accumulator of its tokens' dot products.
// ZMM-LABEL: func.func @prefill_int8
// ZMM: arith.fptosi
// ZMM: arith.xori %{{.*}}, %c-128{{.*}} : i8
// ZMM: scf.parallel
// ZMM:   %[[W0:.*]] = vector.load {{.*}} : memref<64x128xi8>, vector<64xi8>
// ZMM:   %[[B0:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %{{.*}}, %[[W0]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// ZMM:   %[[NB0:.*]] = arith.subi %{{.*}}, %[[B0]] : vector<16xi32>
// ZMM:   %[[Q0:.*]] = vector.load {{.*}} : memref<?x128xi8>, vector<64xi8>
// ZMM:   llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[NB0]], %[[Q0]], %[[W0]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
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
// With VNNI, decode (one token, statically) biases the weights instead of
// the codes: each weight vector's sign bit is flipped as it is loaded
// (w + 128, the unsigned operand), the codes stay signed, and the token's
// lanes start from -128 · Σ q (four codes per lane), stored beside the
// scales when the token is quantized, so the bias costs no vpdpbusd per
// weight vector.
// ZMM-LABEL: func.func @decode_int8
// ZMM: %[[CODES:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x64xi8>
// ZMM: %[[SCALES:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x16xf32>
// ZMM: %[[CORR:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x16xi32>
// ZMM: arith.fptosi
// ZMM-NOT: arith.xori
// ZMM: memref.store %{{.*}}, %[[CODES]]
// ZMM: memref.store %{{.*}}, %[[SCALES]]
// ZMM-COUNT-4: arith.extsi %{{.*}} : i8 to i32
// ZMM: %[[C:.*]] = arith.muli %{{.*}}, %c-128_i32 : i32
// ZMM: memref.store %[[C]], %[[CORR]]
// ZMM: memref.prefetch %{{.*}}[%{{.*}}, %c0{{.*}}], read, locality<2>, data : memref<16x64xi8>
// ZMM-NOT: memref.prefetch
// ZMM: %[[W0:.*]] = vector.load {{.*}} : memref<16x64xi8>, vector<64xi8>
// ZMM: %[[U0:.*]] = arith.xori %[[W0]], %{{.*}} : vector<64xi8>
// ZMM: %[[Q0:.*]] = vector.load %[[CODES]]{{.*}} : memref<1x64xi8>, vector<64xi8>
// ZMM: %[[C0:.*]] = vector.load %[[CORR]]{{.*}} : memref<1x16xi32>, vector<16xi32>
// ZMM: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[C0]], %[[U0]], %[[Q0]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// ZMM-NOT: llvm.call_intrinsic
// ZMM: memref.dealloc %[[CORR]]
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
