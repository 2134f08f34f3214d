// seq-gpu-products: a marked product on buffers becomes a workgroup per
// output element (blocks over the two parallel dimensions), whose 64
// threads take every 64th reduction index with the product's own body,
// then add their partial sums by a tree in workgroup memory; thread 0 adds
// the total to the output. Other ops are left alone.
// RUN: seqc-opt %s --seq-gpu-products --cse | FileCheck %s

#x = affine_map<(d0, d1, d2) -> (d1, d2)>
#w = affine_map<(d0, d1, d2) -> (d0, d2)>
#y = affine_map<(d0, d1, d2) -> (d1, d0)>

// CHECK-LABEL: func.func @matvec
// CHECK: scf.parallel (%[[ROW:.*]], %[[TOK:.*]]) = (%c0, %c0) to (%c8, %c1) step (%c1, %c1)
// CHECK: %[[PART:.*]] = memref.alloc() : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: scf.parallel (%[[T:.*]]) = (%c0) to (%c64{{.*}}) step (%c1)
// CHECK: %[[SUM:.*]] = scf.for %[[K:.*]] = %[[T]] to %c100 step %c64{{.*}} iter_args(%[[ACC:.*]] = %cst) -> (f32)
// CHECK: memref.load %{{.*}}[%[[TOK]], %[[K]]] : memref<1x100xf32>
// CHECK: memref.load %{{.*}}[%[[ROW]], %[[K]]] : memref<8x100xf16>
// CHECK: arith.extf
// CHECK: arith.mulf {{.*}} fastmath<reassoc,contract>
// CHECK: arith.addf %[[ACC]], {{.*}} fastmath<reassoc,contract>
// CHECK: memref.store %[[SUM]], %[[PART]][%[[T]]]
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: arith.cmpi eq, %[[T]], %c0
// CHECK: memref.load %{{.*}}[%[[TOK]], %[[ROW]]] : memref<1x8xf32>
// CHECK: {mapping = [#gpu.loop_dim_map<processor = thread_x
// CHECK: {mapping = [#gpu.loop_dim_map<processor = block_x{{.*}}#gpu.loop_dim_map<processor = block_y
// CHECK-NOT: linalg.generic
func.func @matvec(%x: memref<1x100xf32>, %w: memref<8x100xf16>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x100xf32>, memref<8x100xf16>) outs(%y : memref<1x8xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f16, %out: f32):
    %e = arith.extf %b : f16 to f32
    %p = arith.mulf %a, %e fastmath<reassoc,contract> : f32
    %s = arith.addf %out, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// The reduction index of the body (q4 nibbles: which half of a byte) is
// the thread's loop index.
// CHECK-LABEL: func.func @indexed
// CHECK: scf.for %[[K2:.*]] = %{{.*}} to %c64{{.*}} step %c64
// CHECK: arith.remui %[[K2]], %c2
func.func @indexed(%x: memref<1x64xf32>, %w: memref<4x64xf32>, %y: memref<1x4xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<4x64xf32>) outs(%y : memref<1x4xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %k = linalg.index 2 : index
    %c2 = arith.constant 2 : index
    %r = arith.remui %k, %c2 : index
    %i = arith.index_cast %r : index to i32
    %f = arith.sitofp %i : i32 to f32
    %p = arith.mulf %a, %f : f32
    %q = arith.mulf %p, %b : f32
    %s = arith.addf %out, %q : f32
    linalg.yield %s : f32
  }
  return
}

// Not marked, or not a sum into the output: left alone.
// CHECK-LABEL: func.func @unmarked
// CHECK: linalg.generic
// CHECK-LABEL: func.func @maximum
// CHECK: linalg.generic
func.func @unmarked(%x: memref<1x64xf32>, %w: memref<4x64xf32>, %y: memref<1x4xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<4x64xf32>) outs(%y : memref<1x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @maximum(%x: memref<1x64xf32>, %w: memref<4x64xf32>, %y: memref<1x4xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<4x64xf32>) outs(%y : memref<1x4xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.maximumf %out, %p : f32
    linalg.yield %s : f32
  }
  return
}

// A prefill's product (8 tokens): a workgroup per row and 8 tokens, each
// thread summing 8 tokens' terms, the weight loaded once for them all.
// CHECK-LABEL: func.func @tokens
// CHECK: scf.parallel (%[[R:.*]], %[[TB:.*]]) = (%c0, %c0) to (%c16, %c1)
// CHECK: memref.alloc() : memref<512xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-8: memref.load %{{.*}} : memref<8x32xf32>
// CHECK-NOT: memref.load
// CHECK: memref.load %{{.*}} : memref<16x32xf16>
// CHECK-NOT: memref.load
// CHECK: arith.extf
// CHECK-NOT: arith.extf
// CHECK-COUNT-8: arith.mulf
// CHECK: scf.yield
func.func @tokens(%x: memref<8x32xf32>, %w: memref<16x32xf16>, %y: memref<8x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<8x32xf32>, memref<16x32xf16>) outs(%y : memref<8x16xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f16, %out: f32):
    %e = arith.extf %b : f16 to f32
    %p = arith.mulf %a, %e fastmath<reassoc,contract> : f32
    %s = arith.addf %out, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}
