// seq-gpu-split-products: a marked product whose largest buffer exceeds one
// storage binding (less the 256 bytes a binding may start before its view)
// becomes products over ranges of the loop that indexes that buffer's rows,
// on subviews of every buffer the loop indexes. Here a 100 x 64 f32 weight
// (25600 bytes) with 8448-byte bindings: 8192 usable bytes, 32 rows of 256
// bytes, so ranges of 32, 32, 32 and 4 rows, each with its slice of the
// per-row scales and of the output.
// RUN: seqc-opt %s --split-input-file --verify-diagnostics --pass-pipeline="builtin.module(func.func(seq-gpu-split-products{max-binding-bytes=8448}))" | FileCheck %s
// Rows past a grid dimension (max-workgroups, 65535 by default) split the
// same way, whatever the bytes: 100 rows at most 60 a launch.
// RUN: seqc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(seq-gpu-split-products{max-workgroups=60}))" 2>/dev/null | FileCheck %s --check-prefix=ROWS
// ROWS-LABEL: func.func @head
// ROWS: memref.subview %arg1[0, 0] [60, 64] [1, 1]
// ROWS: memref.subview %arg1[60, 0] [40, 64] [1, 1]
// ROWS-NOT: memref.subview %arg1
// ROWS-LABEL: func.func @wide
// ROWS-NOT: memref.subview

// CHECK-LABEL: func.func @head
// CHECK: %[[W0:.*]] = memref.subview %arg1[0, 0] [32, 64] [1, 1]
// CHECK: %[[S0:.*]] = memref.subview %arg2[0] [32] [1]
// CHECK: %[[O0:.*]] = memref.subview %arg3[0, 0] [1, 32] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[W0]], %[[S0]] : {{.*}}) outs(%[[O0]] : {{.*}}) attrs = {seq.parallel}
// CHECK: memref.subview %arg1[32, 0] [32, 64] [1, 1]
// CHECK: memref.subview %arg1[64, 0] [32, 64] [1, 1]
// CHECK: %[[W3:.*]] = memref.subview %arg1[96, 0] [4, 64] [1, 1]
// CHECK: %[[O3:.*]] = memref.subview %arg3[0, 96] [1, 4] [1, 1]
// CHECK: linalg.generic {{.*}} outs(%[[O3]]
// CHECK-NOT: linalg.generic
// CHECK: return
#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#s = affine_map<(n, t, k) -> (n)>
#o = affine_map<(n, t, k) -> (t, n)>
func.func @head(%x: memref<1x64xf32>, %w: memref<100x64xf32>, %s: memref<100xf32>, %o: memref<1x100xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #o],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<1x64xf32>, memref<100x64xf32>, memref<100xf32>)
      outs(%o : memref<1x100xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %c: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %n = arith.mulf %m, %c : f32
    %r = arith.addf %acc, %n : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// One row larger than a binding.
func.func @wide(%x: memref<1x4096xf32>, %w: memref<4x4096xf32>, %o: memref<1x4xf32>) {
  // expected-error @+1 {{one row of a product's buffer (16384 bytes) exceeds one storage binding (8192 usable bytes)}}
  linalg.generic {indexing_maps = [affine_map<(n, t, k) -> (t, k)>, affine_map<(n, t, k) -> (n, k)>, affine_map<(n, t, k) -> (t, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x4096xf32>, memref<4x4096xf32>)
      outs(%o : memref<1x4xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A gather (an embedding row per token) from a 100 x 64 f32 table: the
// load reads from subviews of rows 0..31, 32..63, 64..95 and 96..99, the
// range chosen by the row index.
// CHECK-LABEL: func.func @embed
// CHECK: %[[T:.*]] = memref.view
// CHECK-NEXT: %[[P0:.*]] = memref.subview %[[T]][0, 0] [32, 64] [1, 1]
// CHECK-NEXT: %[[P1:.*]] = memref.subview %[[T]][32, 0] [32, 64] [1, 1]
// CHECK-NEXT: %[[P2:.*]] = memref.subview %[[T]][64, 0] [32, 64] [1, 1]
// CHECK-NEXT: %[[P3:.*]] = memref.subview %[[T]][96, 0] [4, 64] [1, 1]
// CHECK: linalg.generic
// CHECK: arith.cmpi ult, %[[ROW:.*]], %c32
// CHECK: memref.load %[[P0]]
// CHECK: arith.cmpi ult, %[[ROW]], %c64
// CHECK: memref.load %[[P1]]
// CHECK: arith.cmpi ult, %[[ROW]], %c96
// CHECK: memref.load %[[P2]]
// CHECK: arith.subi %[[ROW]], %c96
// CHECK: memref.load %[[P3]]
// CHECK-NOT: memref.load %[[T]]
func.func @embed(%w: memref<?xi8>, %tokens: memref<4xi32>, %x: memref<4x64xf32>) {
  %c0 = arith.constant 0 : index
  %table = memref.view %w[%c0][] : memref<?xi8> to memref<100x64xf32>
  linalg.generic {indexing_maps = [affine_map<(t, c) -> (t)>, affine_map<(t, c) -> (t, c)>], iterator_types = ["parallel", "parallel"]}
      ins(%tokens : memref<4xi32>) outs(%x : memref<4x64xf32>) {
  ^bb0(%tok: i32, %out: f32):
    %row = arith.index_cast %tok : i32 to index
    %c = linalg.index 1 : index
    %v = memref.load %table[%row, %c] : memref<100x64xf32>
    linalg.yield %v : f32
  }
  return
}
