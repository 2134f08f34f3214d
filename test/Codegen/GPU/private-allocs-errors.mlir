// seq-gpu-private-allocs refuses what private memory cannot hold: a size
// known only at run time, and more bytes per thread than max-bytes.
// RUN: seqc-opt %s --split-input-file --pass-pipeline='builtin.module(gpu.module(seq-gpu-private-allocs{max-bytes=128}))' -verify-diagnostics

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @dynamic(%n: index) kernel {
      // expected-error @+1 {{kernel @dynamic allocates a buffer of a dynamic size, a layout or non-scalar elements, which no thread can take from private memory: 'memref<?xf32>'}}
      %b = memref.alloc(%n) : memref<?xf32>
      %c0 = arith.constant 0 : index
      %z = arith.constant 0.0 : f32
      memref.store %z, %b[%c0] : memref<?xf32>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @big() kernel {
      %a = memref.alloc() : memref<16xf32>
      // expected-error @+1 {{kernel @big allocates 192 bytes of scratch for its threads, more than the 128 allowed (max-bytes)}}
      %b = memref.alloc() : memref<32xf32>
      %c0 = arith.constant 0 : index
      %z = arith.constant 0.0 : f32
      memref.store %z, %a[%c0] : memref<16xf32>
      memref.store %z, %b[%c0] : memref<32xf32>
      gpu.return
    }
  }
}
