// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-fuse-product-loops))" | FileCheck %s

// Three decode products' loops of 64 rows: %a and %b write their own
// buffers and read only the input and their weights, so their loops merge;
// the free of %t, which the first loop reads, moves below the second, and
// the second's output buffer and its fill above the first. The third reads
// %a's output: it stays a loop of its own.
// CHECK-LABEL: func.func @fuse
// CHECK: memref.copy %{{.*}}, %[[T:.*]] :
// CHECK-NEXT: %[[A:.*]] = memref.alloc() : memref<64xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<64xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[B]] : memref<64xf32>)
// CHECK-NEXT: scf.parallel (%[[I:.*]]) =
// CHECK: memref.store %{{.*}}, %[[A]][%[[I]]]
// CHECK: memref.store %{{.*}}, %[[B]][%[[I]]]
// CHECK-NEXT: scf.reduce
// CHECK-NEXT: } {seq.decode_product}
// CHECK-NEXT: memref.dealloc %[[T]] : memref<64xf32>
// CHECK: scf.parallel
// CHECK: memref.load %[[A]]
// CHECK: } {seq.decode_product}
func.func @fuse(%x: memref<64xf32>, %wa: memref<64xf32>, %wb: memref<64xf32>, %wc: memref<64xf32>) -> (memref<64xf32>, memref<64xf32>, memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.alloc() : memref<64xf32>
  memref.copy %x, %t : memref<64xf32> to memref<64xf32>
  %a = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    %w = memref.load %wa[%i] : memref<64xf32>
    %p = arith.mulf %v, %w : f32
    memref.store %p, %a[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  memref.dealloc %t : memref<64xf32>
  %b = memref.alloc() : memref<64xf32>
  linalg.fill ins(%zero : f32) outs(%b : memref<64xf32>)
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %x[%i] : memref<64xf32>
    %w = memref.load %wb[%i] : memref<64xf32>
    %o = memref.load %b[%i] : memref<64xf32>
    %p = arith.mulf %v, %w : f32
    %s = arith.addf %o, %p : f32
    memref.store %s, %b[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  %c = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %a[%i] : memref<64xf32>
    %w = memref.load %wc[%i] : memref<64xf32>
    %p = arith.mulf %v, %w : f32
    memref.store %p, %c[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  return %a, %b, %c : memref<64xf32>, memref<64xf32>, memref<64xf32>
}

// -----

// Loops stay apart: over other bounds (%b), without the mark (%c), and
// where an op between them writes a buffer both read (%s, the copy into
// %t: it can go neither above the first loop nor below the second).
// CHECK-LABEL: func.func @apart
// CHECK-COUNT-4: scf.parallel
func.func @apart(%x: memref<64xf32>, %wa: memref<64xf32>, %t: memref<64xf32>) -> (memref<64xf32>, memref<32xf32>, memref<64xf32>, memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %a = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    memref.store %v, %a[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  %b = memref.alloc() : memref<32xf32>
  scf.parallel (%i) = (%c0) to (%c32) step (%c1) {
    %v = memref.load %x[%i] : memref<64xf32>
    memref.store %v, %b[%i] : memref<32xf32>
    scf.reduce
  } {seq.decode_product}
  %c = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %x[%i] : memref<64xf32>
    memref.store %v, %c[%i] : memref<64xf32>
    scf.reduce
  }
  memref.copy %x, %t : memref<64xf32> to memref<64xf32>
  %s = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    memref.store %v, %s[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  return %a, %b, %c, %s : memref<64xf32>, memref<32xf32>, memref<64xf32>, memref<64xf32>
}

// -----

// A linalg op between the loops reads the first's output and writes what
// the second reads (its effects are its own, not its body's): the loops
// stay apart and it stays between them.
// CHECK-LABEL: func.func @linalg_between
// CHECK: scf.parallel
// CHECK: } {seq.decode_product}
// CHECK-NEXT: linalg.copy
// CHECK-NEXT: memref.alloc
// CHECK-NEXT: scf.parallel
func.func @linalg_between(%x: memref<64xf32>, %u: memref<64xf32>) -> (memref<64xf32>, memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %a = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %x[%i] : memref<64xf32>
    memref.store %v, %a[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  linalg.copy ins(%a : memref<64xf32>) outs(%u : memref<64xf32>)
  %b = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %u[%i] : memref<64xf32>
    memref.store %v, %b[%i] : memref<64xf32>
    scf.reduce
  } {seq.decode_product}
  return %a, %b : memref<64xf32>, memref<64xf32>
}
