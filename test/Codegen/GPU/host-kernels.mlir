// seq-gpu-host-kernels: what a KV-cache lowering leaves on the host of a GPU
// entry moves into kernels. The marked heads' loop (scf.parallel after
// seq-parallelize-loops) gets the length read; the
// append under scf.if on the cache's length becomes a one-iteration loop
// (one thread); the length read is cloned into each loop that uses it, and
// the views of the state move out of the kernels.
// RUN: seqc-opt %s --split-input-file --verify-diagnostics --pass-pipeline="builtin.module(func.func(seq-parallelize-loops,seq-gpu-host-kernels))" | FileCheck %s

// CHECK-LABEL: func.func @step
// CHECK-NOT: memref.load
// CHECK: %[[HDR:.*]] = memref.view %arg0[%c0][] : memref<?xi8> to memref<2xi64>
// CHECK: %[[ROWS:.*]] = memref.view %arg0[%c64][] : memref<?xi8> to memref<2x8x4xf32>
// CHECK: scf.parallel (%{{.*}}) = (%c0{{.*}}) to (%c1{{.*}}) step (%c1{{.*}}) {
// CHECK-NEXT: %[[LEN:.*]] = memref.load %[[HDR]][%c0] : memref<2xi64>
// CHECK-NEXT: %[[N:.*]] = arith.index_cast %[[LEN]] : i64 to index
// CHECK-NEXT: %[[ROOM:.*]] = arith.cmpi slt, %[[N]], %c8 : index
// CHECK-NEXT: scf.if %[[ROOM]] {
// CHECK: memref.store %{{.*}}, %[[HDR]][%c0] : memref<2xi64>
// CHECK: scf.parallel (%[[H:.*]]) = (%c0) to (%c2) step (%c1) {
// CHECK-NEXT: %[[LEN2:.*]] = memref.load %{{.*}}[%c0] : memref<2xi64>
// CHECK-NEXT: %[[N2:.*]] = arith.index_cast %[[LEN2]] : i64 to index
// CHECK: scf.for %{{.*}} = %c0 to %[[N2]] step %c1
// CHECK: return
func.func @step(%state: memref<?xi8>, %key: memref<2x4xf32>, %out: memref<2xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %hdr = memref.view %state[%c0][] : memref<?xi8> to memref<2xi64>
  %len = memref.load %hdr[%c0] : memref<2xi64>
  %n = arith.index_cast %len : i64 to index
  %room = arith.cmpi slt, %n, %c8 : index
  scf.if %room {
    %rows = memref.view %state[%c64][] : memref<?xi8> to memref<2x8x4xf32>
    scf.for %h = %c0 to %c2 step %c1 {
      scf.for %d = %c0 to %c4 step %c1 {
        %x = memref.load %key[%h, %d] : memref<2x4xf32>
        memref.store %x, %rows[%h, %n, %d] : memref<2x8x4xf32>
      }
    }
    %next = arith.addi %n, %c1 : index
    %next64 = arith.index_cast %next : index to i64
    memref.store %next64, %hdr[%c0] : memref<2xi64>
  }
  %len2 = memref.load %hdr[%c0] : memref<2xi64>
  %n2 = arith.index_cast %len2 : i64 to index
  scf.for %h = %c0 to %c2 step %c1 {
    %rows = memref.view %state[%c64][] : memref<?xi8> to memref<2x8x4xf32>
    %sum = scf.for %t = %c0 to %n2 step %c1 iter_args(%acc = %zero) -> f32 {
      %x = memref.load %rows[%h, %t, %c0] : memref<2x8x4xf32>
      %a = arith.addf %acc, %x : f32
      scf.yield %a : f32
    }
    memref.store %sum, %out[%h] : memref<2xf32>
  } {seq.parallel}
  return
}

// -----

// A read whose memory is written before the kernel that would use it: the
// value the host read is not the one the kernel would read.
func.func @stale(%state: memref<?xi8>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %one = arith.constant 1 : i64
  %hdr = memref.view %state[%c0][] : memref<?xi8> to memref<2xi64>
  // expected-error @+1 {{this read runs on the GPU, inside the kernel that uses it, but the memory it reads may be written before that kernel}}
  %len = memref.load %hdr[%c0] : memref<2xi64>
  // expected-note @+1 {{written here}}
  memref.store %one, %hdr[%c1] : memref<2xi64>
  %f = arith.uitofp %len : i64 to f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %f, %out[%i] : memref<4xf32>
  }
  return
}

// -----

// A grid read from memory.
func.func @grid(%state: memref<?xi8>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %hdr = memref.view %state[%c0][] : memref<?xi8> to memref<2xi64>
  %len = memref.load %hdr[%c0] : memref<2xi64>
  %n = arith.index_cast %len : i64 to index
  // expected-error @+1 {{a GPU kernel's grid must be known when the model is compiled; this loop's bounds are read from memory at run time}}
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %zero, %out[%i] : memref<4xf32>
  }
  return
}
