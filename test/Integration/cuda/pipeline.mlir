// seq-cuda-pipeline up to NVVM (no toolkit needed): the shared GPU mapping
// gives the same launches as for Vulkan; workgroup memory becomes a .shared
// (address space 3) global, memrefs bare pointers declared 16-byte aligned
// (each buffer is a whole allocation of the driver), the block size maxntid,
// gpu.barrier nvvm.barrier0, math.exp a call to libdevice's __nv_expf
// (linked when the module is serialized with the toolkit, ptxas.test).
// RUN: seqc-opt %seqc_src_root/lib/Target/GPU/kernels/decode.mlir --seq-cuda-pipeline | FileCheck %s
// RUN: seqc-opt %seqc_src_root/lib/Target/GPU/kernels/decode.mlir '--seq-cuda-pipeline=chip=sm_100' | FileCheck %s --check-prefix=CHIP
// The start is the mapping both targets share.
// RUN: seqc-opt %seqc_src_root/lib/Target/GPU/kernels/decode.mlir --seq-gpu-mapping-pipeline | FileCheck %s --check-prefix=MAP
// RUN: not seqc-opt %seqc_src_root/lib/Target/GPU/kernels/decode.mlir '--seq-cuda-pipeline=format=elf' 2>&1 | FileCheck %s --check-prefix=FORMAT

// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.launch_func  @matvec_f32_kernel::@matvec_f32_kernel blocks in (%c512, %c1, %c1) threads in (%c64, %c1, %c1)  args(%arg0 : memref<512x256xf32>, %arg1 : memref<256xf32>, %arg2 : memref<512xf32>)
// CHECK: gpu.module @matvec_f32_kernel [#nvvm.target<O = 3, chip = "sm_90">]
// CHECK-NEXT: llvm.mlir.global internal @__wg_matvec_f32_kernel_0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<64 x f32>
// CHECK-NEXT: llvm.func @matvec_f32_kernel(%arg0: !llvm.ptr {llvm.align = 16 : i64}, %arg1: !llvm.ptr {llvm.align = 16 : i64}, %arg2: !llvm.ptr {llvm.align = 16 : i64}) attributes {gpu.kernel, {{.*}}nvvm.kernel, nvvm.maxntid = array<i32: 64, 1, 1>}
// CHECK-NOT: llvm.call @malloc
// CHECK: nvvm.barrier0
// CHECK: gpu.launch_func  @matvec_f16_kernel::@matvec_f16_kernel {{.*}} args(%arg0 : memref<512x128xi32>, %arg1 : memref<256xf32>, %arg2 : memref<512xf32>)
// CHECK: gpu.module @matvec_f16_kernel
// CHECK: llvm.bitcast %{{.*}} : i16 to f16
// CHECK: llvm.fpext %{{.*}} : f16 to f32
// CHECK: gpu.launch_func  @matvec_i8_kernel::@matvec_i8_kernel {{.*}} args(%arg0 : memref<512x64xi32>, %arg2 : memref<256xf32>, %arg1 : memref<512xf32>, %arg3 : memref<512xf32>)
// CHECK: gpu.module @matvec_i8_kernel
// CHECK: llvm.ashr %{{.*}}, %{{.*}} : i32
// CHECK: llvm.sitofp %{{.*}} : i32 to f32
// CHECK: gpu.module @wkv4_step_kernel [#nvvm.target<O = 3, chip = "sm_90">]
// CHECK-NEXT: llvm.func @__nv_expf(f32) -> f32
// CHECK-NEXT: llvm.func @wkv4_step_kernel(%arg0: !llvm.ptr {llvm.align = 16 : i64}, {{.*}}nvvm.maxntid = array<i32: 64, 1, 1>}
// CHECK-COUNT-4: llvm.call @__nv_expf

// CHIP: gpu.module @matvec_f32_kernel [#nvvm.target<O = 3, chip = "sm_100">]

// MAP: gpu.func @matvec_f32_kernel(%arg0: memref<512x256xf32>, %arg1: memref<256xf32>, %arg2: memref<512xf32>) kernel attributes {known_block_size = array<i32: 64, 1, 1>, known_grid_size = array<i32: 512, 1, 1>}
// MAP: memref.alloc() : memref<64xf32, #gpu.address_space<workgroup>>

// FORMAT: seq-cuda-pipeline: format=elf: expected isa, bin or fatbin
