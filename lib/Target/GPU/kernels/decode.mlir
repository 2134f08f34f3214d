// Decode kernels for the GPU targets (vulkan, cuda), as loops on memrefs
// that the shared GPU mapping (buildGPUMappingPipeline, used by
// seq-vulkan-pipeline and seq-cuda-pipeline) maps: the outer scf.parallel to
// workgroups (CUDA blocks), the inner one to the 64 invocations (threads) of
// a workgroup.
//
// matvec_*: y[r] = sum_k W[r, k] * x[k] for a 512 x 256 weight, one
// workgroup per row: each invocation sums its share of the row's 32-bit
// words (words j = t, t + 64, ...), then a tree reduction in workgroup
// memory (6 halving steps, a barrier after each) adds the 64 partial sums.
// The weights are f32 (one a word), f16 (two a word, the lower half first:
// the bytes of the f16 row, unpacked by a 16-bit bitcast and widened to
// f32) or int8 with one f32 scale per row (four a word, the lowest byte
// first, sign-extended by shifts in 32-bit integers; y[r] = scale[r] *
// sum_k W[r, k] * x[k]). Loading whole words keeps every load 32 bits wide
// on both targets (with 2- and 1-byte loads the f16 and int8 products
// streamed 3.2 and 0.69 TB/s on an H200 whose copy reaches 4.1) and leaves
// the int8 kernel with no 8-bit type at all (no shaderInt8 or 8-bit
// storage needed).
//
// wkv4_step: one RWKV-4 decode step, one invocation per channel (1024
// channels, 64 per workgroup), in the numerically stable aa/bb/pp form:
//   ww = u + k;  p = max(pp, ww);  e1 = exp(pp - p);  e2 = exp(ww - p)
//   y  = (e1 * aa + e2 * v) / (e1 * bb + e2)
//   ww = w + pp; p = max(ww, k);   e1 = exp(ww - p);  e2 = exp(k - p)
//   aa = e1 * aa + e2 * v;  bb = e1 * bb + e2;  pp = p
// with w the decay as the model stores it (-exp(time_decay)) and u the
// bonus (time_first); aa, bb, pp are updated in place.

#blocks = #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#threads = #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>
#workgroup = #gpu.address_space<workgroup>

module {

func.func @matvec_f32(%w: memref<512x256xf32>, %x: memref<256xf32>, %y: memref<512xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c6 = arith.constant 6 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %rows = arith.constant 512 : index
  %words = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%row) = (%c0) to (%rows) step (%c1) {
    %partial = memref.alloc() : memref<64xf32, #workgroup>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %acc = scf.for %k = %t to %words step %c64 iter_args(%a = %zero) -> f32 {
        %wv = memref.load %w[%row, %k] : memref<512x256xf32>
        %xv = memref.load %x[%k] : memref<256xf32>
        %p = arith.mulf %wv, %xv : f32
        %n = arith.addf %a, %p : f32
        scf.yield %n : f32
      }
      memref.store %acc, %partial[%t] : memref<64xf32, #workgroup>
      gpu.barrier
      %last = scf.for %i = %c0 to %c6 step %c1 iter_args(%stride = %c32) -> index {
        %active = arith.cmpi ult, %t, %stride : index
        scf.if %active {
          %o = arith.addi %t, %stride : index
          %mine = memref.load %partial[%t] : memref<64xf32, #workgroup>
          %other = memref.load %partial[%o] : memref<64xf32, #workgroup>
          %s = arith.addf %mine, %other : f32
          memref.store %s, %partial[%t] : memref<64xf32, #workgroup>
        }
        gpu.barrier
        %next = arith.divui %stride, %c2 : index
        scf.yield %next : index
      }
      %first = arith.cmpi eq, %t, %c0 : index
      scf.if %first {
        %sum = memref.load %partial[%c0] : memref<64xf32, #workgroup>
        memref.store %sum, %y[%row] : memref<512xf32>
      }
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}

func.func @matvec_f16(%w: memref<512x128xi32>, %x: memref<256xf32>, %y: memref<512xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c6 = arith.constant 6 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %rows = arith.constant 512 : index
  %words = arith.constant 128 : index
  %c16 = arith.constant 16 : i32
  %zero = arith.constant 0.0 : f32
  scf.parallel (%row) = (%c0) to (%rows) step (%c1) {
    %partial = memref.alloc() : memref<64xf32, #workgroup>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %acc = scf.for %j = %t to %words step %c64 iter_args(%a = %zero) -> f32 {
        // Two halves a word, the lower one first (the bytes of the f16 row).
        %word = memref.load %w[%row, %j] : memref<512x128xi32>
        %lo16 = arith.trunci %word : i32 to i16
        %hiw = arith.shrui %word, %c16 : i32
        %hi16 = arith.trunci %hiw : i32 to i16
        %loh = arith.bitcast %lo16 : i16 to f16
        %hih = arith.bitcast %hi16 : i16 to f16
        %w0 = arith.extf %loh : f16 to f32
        %w1 = arith.extf %hih : f16 to f32
        %k0 = arith.muli %j, %c2 : index
        %k1 = arith.addi %k0, %c1 : index
        %x0 = memref.load %x[%k0] : memref<256xf32>
        %x1 = memref.load %x[%k1] : memref<256xf32>
        %p0 = arith.mulf %w0, %x0 : f32
        %p1 = arith.mulf %w1, %x1 : f32
        %s0 = arith.addf %a, %p0 : f32
        %n = arith.addf %s0, %p1 : f32
        scf.yield %n : f32
      }
      memref.store %acc, %partial[%t] : memref<64xf32, #workgroup>
      gpu.barrier
      %last = scf.for %i = %c0 to %c6 step %c1 iter_args(%stride = %c32) -> index {
        %active = arith.cmpi ult, %t, %stride : index
        scf.if %active {
          %o = arith.addi %t, %stride : index
          %mine = memref.load %partial[%t] : memref<64xf32, #workgroup>
          %other = memref.load %partial[%o] : memref<64xf32, #workgroup>
          %s = arith.addf %mine, %other : f32
          memref.store %s, %partial[%t] : memref<64xf32, #workgroup>
        }
        gpu.barrier
        %next = arith.divui %stride, %c2 : index
        scf.yield %next : index
      }
      %first = arith.cmpi eq, %t, %c0 : index
      scf.if %first {
        %sum = memref.load %partial[%c0] : memref<64xf32, #workgroup>
        memref.store %sum, %y[%row] : memref<512xf32>
      }
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}

func.func @matvec_i8(%w: memref<512x64xi32>, %scale: memref<512xf32>, %x: memref<256xf32>, %y: memref<512xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c6 = arith.constant 6 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %rows = arith.constant 512 : index
  %words = arith.constant 64 : index
  %s8 = arith.constant 8 : i32
  %s16 = arith.constant 16 : i32
  %s24 = arith.constant 24 : i32
  %zero = arith.constant 0.0 : f32
  scf.parallel (%row) = (%c0) to (%rows) step (%c1) {
    %partial = memref.alloc() : memref<64xf32, #workgroup>
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %acc = scf.for %j = %t to %words step %c64 iter_args(%a = %zero) -> f32 {
        // Four int8 a word, the lowest byte first; byte b sign-extended by
        // (word << (24 - 8b)) >> 24, all in 32-bit integers.
        %word = memref.load %w[%row, %j] : memref<512x64xi32>
        %b0s = arith.shli %word, %s24 : i32
        %b1s = arith.shli %word, %s16 : i32
        %b2s = arith.shli %word, %s8 : i32
        %b0 = arith.shrsi %b0s, %s24 : i32
        %b1 = arith.shrsi %b1s, %s24 : i32
        %b2 = arith.shrsi %b2s, %s24 : i32
        %b3 = arith.shrsi %word, %s24 : i32
        %w0 = arith.sitofp %b0 : i32 to f32
        %w1 = arith.sitofp %b1 : i32 to f32
        %w2 = arith.sitofp %b2 : i32 to f32
        %w3 = arith.sitofp %b3 : i32 to f32
        %k0 = arith.muli %j, %c4 : index
        %k1 = arith.addi %k0, %c1 : index
        %k2 = arith.addi %k0, %c2 : index
        %k3 = arith.addi %k0, %c3 : index
        %x0 = memref.load %x[%k0] : memref<256xf32>
        %x1 = memref.load %x[%k1] : memref<256xf32>
        %x2 = memref.load %x[%k2] : memref<256xf32>
        %x3 = memref.load %x[%k3] : memref<256xf32>
        %p0 = arith.mulf %w0, %x0 : f32
        %p1 = arith.mulf %w1, %x1 : f32
        %p2 = arith.mulf %w2, %x2 : f32
        %p3 = arith.mulf %w3, %x3 : f32
        %s0 = arith.addf %a, %p0 : f32
        %s1 = arith.addf %s0, %p1 : f32
        %s2 = arith.addf %s1, %p2 : f32
        %n = arith.addf %s2, %p3 : f32
        scf.yield %n : f32
      }
      memref.store %acc, %partial[%t] : memref<64xf32, #workgroup>
      gpu.barrier
      %last = scf.for %i = %c0 to %c6 step %c1 iter_args(%stride = %c32) -> index {
        %active = arith.cmpi ult, %t, %stride : index
        scf.if %active {
          %o = arith.addi %t, %stride : index
          %mine = memref.load %partial[%t] : memref<64xf32, #workgroup>
          %other = memref.load %partial[%o] : memref<64xf32, #workgroup>
          %s = arith.addf %mine, %other : f32
          memref.store %s, %partial[%t] : memref<64xf32, #workgroup>
        }
        gpu.barrier
        %next = arith.divui %stride, %c2 : index
        scf.yield %next : index
      }
      %first = arith.cmpi eq, %t, %c0 : index
      scf.if %first {
        %sum = memref.load %partial[%c0] : memref<64xf32, #workgroup>
        %s = memref.load %scale[%row] : memref<512xf32>
        %r = arith.mulf %sum, %s : f32
        memref.store %r, %y[%row] : memref<512xf32>
      }
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}

func.func @wkv4_step(%k: memref<1024xf32>, %v: memref<1024xf32>,
                     %w: memref<1024xf32>, %u: memref<1024xf32>,
                     %aa: memref<1024xf32>, %bb: memref<1024xf32>,
                     %pp: memref<1024xf32>, %y: memref<1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%g) = (%c0) to (%c16) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %base = arith.muli %g, %c64 : index
      %c = arith.addi %base, %t : index
      %kc = memref.load %k[%c] : memref<1024xf32>
      %vc = memref.load %v[%c] : memref<1024xf32>
      %wc = memref.load %w[%c] : memref<1024xf32>
      %uc = memref.load %u[%c] : memref<1024xf32>
      %a = memref.load %aa[%c] : memref<1024xf32>
      %b = memref.load %bb[%c] : memref<1024xf32>
      %p0 = memref.load %pp[%c] : memref<1024xf32>
      %ww = arith.addf %uc, %kc : f32
      %p = arith.maximumf %p0, %ww : f32
      %d1 = arith.subf %p0, %p : f32
      %e1 = math.exp %d1 : f32
      %d2 = arith.subf %ww, %p : f32
      %e2 = math.exp %d2 : f32
      %n1 = arith.mulf %e1, %a : f32
      %n2 = arith.mulf %e2, %vc : f32
      %num = arith.addf %n1, %n2 : f32
      %m1 = arith.mulf %e1, %b : f32
      %den = arith.addf %m1, %e2 : f32
      %yc = arith.divf %num, %den : f32
      memref.store %yc, %y[%c] : memref<1024xf32>
      %ww2 = arith.addf %wc, %p0 : f32
      %q = arith.maximumf %ww2, %kc : f32
      %f1 = arith.subf %ww2, %q : f32
      %g1 = math.exp %f1 : f32
      %f2 = arith.subf %kc, %q : f32
      %g2 = math.exp %f2 : f32
      %a1 = arith.mulf %g1, %a : f32
      %a2 = arith.mulf %g2, %vc : f32
      %an = arith.addf %a1, %a2 : f32
      %b1 = arith.mulf %g1, %b : f32
      %bn = arith.addf %b1, %g2 : f32
      memref.store %an, %aa[%c] : memref<1024xf32>
      memref.store %bn, %bb[%c] : memref<1024xf32>
      memref.store %q, %pp[%c] : memref<1024xf32>
    } {mapping = [#threads]}
  } {mapping = [#blocks]}
  return
}
}
