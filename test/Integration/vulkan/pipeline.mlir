// seq-vulkan-pipeline: an unmapped linalg op gets the greedy mapping (one
// workgroup per element), math.exp becomes GL.Exp inside the kernel's
// spirv.module, and the entry point has the launch's workgroup size.
// RUN: seqc-opt %s --seq-vulkan-pipeline | FileCheck %s
// Mapped loops: 64 invocations per workgroup and workgroup memory.
// RUN: seqc-opt %seqc_src_root/lib/Target/GPU/kernels/decode.mlir --seq-vulkan-pipeline | FileCheck %s --check-prefix=MATVEC
// A profile file is read (and a bad one refused).
// RUN: seqc-opt %seqc_src_root/lib/Target/GPU/kernels/decode.mlir '--seq-vulkan-pipeline=profile=%S/Inputs/big-shared.profile' | FileCheck %s --check-prefix=PROFILE
// RUN: not seqc-opt %s '--seq-vulkan-pipeline=profile=%S/Inputs/bad.profile' 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK: module attributes {gpu.container_module, spirv.target_env = #spirv.target_env<#spirv.vce<v1.3, [Shader, Float16, Float64, Int8, Int16, Int64
// CHECK-SAME: subgroup_size = 8
// CHECK: func.func @exp
// CHECK: gpu.launch_func  @exp_kernel::@exp_kernel blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in
// CHECK: spirv.module @__spv__exp_kernel Logical GLSL450 requires #spirv.vce<v1.0, [Shader, Matrix], [SPV_KHR_storage_buffer_storage_class]>
// CHECK: spirv.GlobalVariable @exp_kernel_arg_0 bind(0, 0)
// CHECK: spirv.GlobalVariable @exp_kernel_arg_1 bind(0, 1)
// CHECK: spirv.GL.Exp
// CHECK: spirv.EntryPoint "GLCompute" @exp_kernel
// CHECK: spirv.ExecutionMode @exp_kernel "LocalSize", 1, 1, 1

// MATVEC: spirv.module @__spv__matvec_f32_kernel
// MATVEC: spirv.GlobalVariable @__workgroup_mem__{{[0-9]+}} : !spirv.ptr<!spirv.struct<(!spirv.array<64 x f32>)>, Workgroup>
// MATVEC: spirv.ControlBarrier <Workgroup>, <Workgroup>, <AcquireRelease|WorkgroupMemory>
// MATVEC: spirv.ExecutionMode @matvec_f32_kernel "LocalSize", 64, 1, 1
// The f16 and int8 weights are read as 32-bit words and unpacked: halves
// by a 16-bit bitcast (Int16, Float16; no 16-bit storage), bytes by shifts
// in 32-bit integers (no Int8 at all).
// MATVEC: spirv.module @__spv__matvec_f16_kernel Logical GLSL450 requires #spirv.vce<v1.0, [Shader, Int16, Float16, Matrix]
// MATVEC: spirv.Bitcast %{{.*}} : i16 to f16
// MATVEC: spirv.FConvert %{{.*}} : f16 to f32
// MATVEC: spirv.module @__spv__matvec_i8_kernel Logical GLSL450 requires #spirv.vce<v1.0, [Shader, Matrix]
// MATVEC: spirv.ShiftRightArithmetic %{{.*}}, %{{.*}} : i32, i32
// MATVEC: spirv.ConvertSToF %{{.*}} : i32 to f32
// MATVEC: spirv.module @__spv__wkv4_step_kernel
// MATVEC-COUNT-4: spirv.GL.Exp

// PROFILE: max_compute_shared_memory_size = 65536
// PROFILE-NOT: Float64

// BAD: bad.profile:3: unknown feature 'cooperativeMatrix'

func.func @exp(%x: memref<1000xf32>, %y: memref<1000xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<1000xf32>) outs(%y : memref<1000xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }
  return
}
