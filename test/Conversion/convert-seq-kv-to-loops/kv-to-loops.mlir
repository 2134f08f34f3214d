// RUN: seqc-opt %s --split-input-file --convert-seq-kv-to-loops --canonicalize --cse | FileCheck %s

// One case per kind of cache (plain, KIVI, window, h2o, roco, mixed
// precision, latent, keys cached before RoPE), each with the bytes of its
// slot from the shared layout (include/seqc/Support/KVLayout.h; the same
// sizes are checked in test/unit/KVLayoutTest.cpp). KIVI at 3, 4 and 8
// bits and grouped-head key rotation: cache-kinds.mlir.

// A 2-bit KIVI cache (2 KV heads of 16 channels, 64 tokens, groups of 8,
// window 8): 9280 bytes per slot. The fused append + attention is one loop
// over the tokens; a token goes to the full-precision ring; when the ring is
// full, keys get per-channel (min, max) over 8 tokens and values per-token
// over 8 channels, then codes (round, clamp) packed 8 channels into 2 bytes
// of a [2, 64, 4] i8 region. Attention dequantizes a row at a time (shift,
// mask, uitofp) and takes the softmax with exp expanded to MLIR's
// polynomial (math.floor for the exponent split, math.fma, a bitcast to
// build 2^k): no expf call. No seq op is left.
!c = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, window = 8>
// CHECK-LABEL: func.func @kivi
// CHECK-SAME: (%[[STATE:.*]]: memref<?xi8>, %[[SLOT:.*]]: index,
// CHECK-DAG: %[[BYTES:.*]] = arith.constant 9280 : index
// CHECK: %[[BASE:.*]] = arith.muli %[[SLOT]], %[[BYTES]]
// CHECK: memref.view %[[STATE]][%[[BASE]]][] : memref<?xi8> to memref<2xi64>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x4x16xf32>
// CHECK: scf.for
// CHECK:   memref.view %[[STATE]]{{.*}} : memref<?xi8> to memref<2x16x16xf32>
// CHECK:   memref.view %[[STATE]]{{.*}} : memref<?xi8> to memref<2x8x16xf32>
// CHECK:   memref.view %[[STATE]]{{.*}} : memref<?xi8> to memref<2x64x4xi8>
// CHECK:   arith.minimumf
// CHECK:   arith.maximumf
// CHECK:   math.round
// CHECK:   arith.shli
// CHECK:   arith.ori
// CHECK:   arith.trunci %{{.*}} : i32 to i8
// CHECK:   memref.store %{{.*}}, %{{.*}} : memref<2x64x4xi8>
// CHECK:   memref.view %[[STATE]]{{.*}} : memref<?xi8> to memref<2x64x2xf32>
// CHECK:   arith.shrui
// CHECK:   arith.andi
// CHECK:   arith.uitofp
// CHECK:   math.floor
// CHECK:   math.fma
// CHECK:   arith.bitcast
// CHECK-NOT: math.exp
// A cache this small scans its heads in place (not marked parallel).
// CHECK-NOT: seq.parallel
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: seq.kv
func.func @kivi(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> (tensor<?x4x16xf32>, index) {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !c
  %n = seq.kv_length %c : !c
  %c1 = seq.kv_append %c, %k, %v : !c, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !c
  seq.kv_store %c2, %state[%slot] : !c, memref<?xi8>
  return %o, %n : tensor<?x4x16xf32>, index
}

// -----

// A full-precision cache: keys and values [2, 32, 16] f16 (values at byte
// 2112) after a 64-byte
// header; appends extend f32 to the cache's f16 (arith.truncf), attention
// extends back. An append without a following attention is its own loop.
// CHECK-LABEL: func.func @plain
// CHECK-DAG: arith.constant 2112 : index
// CHECK: scf.for
// CHECK:   arith.truncf %{{.*}} : f32 to f16
// CHECK-NOT: seq.kv
func.func @plain(%state: memref<?xi8>, %k: tensor<3x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x32xf16>
  %c1 = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x32xf16>, tensor<3x2x16xf32>
  seq.kv_store %c1, %state[%c0] : !seq.kv_cache<2x16x32xf16>, memref<?xi8>
  return
}

// -----

// A mixed-precision cache (roco scores, 8 full-precision slots per head, the
// others at 2 bits per token in groups of 8 channels): 7616 bytes per slot =
// 64 header + 2 x 1024 slot rows + 4 x 64 slot positions / sums / counts /
// squared sums (roco's variance) + 128 flags + per side 512 codes and 2 x 1024 scales and minima. A token
// arriving at a full head picks the victim with the lowest mean attention
// (sum / count; ties: the older position) among the unprotected, quantizes
// it per token and takes its slot; attention reads the slots, then the
// flagged quantized tokens, and adds the softmax weights to the slot sums.
!m = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, sinks = 1, window = 2, evict = roco, budget = 8>
// CHECK-LABEL: func.func @mixed
// CHECK-DAG: arith.constant 7616 : index
// CHECK: scf.for
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x8xi32>
// CHECK:   scf.for {{.*}} iter_args({{.*}}) -> (f32, i32, index)
// CHECK:     arith.divf
// CHECK:     arith.cmpf olt
// CHECK:     arith.cmpf oeq
// CHECK:   math.round
// CHECK:   memref.store %{{.*}}, %{{.*}} : memref<2x64x4xi8>
// CHECK:   memref.store %{{.*}}, %{{.*}} : memref<2x64xi8>
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x8x16xf32>
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x64xi8>
// CHECK:   arith.cmpi ne, %{{.*}}, %{{.*}} : i8
// CHECK:   arith.uitofp
// CHECK:   math.floor
// CHECK:   memref.store %{{.*}}, %{{.*}} : memref<2x8xf32>
// CHECK-NOT: seq.kv
func.func @mixed(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !m
  %c1 = seq.kv_append %c, %k, %v : !m, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !m
  seq.kv_store %c2, %state[%slot] : !m, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// A large cache (4096 tokens x 64 channels x 4 query heads per KV head =
// 2^20 multiply-adds per head): the loop over KV heads is marked for
// seq-parallelize-loops, each head's small scratch on its own stack.
!big = !seq.kv_cache<2x64x4096xf32>
// CHECK-LABEL: func.func @parallel_heads
// (canonicalize folds the alloca scope into the loop body, itself an
// automatic allocation scope.)
// CHECK: scf.for
// CHECK:   memref.alloca() : memref<4x64xf32>
// CHECK:   math.fma
// CHECK: } {seq.parallel}
func.func @parallel_heads(%state: memref<?xi8>, %q: tensor<1x8x64xf32>, %k: tensor<1x2x64xf32>) -> tensor<1x8x64xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !big
  %c1 = seq.kv_append %c, %k, %k : !big, tensor<1x2x64xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<1x8x64xf32>, !big
  seq.kv_store %c2, %state[%c0] : !big, memref<?xi8>
  return %o : tensor<1x8x64xf32>
}

// -----

// A latent cache (seq-low-rank-kv): one head of 4 channels per row, read as
// 2 KV heads of 8 through the basis [2 x 2 x 8, 2 x 4]. Scratch per KV head
// of the attention: scores [rep 2, 64], the attention-weighted latents
// [2, 8] and the latent followed by the key before RoPE [8 + 8].
// RoPE's cos and sin for every position, computed at compile time.
!lat = !seq.kv_cache<1x4x64xf32, key_form = #seq.key_form<latent_heads = 2, rope_theta = 1.0e4 : f32>>
// (theta 1e4 = 0x461c4000 as f32; the values are checked end to end by
// the pre-RoPE and low-rank integration tests.)
// CHECK-DAG: memref.global "private" constant @__seqc_rope_cos_64x8_0x461c4000 : memref<64x4xf32>
// CHECK-DAG: memref.global "private" constant @__seqc_rope_sin_64x8_0x461c4000 : memref<64x4xf32>
// CHECK-LABEL: func.func @latent
// CHECK-SAME: %[[U:[a-z0-9]+]]: tensor<32x8xf32>)
// CHECK-DAG: memref.alloc() : memref<2x2x64xf32>
// CHECK-DAG: memref.alloc() : memref<2x2x8xf32>
// CHECK-DAG: memref.alloc() : memref<2x16xf32>
// CHECK: memref.get_global @__seqc_rope_cos_64x8
// Keys: rows kh * 8 + d of the basis times the latent.
// CHECK: %[[KB:.*]] = arith.muli %{{.*}}, %c8 : index
// CHECK: %[[KI:.*]] = arith.addi %[[KB]], %{{.*}} : index
// CHECK: tensor.extract %[[U]][%[[KI]], %{{.*}}] : tensor<32x8xf32>
// Output: rows 16 + kh * 8 + d times the summed latents.
// CHECK: %[[VB:.*]] = arith.muli %{{.*}}, %c8 : index
// CHECK: %[[VR:.*]] = arith.addi %[[VB]], %c16 : index
// CHECK: %[[VI:.*]] = arith.addi %[[VR]], %{{.*}} : index
// CHECK: tensor.extract %[[U]][%[[VI]], %{{.*}}] : tensor<32x8xf32>
func.func @latent(%state: memref<?xi8>, %q: tensor<?x4x8xf32>, %k: tensor<?x1x4xf32>, %v: tensor<?x1x4xf32>, %u: tensor<32x8xf32>) -> tensor<?x4x8xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !lat
  %c1 = seq.kv_append %c, %k, %v : !lat, tensor<?x1x4xf32>
  %o, %c2 = seq.kv_attention %q, %c1 basis %u : tensor<?x4x8xf32>, !lat, tensor<32x8xf32>
  seq.kv_store %c2, %state[%c0] : !lat, memref<?xi8>
  return %o : tensor<?x4x8xf32>
}

// -----

// A window without encodings (2 KV heads of 16 channels, 4 sinks, a ring of
// 12): 4160 bytes per slot = 64 header + 2 x 512 sinks + 2 x 1536 ring. A
// token leaving the ring is dropped.
!w = !seq.kv_cache<2x16x64xf32, sinks = 4, window = 12>
// CHECK-LABEL: func.func @window
// CHECK-DAG: arith.constant 4160 : index
// CHECK-DAG: arith.constant 576 : index
// CHECK-DAG: arith.constant 1088 : index
// CHECK-DAG: arith.constant 2624 : index
// CHECK: scf.for
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x4x16xf32>
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x12x16xf32>
// CHECK-NOT: seq.kv
func.func @window(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !w
  %c1 = seq.kv_append %c, %k, %v : !w, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !w
  seq.kv_store %c2, %state[%slot] : !w, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// H2O (16 full-precision slots per head, no encodings): 4544 bytes per slot
// = 64 header + 2 x 2048 slot rows + positions (4160), attention sums
// (4288) and counts (4416), 128 bytes each.
!h = !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>
// CHECK-LABEL: func.func @h2o
// CHECK-DAG: arith.constant 4544 : index
// CHECK-DAG: arith.constant 4160 : index
// CHECK-DAG: arith.constant 4288 : index
// CHECK-DAG: arith.constant 4416 : index
// CHECK: scf.for
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x16xi32>
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x16xf32>
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x16x16xf32>
// CHECK-NOT: seq.kv
func.func @h2o(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !h
  %c1 = seq.kv_append %c, %k, %v : !h, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !h
  seq.kv_store %c2, %state[%slot] : !h, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// RoCo with a window of 12 (above its 10 recent tokens): h2o's regions plus
// squared deviations (4544) and shield flags (4672, [2, 16] i8): 4736 bytes
// per slot.
!r = !seq.kv_cache<2x16x64xf32, window = 12, evict = roco, budget = 16>
// CHECK-LABEL: func.func @roco
// CHECK-DAG: arith.constant 4736 : index
// CHECK-DAG: arith.constant 4544 : index
// CHECK-DAG: arith.constant 4672 : index
// CHECK: scf.for
// CHECK:   memref.view {{.*}} : memref<?xi8> to memref<2x16xi8>
// CHECK-NOT: seq.kv
func.func @roco(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !r
  %c1 = seq.kv_append %c, %k, %v : !r, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !r
  seq.kv_store %c2, %state[%slot] : !r, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// Keys cached before RoPE (interleaved pairs, 8 rotary channels of 16):
// the plain layout (16448 bytes per slot, values at 8256); attention
// rotates each key row at its position with the compile-time tables
// (include/seqc/Support/Rope.h), pairs (2i, 2i + 1), the other channels
// copied. Row 0 of the cosines is 1.0 (0x3F800000), row 1 starts with
// cos(1) as f32 (0x3F0A5140).
!p = !seq.kv_cache<2x16x64xf32, key_form = #seq.key_form<rope_theta = 5.0e5 : f32, rope_style = interleaved, rotary_dim = 8>>
// CHECK-DAG: memref.global "private" constant @__seqc_rope_sin_64x8_0x48f42400 : memref<64x4xf32>
// CHECK-DAG: memref.global "private" constant @__seqc_rope_cos_64x8_0x48f42400 : memref<64x4xf32> = dense<"0x0000803F0000803F0000803F0000803F40510A3F
// CHECK-LABEL: func.func @pre_rope
// CHECK-DAG: arith.constant 16448 : index
// CHECK-DAG: arith.constant 8256 : index
// CHECK-DAG: %[[COS:.*]] = memref.get_global @__seqc_rope_cos_64x8_0x48f42400
// CHECK-DAG: %[[SIN:.*]] = memref.get_global @__seqc_rope_sin_64x8_0x48f42400
// CHECK: scf.for %[[I:.*]] = %c0 to %c4 step %c1
// CHECK:   %[[P:.*]] = arith.muli %[[I]], %c2 : index
// CHECK:   arith.addi %[[P]], %c1 : index
// CHECK:   memref.load %[[COS]][%{{.*}}, %[[I]]] : memref<64x4xf32>
// CHECK:   memref.load %[[SIN]][%{{.*}}, %[[I]]] : memref<64x4xf32>
// CHECK: scf.for %{{.*}} = %c8 to %c16 step %c1
// CHECK-NOT: seq.kv
func.func @pre_rope(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !p
  %c1 = seq.kv_append %c, %k, %v : !p, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !p
  seq.kv_store %c2, %state[%slot] : !p, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}
