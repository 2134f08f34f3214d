// seq-gpu-products subgroup-reduce: the threads' sums of a workgroup are
// added by subgroup arithmetic first; the first thread of each subgroup
// stores its subgroup's sum at its subgroup's slot, one barrier, and thread
// 0 adds the subgroups' sums (gpu.num_subgroups of them, at most 64: the
// loop carries that bound for devices that count loop iterations). With a
// tile of tokens (prefill), one subgroup sum per token at slot
// token * 64 + subgroup. No tree of halving steps is left.
// RUN: seqc-opt %s --seq-gpu-products=subgroup-reduce --cse | FileCheck %s

#x = affine_map<(d0, d1, d2) -> (d1, d2)>
#w = affine_map<(d0, d1, d2) -> (d0, d2)>
#y = affine_map<(d0, d1, d2) -> (d1, d0)>

// CHECK-LABEL: func.func @matvec
// CHECK: %[[PART:.*]] = memref.alloc() : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: scf.parallel (%[[T:.*]]) = (%c0) to (%c64{{.*}}) step (%c1)
// CHECK: %[[SUM:.*]] = scf.for
// CHECK: %[[SG:.*]] = gpu.subgroup_reduce add %[[SUM]] : (f32) -> f32
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[FIRST]] {
// CHECK:   %[[ID:.*]] = gpu.subgroup_id upper_bound 64 : index
// CHECK:   memref.store %[[SG]], %[[PART]][%[[ID]]]
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: arith.cmpi eq, %[[T]], %c0
// CHECK: %[[N:.*]] = gpu.num_subgroups upper_bound 64 : index
// CHECK: %[[TOTAL:.*]] = scf.for %[[I:.*]] = %c0 to %[[N]] step %c1 iter_args(%[[A:.*]] = %cst) -> (f32)
// CHECK:   %[[V:.*]] = memref.load %[[PART]][%[[I]]]
// CHECK:   arith.addf %[[A]], %[[V]]
// CHECK: } {seq.max_trips = 64 : i64}
// CHECK: arith.addf %{{.*}}, %[[TOTAL]]
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

// Two tokens per workgroup: two subgroup sums, the second at slot 64 + id.
// CHECK-LABEL: func.func @prefill
// CHECK: memref.alloc() : memref<128xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.subgroup_reduce add
// CHECK: gpu.subgroup_reduce add
// CHECK: scf.if
// CHECK: %[[ID2:.*]] = gpu.subgroup_id upper_bound 64 : index
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[ID2]]]
// CHECK: %[[SLOT:.*]] = arith.addi %[[ID2]], %c64
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[SLOT]]]
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: return
func.func @prefill(%x: memref<2x64xf32>, %w: memref<4x64xf32>, %y: memref<2x4xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x64xf32>, memref<4x64xf32>) outs(%y : memref<2x4xf32>) attrs = {seq.parallel} {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b fastmath<reassoc,contract> : f32
    %s = arith.addf %out, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}
