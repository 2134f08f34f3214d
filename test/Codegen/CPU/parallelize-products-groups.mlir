// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avxvnni}),canonicalize,cse)" | FileCheck %s
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-parallelize-products{int8-dot=avx2}),canonicalize,cse)" | FileCheck %s --check-prefix=AVX2

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#p = affine_map<(n, t, k) -> (n, k floordiv 8)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// A decode q5 product over 64 channels (one unit of two groups), its body's
// constants outside and the or's operands swapped as canonicalization may
// leave them. Per token the activations' codes go through dot products with
// bytes of 16 (-16 Σ q per lane). Per row the nibbles are split, then the
// plane's four bytes of each group are spread over the nibbles' bytes (bytes
// 0-1 of a group for channels 0-15, 2-3 for 16-31), tested against each
// byte's bit and or-ed in as 16.
// CHECK-LABEL: func.func @decode_q5
// CHECK-SAME: (%[[X:.*]]: memref<1x64xf32>, %[[W:.*]]: memref<8x32xi8>, %[[P:.*]]: memref<8x8xi8>, %[[D:.*]]: memref<8x2xf16>, %[[Y:.*]]: memref<1x8xf32>)
// CHECK-DAG: %[[SIXTEEN:.*]] = arith.constant dense<16> : vector<32xi8>
// CHECK-DAG: %[[BITS:.*]] = arith.constant dense<[1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128]> : vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.*}}, %[[SIXTEEN]], %{{.*}})
// CHECK: %[[HIGH:.*]] = vector.load %[[P]][%{{.*}}, %{{.*}}] : memref<8x8xi8>, vector<8xi8>
// CHECK: vector.shuffle %[[HIGH]], %[[HIGH]] [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5]
// CHECK: arith.andi %{{.*}}, %[[BITS]] : vector<32xi8>
// CHECK: arith.cmpi ne
// CHECK: arith.select %{{.*}}, %[[SIXTEEN]], %{{.*}} : vector<32xi1>, vector<32xi8>
// CHECK: vector.shuffle %[[HIGH]], %[[HIGH]] [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7]
// CHECK-NOT: linalg.generic
// AVX2-LABEL: func.func @decode_q5
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2-NOT: linalg.generic
func.func @decode_q5(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %p4: memref<8x8xi8>, %d: memref<8x2xf16>, %y: memref<1x8xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c8 = arith.constant 8 : index
  %c4 = arith.constant 4 : i8
  %c15 = arith.constant 15 : i8
  %c1 = arith.constant 1 : i8
  %mid = arith.constant 16.0 : f32
  linalg.generic {indexing_maps = [#x, #w, #p, #g, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %p4, %d : memref<1x64xf32>, memref<8x32xi8>, memref<8x8xi8>, memref<8x2xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bp: i8, %c: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %c4, %h8 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %c15, %v : i8
    %kb = arith.remui %k, %c8 : index
    %kb8 = arith.index_cast %kb : index to i8
    %s4 = arith.shrui %bp, %kb8 : i8
    %b4 = arith.andi %c1, %s4 : i8
    %h4 = arith.shli %b4, %c4 : i8
    %code = arith.ori %h4, %n : i8
    %nf = arith.uitofp %code : i8 to f32
    %q = arith.subf %nf, %mid : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %df, %q : f32
    %t = arith.mulf %wv, %a fastmath<reassoc,contract> : f32
    %r = arith.addf %t, %acc fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#p = affine_map<(n, t, k) -> (n, k floordiv 8)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// Not q5: the plane's bit lands on bit 5 (the code would reach 47 with
// codes standing for c - 16), so the product runs as written.
// CHECK-LABEL: func.func @q5_wrong_bit
// AVX2-LABEL: func.func @q5_wrong_bit
// CHECK-NOT: llvm.call_intrinsic
// CHECK: arith.shli %{{.*}}, %{{.*}} : i8
func.func @q5_wrong_bit(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %p4: memref<8x8xi8>, %d: memref<8x2xf16>, %y: memref<1x8xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c8 = arith.constant 8 : index
  %c4 = arith.constant 4 : i8
  %c5 = arith.constant 5 : i8
  %c15 = arith.constant 15 : i8
  %c1 = arith.constant 1 : i8
  %mid = arith.constant 16.0 : f32
  linalg.generic {indexing_maps = [#x, #w, #p, #g, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %p4, %d : memref<1x64xf32>, memref<8x32xi8>, memref<8x8xi8>, memref<8x2xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bp: i8, %c: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %c4, %h8 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %c15, %v : i8
    %kb = arith.remui %k, %c8 : index
    %kb8 = arith.index_cast %kb : index to i8
    %s4 = arith.shrui %bp, %kb8 : i8
    %b4 = arith.andi %c1, %s4 : i8
    %h4 = arith.shli %b4, %c5 : i8
    %code = arith.ori %h4, %n : i8
    %nf = arith.uitofp %code : i8 to f32
    %q = arith.subf %nf, %mid : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %df, %q : f32
    %t = arith.mulf %wv, %a fastmath<reassoc,contract> : f32
    %r = arith.addf %t, %acc fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// A prefill q8 product over 64 channels: units of one group in channel
// order (32-byte vectors). With VNNI the codes' sign bits are flipped (c +
// 128) and the sums start from -128 Σ q; on AVX2 |c| is multiplied by q
// with c's sign, from zero (vpmaddubsw's pairs of 255 · 127 would
// saturate).
// CHECK-LABEL: func.func @prefill_q8
// CHECK-DAG: %[[FLIP:.*]] = arith.constant dense<-128> : vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.*}}, %[[FLIP]], %{{.*}})
// CHECK: scf.parallel
// CHECK: %[[C:.*]] = vector.load %{{.*}} : memref<40x64xi8>, vector<32xi8>
// CHECK: %[[U:.*]] = arith.xori %[[C]], %[[FLIP]] : vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.*}}, %[[U]], %{{.*}})
// CHECK-NOT: linalg.generic
// AVX2-LABEL: func.func @prefill_q8
// AVX2-NOT: arith.xori
// AVX2: scf.parallel
// AVX2: %[[C:.*]] = vector.load %{{.*}} : memref<40x64xi8>, vector<32xi8>
// AVX2: %[[ABS:.*]] = math.absi %[[C]] : vector<32xi8>
// AVX2: %[[S:.*]] = llvm.call_intrinsic "llvm.x86.avx2.psign.b"(%{{.*}}, %[[C]])
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[ABS]], %[[S]])
// AVX2-NOT: linalg.generic
func.func @prefill_q8(%x: memref<?x64xf32>, %w: memref<40x64xi8>, %d: memref<40x2xf16>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #g, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<?x64xf32>, memref<40x64xi8>, memref<40x2xf16>) outs(%y : memref<?x40xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
    %wf = arith.sitofp %b : i8 to f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %df, %wf : f32
    %t = arith.mulf %a, %wv fastmath<reassoc,contract> : f32
    %r = arith.addf %acc, %t fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#y = affine_map<(n, t, k) -> (t, n)>

// Not q8: unsigned codes; the product runs as written, in loops.
// CHECK-LABEL: func.func @q8_unsigned
// CHECK-NOT: llvm.call_intrinsic
// CHECK: scf.for
// CHECK: arith.uitofp %{{.*}} : i8 to f32
func.func @q8_unsigned(%x: memref<?x64xf32>, %w: memref<40x64xi8>, %d: memref<40x2xf16>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #g, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %d : memref<?x64xf32>, memref<40x64xi8>, memref<40x2xf16>) outs(%y : memref<?x40xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %c: f16, %acc: f32):
    %wf = arith.uitofp %b : i8 to f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %df, %wf : f32
    %t = arith.mulf %a, %wv fastmath<reassoc,contract> : f32
    %r = arith.addf %acc, %t fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#p = affine_map<(n, t, k) -> (n, k floordiv 8)>
#g = affine_map<(n, t, k) -> (n, k floordiv 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 256)>
#y = affine_map<(n, t, k) -> (t, n)>

// A decode q6k product over 64 channels (one unit of two groups: four
// sub-blocks of 16). Per token each half's codes get their own -32 Σ q;
// per row the four int8 scales are converted (signed) and multiplied by
// the super-block's d, then spread to the lanes of each half (channels
// 0-15 of the groups: sub-blocks 0 and 2; 16-31: 1 and 3), and each half's
// sums are converted and scaled apart.
// CHECK-LABEL: func.func @decode_q6k
// CHECK-SAME: (%[[X:.*]]: memref<1x64xf32>, %[[W:.*]]: memref<8x32xi8>, %[[P4:.*]]: memref<8x8xi8>, %[[P5:.*]]: memref<8x8xi8>, %[[SC:.*]]: memref<8x4xi8>, %[[D:.*]]: memref<8x1xf16>, %[[Y:.*]]: memref<1x8xf32>)
// CHECK: %[[SCALES:.*]] = vector.load %[[SC]][%{{.*}}, %{{.*}}] : memref<8x4xi8>, vector<4xi8>
// CHECK: %[[SCALESF:.*]] = arith.sitofp %[[SCALES]] : vector<4xi8> to vector<4xf32>
// CHECK: %[[STEPS:.*]] = arith.mulf %[[SCALESF]], %{{.*}} : vector<4xf32>
// CHECK: vector.shuffle %[[STEPS]], %[[STEPS]] [0, 0, 0, 0, 2, 2, 2, 2]
// CHECK: vector.shuffle %[[STEPS]], %[[STEPS]] [1, 1, 1, 1, 3, 3, 3, 3]
// CHECK-COUNT-2: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK-NOT: linalg.generic
// AVX2-LABEL: func.func @decode_q6k
// AVX2-COUNT-2: arith.sitofp %{{.*}} : vector<8xi32> to vector<8xf32>
// AVX2-NOT: linalg.generic
func.func @decode_q6k(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %p4: memref<8x8xi8>, %p5: memref<8x8xi8>, %sc: memref<8x4xi8>, %d: memref<8x1xf16>, %y: memref<1x8xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c8 = arith.constant 8 : index
  %c4 = arith.constant 4 : i8
  %c5 = arith.constant 5 : i8
  %c15 = arith.constant 15 : i8
  %c1 = arith.constant 1 : i8
  %mid = arith.constant 32.0 : f32
  linalg.generic {indexing_maps = [#x, #w, #p, #p, #g, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %p4, %p5, %sc, %d : memref<1x64xf32>, memref<8x32xi8>, memref<8x8xi8>, memref<8x8xi8>, memref<8x4xi8>, memref<8x1xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bp4: i8, %bp5: i8, %bs: i8, %bd: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %c4, %h8 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %c15, %v : i8
    %kb = arith.remui %k, %c8 : index
    %kb8 = arith.index_cast %kb : index to i8
    %s4 = arith.shrui %bp4, %kb8 : i8
    %b4 = arith.andi %c1, %s4 : i8
    %h4 = arith.shli %b4, %c4 : i8
    %o4 = arith.ori %h4, %n : i8
    %s5 = arith.shrui %bp5, %kb8 : i8
    %b5 = arith.andi %s5, %c1 : i8
    %h5 = arith.shli %b5, %c5 : i8
    %code = arith.ori %o4, %h5 : i8
    %nf = arith.uitofp %code : i8 to f32
    %q = arith.subf %nf, %mid : f32
    %df = arith.extf %bd : f16 to f32
    %sf = arith.sitofp %bs : i8 to f32
    %step = arith.mulf %sf, %df : f32
    %wv = arith.mulf %step, %q : f32
    %t = arith.mulf %wv, %a fastmath<reassoc,contract> : f32
    %r = arith.addf %t, %acc fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#p = affine_map<(n, t, k) -> (n, k floordiv 8)>
#g = affine_map<(n, t, k) -> (n, k floordiv 16)>
#s = affine_map<(n, t, k) -> (n, k floordiv 256)>
#y = affine_map<(n, t, k) -> (t, n)>

// Not q6k: the sub-blocks' scales are read unsigned (Q6_K's are signed),
// so the product runs as written.
// CHECK-LABEL: func.func @q6k_unsigned_scales
// AVX2-LABEL: func.func @q6k_unsigned_scales
// CHECK-NOT: llvm.call_intrinsic
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: arith.uitofp %{{.*}} : i8 to f32
func.func @q6k_unsigned_scales(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %p4: memref<8x8xi8>, %p5: memref<8x8xi8>, %sc: memref<8x4xi8>, %d: memref<8x1xf16>, %y: memref<1x8xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c8 = arith.constant 8 : index
  %c4 = arith.constant 4 : i8
  %c5 = arith.constant 5 : i8
  %c15 = arith.constant 15 : i8
  %c1 = arith.constant 1 : i8
  %mid = arith.constant 32.0 : f32
  linalg.generic {indexing_maps = [#x, #w, #p, #p, #g, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %p4, %p5, %sc, %d : memref<1x64xf32>, memref<8x32xi8>, memref<8x8xi8>, memref<8x8xi8>, memref<8x4xi8>, memref<8x1xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bp4: i8, %bp5: i8, %bs: i8, %bd: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %c4, %h8 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %c15, %v : i8
    %kb = arith.remui %k, %c8 : index
    %kb8 = arith.index_cast %kb : index to i8
    %s4 = arith.shrui %bp4, %kb8 : i8
    %b4 = arith.andi %c1, %s4 : i8
    %h4 = arith.shli %b4, %c4 : i8
    %o4 = arith.ori %h4, %n : i8
    %s5 = arith.shrui %bp5, %kb8 : i8
    %b5 = arith.andi %s5, %c1 : i8
    %h5 = arith.shli %b5, %c5 : i8
    %code = arith.ori %o4, %h5 : i8
    %nf = arith.uitofp %code : i8 to f32
    %q = arith.subf %nf, %mid : f32
    %df = arith.extf %bd : f16 to f32
    %sf = arith.uitofp %bs : i8 to f32
    %step = arith.mulf %sf, %df : f32
    %wv = arith.mulf %step, %q : f32
    %t = arith.mulf %wv, %a fastmath<reassoc,contract> : f32
    %r = arith.addf %t, %acc fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>
#p = affine_map<(n, t, k) -> (n, k floordiv 8)>
#g = affine_map<(n, t, k) -> (n, k floordiv 32)>
#s = affine_map<(n, t, k) -> (n, k floordiv 256)>
#y = affine_map<(n, t, k) -> (t, n)>

// A decode q5k product over 64 channels: q4k's kernel (sums from zero, the
// minima by one more multiply-add) with the plane's bytes spread over the
// nibbles as q5's and or-ed in as 16. Each output first prefetches the row
// 8 KiB of weights ahead (clamped to the last, row 7) of every weight-side
// array: codes, plane, scales, minima and both factors.
// CHECK-LABEL: func.func @decode_q5k
// CHECK-DAG: %[[SIXTEEN:.*]] = arith.constant dense<16> : vector<32xi8>
// CHECK: %[[ROW:.*]] = arith.minui %{{.*}}, %c7 : index
// CHECK-NEXT: memref.prefetch %{{.*}}[%[[ROW]], %c0], read, locality<2>, data : memref<8x32xi8>
// CHECK-NEXT: memref.prefetch %{{.*}}[%[[ROW]], %c0], read, locality<2>, data : memref<8x8xi8>
// CHECK-COUNT-2: memref.prefetch %{{.*}}[%[[ROW]], %c0], read, locality<2>, data : memref<8x2xi8>
// CHECK-COUNT-2: memref.prefetch %{{.*}}[%[[ROW]], %c0], read, locality<2>, data : memref<8x1xf16>
// CHECK-NOT: memref.prefetch
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5]
// CHECK: arith.select %{{.*}}, %[[SIXTEEN]], %{{.*}} : vector<32xi1>, vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK: math.fma
// CHECK: math.fma
// CHECK-NOT: linalg.generic
// AVX2-LABEL: func.func @decode_q5k
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2-NOT: linalg.generic
func.func @decode_q5k(%x: memref<1x64xf32>, %w: memref<8x32xi8>, %p4: memref<8x8xi8>, %sc: memref<8x2xi8>, %m: memref<8x2xi8>, %d: memref<8x1xf16>, %dmin: memref<8x1xf16>, %y: memref<1x8xf32>) {
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %c8 = arith.constant 8 : index
  %c4 = arith.constant 4 : i8
  %c15 = arith.constant 15 : i8
  %c1 = arith.constant 1 : i8
  linalg.generic {indexing_maps = [#x, #w, #p, #g, #g, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %p4, %sc, %m, %d, %dmin : memref<1x64xf32>, memref<8x32xi8>, memref<8x8xi8>, memref<8x2xi8>, memref<8x2xi8>, memref<8x1xf16>, memref<8x1xf16>) outs(%y : memref<1x8xf32>)
      attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: i8, %bp4: i8, %bs: i8, %bm: i8, %bd: f16, %bdm: f16, %acc: f32):
    %k = linalg.index 2 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %sh = arith.muli %h8, %c4 : i8
    %v = arith.shrui %b, %sh : i8
    %n = arith.andi %v, %c15 : i8
    %kb = arith.remui %k, %c8 : index
    %kb8 = arith.index_cast %kb : index to i8
    %s4 = arith.shrui %bp4, %kb8 : i8
    %b4 = arith.andi %s4, %c1 : i8
    %h4 = arith.shli %b4, %c4 : i8
    %code = arith.ori %n, %h4 : i8
    %nf = arith.uitofp %code : i8 to f32
    %df = arith.extf %bd : f16 to f32
    %sf = arith.uitofp %bs : i8 to f32
    %step = arith.mulf %df, %sf : f32
    %dmf = arith.extf %bdm : f16 to f32
    %mf = arith.uitofp %bm : i8 to f32
    %off = arith.mulf %dmf, %mf : f32
    %scaled = arith.mulf %nf, %step : f32
    %wv = arith.subf %scaled, %off : f32
    %t = arith.mulf %a, %wv fastmath<reassoc,contract> : f32
    %r = arith.addf %acc, %t fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}
