// seq-gpu-schedule: an entry's host part after the GPU mapping becomes a
// static list of dispatches. Each kernel argument is bound at a 256-byte
// boundary of its buffer (an argument of the entry, or the scratch arena),
// and the rest of its offset moves into the kernel argument's layout.
// RUN: seqc-opt %s --seq-gpu-mapping-pipeline --seq-gpu-schedule -split-input-file -verify-diagnostics | FileCheck %s

// A weight at byte 320 (bound from 256; the kernel sees offset 16 floats),
// row 1 of a 4 x 8 state (bytes 32..63: bound from 0 with offset 8), a
// scratch buffer at 0.
// CHECK-LABEL: func.func @step
// CHECK-SAME: seq.gpu.schedule = [
// CHECK-SAME: {bindings = array<i64: 0, 256, 96, -1, 0, 32>, block = array<i64: 1, 1, 1>, grid = array<i64: 8, 1, 1>, kernel = @step_kernel::@step_kernel}
// CHECK-SAME: {bindings = array<i64: -1, 0, 32, 1, 0, 64>, block = array<i64: 1, 1, 1>, grid = array<i64: 8, 1, 1>, kernel = @step_kernel_0::@step_kernel}
// CHECK-SAME: seq.gpu.scratch_bytes = 32 : i64
// CHECK-NEXT: return
// CHECK: gpu.func @step_kernel(%{{.*}}: memref<8xf32, strided<[1], offset: 16>>, %{{.*}}: memref<8xf32>)
// CHECK: gpu.func @step_kernel(%{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32, strided<[1], offset: 8>>)
func.func @step(%w: memref<?xi8>, %state: memref<4x8xf32>) {
  %c320 = arith.constant 320 : index
  %view = memref.view %w[%c320][] : memref<?xi8> to memref<8xf32>
  %tmp = memref.alloc() : memref<8xf32>
  linalg.copy ins(%view : memref<8xf32>) outs(%tmp : memref<8xf32>)
  %row = memref.subview %state[1, 0] [1, 8] [1, 1] : memref<4x8xf32> to memref<8xf32, strided<[1], offset: 8>>
  linalg.copy ins(%tmp : memref<8xf32>) outs(%row : memref<8xf32, strided<[1], offset: 8>>)
  return
}

// -----

// A loop on the host (a prompt's tokens): no static schedule.
func.func @loop(%state: memref<8xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cst = arith.constant 1.0 : f32
  // expected-error @+1 {{the host part of @loop has 'scf.for', which a GPU schedule cannot run}}
  scf.for %i = %c0 to %n step %c1 {
    linalg.fill ins(%cst : f32) outs(%state : memref<8xf32>)
  }
  return
}

// -----

// Host code that reads a buffer.
func.func @host_load(%state: memref<8xf32>, %out: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{the host part of @host_load has 'memref.load', which a GPU schedule cannot run}}
  %x = memref.load %state[%c0] : memref<8xf32>
  linalg.fill ins(%x : f32) outs(%out : memref<8xf32>)
  return
}

// -----

// Two views of the same bytes (byte 256 of the weights, one directly and
// one as a subview of a view from byte 224), rebased to the same type: one
// argument and one binding, since bindings are few (32 storage buffers per
// kernel on lavapipe).
// CHECK-LABEL: func.func @twice
// CHECK-SAME: {bindings = array<i64: 0, 256, 32, 1, 0, 32>, block = array<i64: 1, 1, 1>, grid = array<i64: 8, 1, 1>, kernel = @twice_kernel::@twice_kernel}
// CHECK: gpu.func @twice_kernel(%[[A:[^:]*]]: memref<8xf32>, %{{[^:]*}}: memref<8xf32>)
// CHECK-COUNT-2: memref.load %[[A]]
func.func @twice(%w: memref<?xi8>, %out: memref<8xf32>) {
  %c224 = arith.constant 224 : index
  %c256 = arith.constant 256 : index
  %a = memref.view %w[%c256][] : memref<?xi8> to memref<8xf32>
  %big = memref.view %w[%c224][] : memref<?xi8> to memref<16xf32>
  %b = memref.subview %big[8] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 8>>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%a, %b : memref<8xf32>, memref<8xf32, strided<[1], offset: 8>>) outs(%out : memref<8xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}
