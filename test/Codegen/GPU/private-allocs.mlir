// seq-gpu-private-allocs: a buffer a thread allocates in a kernel (a
// prefill's WKV output row, per token) becomes an alloca of private memory
// at the kernel's entry, its dealloc gone; workgroup memory stays. The
// SPIR-V form names the Function storage class; the default (none) keeps
// the memory space, which NVVM makes local memory; `workgroup` (the Vulkan
// pipeline's) gives each thread its slice of one workgroup array, indexed
// by the thread's index in the workgroup.
// RUN: seqc-opt %s --pass-pipeline='builtin.module(gpu.module(seq-gpu-private-allocs{memory-space=function}))' | FileCheck %s
// RUN: seqc-opt %s --pass-pipeline='builtin.module(gpu.module(seq-gpu-private-allocs))' | FileCheck %s --check-prefix=NONE
// RUN: seqc-opt %s --pass-pipeline='builtin.module(gpu.module(seq-gpu-private-allocs{memory-space=workgroup}))' | FileCheck %s --check-prefix=WG

// CHECK-LABEL: gpu.func @row
// CHECK-NEXT: %[[ROW:.*]] = memref.alloca() {alignment = 64 : i64} : memref<1x64xf32, #spirv.storage_class<Function>>
// CHECK: memref.alloc() : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK-NOT: memref.alloc
// CHECK: memref.store %{{.*}}, %[[ROW]]
// CHECK-NOT: memref.dealloc
// NONE-LABEL: gpu.func @row
// NONE-NEXT: memref.alloca() {alignment = 64 : i64} : memref<1x64xf32>
// WG-LABEL: gpu.func @row
// WG: %[[X:.*]] = gpu.thread_id x
// WG: %[[Y:.*]] = gpu.thread_id y
// WG: %[[ID:.*]] = arith.addi %[[X]]
// WG: %[[ALL:.*]] = memref.alloc() : memref<32x1x64xf32, #gpu.address_space<workgroup>>
// WG: memref.store %{{.*}}, %[[ALL]][%[[ID]], %{{.*}}, %{{.*}}]
// WG: memref.load %[[ALL]][%[[ID]], %{{.*}}, %{{.*}}]
// WG-NOT: memref.dealloc
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @row(%out: memref<16x64xf32>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c16 = arith.constant 16 : index
      %c64 = arith.constant 64 : index
      %zero = arith.constant 0.0 : f32
      %shared = memref.alloc() : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %zero, %shared[%c0] : memref<64xf32, #gpu.address_space<workgroup>>
      scf.for %t = %c0 to %c16 step %c1 {
        %row = memref.alloc() {alignment = 64 : i64} : memref<1x64xf32>
        scf.for %j = %c0 to %c64 step %c1 {
          memref.store %zero, %row[%c0, %j] : memref<1x64xf32>
        }
        scf.for %j = %c0 to %c64 step %c1 {
          %v = memref.load %row[%c0, %j] : memref<1x64xf32>
          memref.store %v, %out[%t, %j] : memref<16x64xf32>
        }
        memref.dealloc %row : memref<1x64xf32>
      }
      gpu.return
    }
  }
}
