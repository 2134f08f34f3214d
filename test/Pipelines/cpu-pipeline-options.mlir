// seq-cpu-pipeline's options reach seq-parallelize-products; values out of
// range are refused with a message when the pipeline is parsed (no crash).
// RUN: seqc-opt %s --pass-pipeline="builtin.module(seq-cpu-pipeline{int8-dot=avx512vnni activation-block=64 float-lanes=16})" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s
// CHECK: func.func(
// CHECK-NEXT: seq-group-products{min-decode-elements=65536}
// CHECK: one-shot-bufferize
// CHECK: func.func(
// CHECK-NEXT: convert-vector-to-scf
// CHECK: seq-parallelize-products{activation-block=64 float-lanes=16 int8-dot=avx512vnni min-decode-elements=65536}
// CHECK: func.func(
// CHECK-NEXT: seq-fuse-product-loops
// CHECK: async-parallel-for{async-dispatch=false min-task-size=512 num-workers=-1}
// CHECK: seq-parallelize-loops
// CHECK: async-parallel-for{async-dispatch=false min-task-size=1 num-workers=-1}
// CHECK: seq-strided-copy-to-linalg{all=false},
// CHECK-NEXT: convert-linalg-to-loops
// CHECK: reconcile-unrealized-casts

// RUN: not seqc-opt %s --pass-pipeline="builtin.module(seq-cpu-pipeline{int8-dot=bogus})" 2>&1 | FileCheck %s --check-prefix=BAD-KERNEL
// BAD-KERNEL: for the --int8-dot option: Cannot find option named 'bogus'!
// BAD-KERNEL: failed to add `seq-cpu-pipeline` with options `int8-dot=bogus`
// BAD-KERNEL-NOT: LLVM ERROR

// RUN: not seqc-opt %s --pass-pipeline="builtin.module(seq-cpu-pipeline{activation-block=6})" 2>&1 | FileCheck %s --check-prefix=BAD-BLOCK
// BAD-BLOCK: seq-cpu-pipeline: activation-block=6: expected a positive multiple of 4

// RUN: not seqc-opt %s --pass-pipeline="builtin.module(seq-cpu-pipeline{float-lanes=4})" 2>&1 | FileCheck %s --check-prefix=BAD-LANES
// BAD-LANES: seq-cpu-pipeline: float-lanes=4: expected 0, 8 or 16

module {
}
