// RUN: seqc-opt %s --split-input-file --seq-fuse-hadamard="key-rotation=pre-rope key-group-heads=2" --verify-diagnostics | FileCheck %s

// RotateKV's pre-RoPE grouped-head rotation: the append takes the keys
// before their seq.rope, the two KV heads rotated together (one Hadamard
// block of 2 x 16 channels); the attention carries what it needs to read
// them back (rotation group, RoPE parameters); queries keep their RoPE and
// are not rotated; values are rotated per head and the output back.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[S:.*]]: memref<?xi8>, %[[Q:.*]]: tensor<?x4x16xf32>, %[[K:.*]]: tensor<?x2x16xf32>, %[[V:.*]]: tensor<?x2x16xf32>)
// CHECK: %[[C:.*]] = seq.kv_load %{{.*}} : memref<?xi8> -> !seq.kv_cache<2x16x64xf32, key_form = #seq.key_form<rotation_heads = 2, rope_theta = 5.000000e+05 : f32, rope_style = interleaved, rotary_dim = 8>>
// CHECK: %[[QR:.*]] = seq.rope %[[Q]]
// CHECK-NOT: = seq.rope
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[K]] {{\[\[}}0], [1, 2]] : tensor<?x2x16xf32> into tensor<?x32xf32>
// CHECK: %[[FR:.*]] = seq.hadamard %[[F]] {block_size = 32 : i64} : tensor<?x32xf32>
// CHECK: %[[KR:.*]] = tensor.expand_shape %[[FR]] {{\[\[}}0], [1, 2]] output_shape [%{{.*}}, 2, 16] : tensor<?x32xf32> into tensor<?x2x16xf32>
// CHECK: %[[VR:.*]] = seq.hadamard %[[V]] : tensor<?x2x16xf32>
// CHECK: %[[A:.*]] = seq.kv_append %[[C]], %[[KR]], %[[VR]]
// CHECK: %[[O:.*]], %{{.*}} = seq.kv_attention %[[QR]], %[[A]] {seq.rotated}
// CHECK: %[[OR:.*]] = seq.hadamard %[[O]] {transpose = true} : tensor<?x4x16xf32>
// CHECK: return %[[OR]]
func.func @layer(%s: memref<?xi8>, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %len = seq.kv_length %c : !seq.kv_cache<2x16x64xf32>
  %t = tensor.dim %q, %c0 : tensor<?x4x16xf32>
  %init = tensor.empty(%t) : tensor<?xindex>
  %pos = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%init : tensor<?xindex>) {
  ^bb0(%out: index):
    %i = linalg.index 0 : index
    %p = arith.addi %len, %i : index
    linalg.yield %p : index
  } -> tensor<?xindex>
  %qr = seq.rope %q, %pos {theta = 5.0e5 : f32, rotary_dim = 8 : i64, style = #seq.rope_style<interleaved>} : tensor<?x4x16xf32>, tensor<?xindex>
  %kr = seq.rope %k, %pos {theta = 5.0e5 : f32, rotary_dim = 8 : i64, style = #seq.rope_style<interleaved>} : tensor<?x2x16xf32>, tensor<?xindex>
  %a = seq.kv_append %c, %kr, %v : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %qr, %a : tensor<?x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// RoPE positions the attention could not recompute (not the cache's).
func.func @positions(%s: memref<?xi8>, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %pos: tensor<?xindex>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  // expected-error @+1 {{the keys' RoPE positions must be the cache positions}}
  %kr = seq.rope %k, %pos : tensor<?x2x16xf32>, tensor<?xindex>
  %a = seq.kv_append %c, %kr, %k : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// Keys that do not come from a seq.rope.
func.func @norope(%s: memref<?xi8>, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  // expected-error @+1 {{the appended keys must come from a seq.rope}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x4x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// Two heads per rotation need an even number of KV heads.
func.func @group(%s: memref<?xi8>, %q: tensor<?x3x16xf32>, %k: tensor<?x3x16xf32>) -> tensor<?x3x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<3x16x64xf32>
  %len = seq.kv_length %c : !seq.kv_cache<3x16x64xf32>
  %t = tensor.dim %q, %c0 : tensor<?x3x16xf32>
  %init = tensor.empty(%t) : tensor<?xindex>
  %pos = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%init : tensor<?xindex>) {
  ^bb0(%out: index):
    %i = linalg.index 0 : index
    %p = arith.addi %i, %len : index
    linalg.yield %p : index
  } -> tensor<?xindex>
  %kr = seq.rope %k, %pos : tensor<?x3x16xf32>, tensor<?xindex>
  %a = seq.kv_append %c, %kr, %k : !seq.kv_cache<3x16x64xf32>, tensor<?x3x16xf32>
  // expected-error @+1 {{key-group-heads (2) must divide the cache's KV heads (3)}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x3x16xf32>, !seq.kv_cache<3x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<3x16x64xf32>, memref<?xi8>
  return %o : tensor<?x3x16xf32>
}

// -----

// An evicting cache (StreamingLLM window) loses the positions.
func.func @evicting(%s: memref<?xi8>, %q: tensor<?x2x16xf32>, %k: tensor<?x2x16xf32>) -> tensor<?x2x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32, sinks = 2, window = 8>
  %len = seq.kv_length %c : !seq.kv_cache<2x16x64xf32, sinks = 2, window = 8>
  %t = tensor.dim %q, %c0 : tensor<?x2x16xf32>
  %init = tensor.empty(%t) : tensor<?xindex>
  %pos = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%init : tensor<?xindex>) {
  ^bb0(%out: index):
    %i = linalg.index 0 : index
    %p = arith.addi %len, %i : index
    linalg.yield %p : index
  } -> tensor<?xindex>
  %kr = seq.rope %k, %pos : tensor<?x2x16xf32>, tensor<?xindex>
  %a = seq.kv_append %c, %kr, %k : !seq.kv_cache<2x16x64xf32, sinks = 2, window = 8>, tensor<?x2x16xf32>
  // expected-error @+1 {{the cache evicts tokens, and keys before RoPE need their positions}}
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x16xf32>, !seq.kv_cache<2x16x64xf32, sinks = 2, window = 8>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32, sinks = 2, window = 8>, memref<?xi8>
  return %o : tensor<?x2x16xf32>
}

// -----

// The cache type changes module-wide: an attention over a cache of the
// same type that the pass does not rewrite (no append of its own) would
// read pre-RoPE keys as plain ones.
func.func @not_owned(%s: memref<?xi8>, %q: tensor<?x2x16xf32>, %k: tensor<?x2x16xf32>) -> tensor<?x2x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  %len = seq.kv_length %c : !seq.kv_cache<2x16x64xf32>
  %t = tensor.dim %q, %c0 : tensor<?x2x16xf32>
  %init = tensor.empty(%t) : tensor<?xindex>
  %pos = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%init : tensor<?xindex>) {
  ^bb0(%out: index):
    %i = linalg.index 0 : index
    %p = arith.addi %len, %i : index
    linalg.yield %p : index
  } -> tensor<?xindex>
  %kr = seq.rope %k, %pos : tensor<?x2x16xf32>, tensor<?xindex>
  %a = seq.kv_append %c, %kr, %k : !seq.kv_cache<2x16x64xf32>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  %d = seq.kv_load %s[%c1] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  // expected-error @+1 {{seq-fuse-hadamard key-rotation=pre-rope: every seq.kv_append and seq.kv_attention on a cache must come as an attention over an append of the same tokens (the cache type changes everywhere)}}
  %o2, %d2 = seq.kv_attention %o, %d : tensor<?x2x16xf32>, !seq.kv_cache<2x16x64xf32>
  seq.kv_store %d2, %s[%c1] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return %o2 : tensor<?x2x16xf32>
}
