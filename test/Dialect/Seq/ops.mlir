// Round trip of every seq op, type and attribute: custom form, generic form
// and bytecode all print back to the same custom form.
// RUN: seqc-opt %s | seqc-opt | FileCheck %s
// RUN: seqc-opt %s --mlir-print-op-generic | seqc-opt | FileCheck %s
// RUN: seqc-opt %s --emit-bytecode | seqc-opt | FileCheck %s
// RUN: seqc-opt %s --verify-roundtrip > /dev/null

// CHECK-LABEL: func.func @token_shift
// CHECK: %{{.*}}, %{{.*}} = seq.token_shift %arg0, %arg1 : tensor<?x768xf32>, tensor<768xf32>
func.func @token_shift(%x: tensor<?x768xf32>, %prev: tensor<768xf32>) -> (tensor<?x768xf32>, tensor<768xf32>) {
  %xx, %last = seq.token_shift %x, %prev : tensor<?x768xf32>, tensor<768xf32>
  return %xx, %last : tensor<?x768xf32>, tensor<768xf32>
}

// CHECK-LABEL: func.func @wkv4
// CHECK: seq.wkv4 %arg0, %arg1, %arg2, %arg3, %arg4 : tensor<?x64xf16>, tensor<64xf16>, tensor<3x64xf32>
func.func @wkv4(%k: tensor<?x64xf16>, %v: tensor<?x64xf16>, %w: tensor<64xf16>, %u: tensor<64xf16>, %s: tensor<3x64xf32>) -> (tensor<?x64xf16>, tensor<3x64xf32>) {
  %y, %s1 = seq.wkv4 %k, %v, %w, %u, %s : tensor<?x64xf16>, tensor<64xf16>, tensor<3x64xf32>
  return %y, %s1 : tensor<?x64xf16>, tensor<3x64xf32>
}

// CHECK-LABEL: func.func @wkv5
// CHECK: seq.wkv5 %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 : tensor<4x64xf32>, tensor<2x32xf32>, tensor<2x32x32xf32>
func.func @wkv5(%r: tensor<4x64xf32>, %k: tensor<4x64xf32>, %v: tensor<4x64xf32>, %w: tensor<2x32xf32>, %u: tensor<2x32xf32>, %s: tensor<2x32x32xf32>) -> tensor<4x64xf32> {
  %y, %s1 = seq.wkv5 %r, %k, %v, %w, %u, %s : tensor<4x64xf32>, tensor<2x32xf32>, tensor<2x32x32xf32>
  return %y : tensor<4x64xf32>
}

// CHECK-LABEL: func.func @wkv6
// CHECK: seq.wkv6 %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 : tensor<1x64xbf16>, tensor<2x32xbf16>, tensor<2x32x32xf32>
func.func @wkv6(%r: tensor<1x64xbf16>, %k: tensor<1x64xbf16>, %v: tensor<1x64xbf16>, %w: tensor<1x64xbf16>, %u: tensor<2x32xbf16>, %s: tensor<2x32x32xf32>) -> tensor<2x32x32xf32> {
  %y, %s1 = seq.wkv6 %r, %k, %v, %w, %u, %s : tensor<1x64xbf16>, tensor<2x32xbf16>, tensor<2x32x32xf32>
  return %s1 : tensor<2x32x32xf32>
}

// CHECK-LABEL: func.func @wkv7
// CHECK: seq.wkv7 %arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6 : tensor<?x128xf32>, tensor<2x64x64xf32>
func.func @wkv7(%r: tensor<?x128xf32>, %w: tensor<?x128xf32>, %k: tensor<?x128xf32>, %v: tensor<?x128xf32>, %a: tensor<?x128xf32>, %b: tensor<?x128xf32>, %s: tensor<2x64x64xf32>) -> tensor<?x128xf32> {
  %y, %s1 = seq.wkv7 %r, %w, %k, %v, %a, %b, %s : tensor<?x128xf32>, tensor<2x64x64xf32>
  return %y : tensor<?x128xf32>
}

// A state kept quantized: [p | codes | scales] words (RWKV-4: 64 + 16 + 2),
// per head [codes | scales] (RWKV-7, 4-bit, heads of 64: 512 + 128 words).
// CHECK-LABEL: func.func @wkv_quantized_state
// CHECK: seq.wkv4 %arg0, %arg0, %arg1, %arg1, %arg2 {state_quant = #seq.quant<bits = 8, group = 32, axis = 0, symmetric>} : tensor<?x64xf32>, tensor<64xf32>, tensor<82xf32>
// CHECK: seq.wkv7 %arg3, %arg3, %arg3, %arg3, %arg3, %arg3, %arg4 {state_quant = #seq.quant<bits = 4, group = 32, axis = 1, symmetric>} : tensor<1x128xf32>, tensor<2x640xf32>
func.func @wkv_quantized_state(%k: tensor<?x64xf32>, %w: tensor<64xf32>, %s: tensor<82xf32>, %r: tensor<1x128xf32>, %m: tensor<2x640xf32>) -> (tensor<82xf32>, tensor<2x640xf32>) {
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 0, symmetric>} : tensor<?x64xf32>, tensor<64xf32>, tensor<82xf32>
  %y7, %m1 = seq.wkv7 %r, %r, %r, %r, %r, %r, %m {state_quant = #seq.quant<bits = 4, group = 32, axis = 1, symmetric>} : tensor<1x128xf32>, tensor<2x640xf32>
  return %s1, %m1 : tensor<82xf32>, tensor<2x640xf32>
}

// CHECK-LABEL: func.func @kv_select
// CHECK: seq.kv_select %arg0, %arg1, %arg2 {window = 8 : i64} : !seq.kv_cache<8x64x256xf16>, tensor<8x?xf32>
func.func @kv_select(%c: !seq.kv_cache<8x64x256xf16>, %s: tensor<8x?xf32>, %keep: index) -> !seq.kv_cache<8x64x256xf16> {
  %c2 = seq.kv_select %c, %s, %keep {window = 8} : !seq.kv_cache<8x64x256xf16>, tensor<8x?xf32>
  return %c2 : !seq.kv_cache<8x64x256xf16>
}

// CHECK-LABEL: func.func @token_selection
// CHECK: seq.kv_advance %arg0, %arg2 : !seq.kv_cache<8x64x256xf32>
// CHECK: seq.select_top %arg1, %arg2 : tensor<?xf32> -> tensor<?xindex>
func.func @token_selection(%c: !seq.kv_cache<8x64x256xf32>, %s: tensor<?xf32>, %k: index) -> (!seq.kv_cache<8x64x256xf32>, tensor<?xindex>) {
  %c2 = seq.kv_advance %c, %k : !seq.kv_cache<8x64x256xf32>
  %i = seq.select_top %s, %k : tensor<?xf32> -> tensor<?xindex>
  return %c2, %i : !seq.kv_cache<8x64x256xf32>, tensor<?xindex>
}

// CHECK-LABEL: func.func @kv_budgets
// CHECK: seq.kv_budgets %arg0 {capacity = 64 : i64, window = 8 : i64} : tensor<32x8x?xf32> -> tensor<32xindex>
// CHECK: seq.kv_budgets %arg0 {capacity = 64 : i64, interval = 2 : i64, ratio_max = 2.500000e+00 : f64, window = 8 : i64}
func.func @kv_budgets(%s: tensor<32x8x?xf32>) -> (tensor<32xindex>, tensor<32xindex>) {
  %k = seq.kv_budgets %s {capacity = 64, window = 8} : tensor<32x8x?xf32> -> tensor<32xindex>
  %k2 = seq.kv_budgets %s {capacity = 64, window = 8, ratio_max = 2.5 : f64, interval = 2} : tensor<32x8x?xf32> -> tensor<32xindex>
  return %k, %k2 : tensor<32xindex>, tensor<32xindex>
}

// CHECK-LABEL: func.func @kv_window_score
// CHECK: seq.kv_window_score %arg0, %arg1 {window = 8 : i64} : tensor<?x32x128xf32>, tensor<?x8x128xf32> -> tensor<32x?xf32>
// CHECK: seq.kv_window_score %arg0, %arg1 {kernel = 5 : i64, pool = #seq.pool<max>, window = 4 : i64}
func.func @kv_window_score(%q: tensor<?x32x128xf32>, %k: tensor<?x8x128xf32>) -> (tensor<32x?xf32>, tensor<32x?xf32>) {
  %s = seq.kv_window_score %q, %k {window = 8} : tensor<?x32x128xf32>, tensor<?x8x128xf32> -> tensor<32x?xf32>
  %m = seq.kv_window_score %q, %k {window = 4, kernel = 5, pool = #seq.pool<max>} : tensor<?x32x128xf32>, tensor<?x8x128xf32> -> tensor<32x?xf32>
  return %s, %m : tensor<32x?xf32>, tensor<32x?xf32>
}

// CHECK-LABEL: func.func @lif
// CHECK: seq.lif %arg0, %arg1 {tau = 2.000000e+00 : f32} : tensor<16x768xf32>, tensor<768xf32>
// CHECK: seq.lif %arg0, %{{.*}} {decay_input = false, fire = #seq.fire<gt>, reset = #seq.reset<soft>, tau = 1.500000e+00 : f32, v_reset = -1.000000e+00 : f32, v_threshold = 5.000000e-01 : f32} : tensor<16x768xf32>, tensor<768xf32>
func.func @lif(%x: tensor<16x768xf32>, %v: tensor<768xf32>) -> (tensor<16x768xf32>, tensor<768xf32>) {
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<16x768xf32>, tensor<768xf32>
  %s2, %v2 = seq.lif %x, %v1 {tau = 1.5 : f32, v_threshold = 0.5 : f32, v_reset = -1.0 : f32, reset = #seq.reset<soft>, decay_input = false, fire = #seq.fire<gt>} : tensor<16x768xf32>, tensor<768xf32>
  return %s2, %v2 : tensor<16x768xf32>, tensor<768xf32>
}

// CHECK-LABEL: func.func @lif_multi_dim
// CHECK: seq.lif %arg0, %arg1 {tau = 4.000000e+00 : f32} : tensor<?x4x8xf16>, tensor<4x8xf16>
func.func @lif_multi_dim(%x: tensor<?x4x8xf16>, %v: tensor<4x8xf16>) -> tensor<?x4x8xf16> {
  %s, %v1 = seq.lif %x, %v {tau = 4.0 : f32} : tensor<?x4x8xf16>, tensor<4x8xf16>
  return %s : tensor<?x4x8xf16>
}

// CHECK-LABEL: func.func @heaviside
// CHECK: seq.heaviside %arg0 : tensor<4x8xf32>
// CHECK: seq.heaviside %{{.*}} {fire = #seq.fire<gt>} : tensor<4x8xf32>
func.func @heaviside(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = seq.heaviside %x : tensor<4x8xf32>
  %1 = seq.heaviside %0 {fire = #seq.fire<gt>} : tensor<4x8xf32>
  return %1 : tensor<4x8xf32>
}

// CHECK-LABEL: func.func @quantize
// CHECK: %[[Q:.*]], %[[S:.*]], %[[M:.*]] = seq.quantize %arg0 : tensor<64x128xf32> -> tensor<64x128xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<64x4xf32>, tensor<64x4xf32>
// CHECK: seq.dequantize %[[Q]], %[[S]], %[[M]] : tensor<64x128xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<64x4xf32>, tensor<64x4xf32> -> tensor<64x128xf32>
// CHECK: %[[Q2:.*]], %[[S2:.*]] = seq.quantize %arg0 : tensor<64x128xf32> -> tensor<64x128xi2, #seq.quant<bits = 2, group = 64, axis = 0, symmetric, scale = f16>>, tensor<1x128xf16>
// CHECK: seq.dequantize %[[Q2]], %[[S2]] : tensor<64x128xi2, #seq.quant<bits = 2, group = 64, axis = 0, symmetric, scale = f16>>, tensor<1x128xf16> -> tensor<64x128xf16>
// CHECK: seq.quantize %arg0 : tensor<64x128xf32> -> tensor<64x128xi3, #seq.quant<bits = 3, group = 16, axis = 0, asymmetric, scale = bf16>>, tensor<4x128xbf16>, tensor<4x128xbf16>
// CHECK: seq.quantize %arg1 : tensor<?x128xf16> -> tensor<?x128xi8, #seq.quant<bits = 8, group = 128, axis = 1, symmetric>>, tensor<?x1xf32>
func.func @quantize(%x: tensor<64x128xf32>, %y: tensor<?x128xf16>) -> tensor<64x128xf32> {
  %q, %s, %m = seq.quantize %x : tensor<64x128xf32> -> tensor<64x128xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<64x4xf32>, tensor<64x4xf32>
  %d = seq.dequantize %q, %s, %m : tensor<64x128xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<64x4xf32>, tensor<64x4xf32> -> tensor<64x128xf32>
  %q2, %s2 = seq.quantize %x : tensor<64x128xf32> -> tensor<64x128xi2, #seq.quant<bits = 2, group = 64, axis = 0, symmetric, scale = f16>>, tensor<1x128xf16>
  %d2 = seq.dequantize %q2, %s2 : tensor<64x128xi2, #seq.quant<bits = 2, group = 64, axis = 0, symmetric, scale = f16>>, tensor<1x128xf16> -> tensor<64x128xf16>
  %q3, %s3, %m3 = seq.quantize %x : tensor<64x128xf32> -> tensor<64x128xi3, #seq.quant<bits = 3, group = 16, axis = 0, asymmetric, scale = bf16>>, tensor<4x128xbf16>, tensor<4x128xbf16>
  %q8, %s8 = seq.quantize %y : tensor<?x128xf16> -> tensor<?x128xi8, #seq.quant<bits = 8, group = 128, axis = 1, symmetric>>, tensor<?x1xf32>
  return %d : tensor<64x128xf32>
}

// CHECK-LABEL: func.func @hadamard
// CHECK: seq.hadamard %arg0 {block_size = 128 : i64} : tensor<?x4096xf32>
// CHECK: seq.hadamard %{{.*}} {normalized = false, transpose = true} : tensor<?x4096xf32>
// CHECK: seq.hadamard %arg1 : tensor<2x96xf32>
// CHECK: seq.hadamard %arg1 {block_size = 12 : i64} : tensor<2x96xf32>
// CHECK: seq.hadamard %arg2 : tensor<160xf16>
func.func @hadamard(%x: tensor<?x4096xf32>, %y: tensor<2x96xf32>, %z: tensor<160xf16>) -> tensor<?x4096xf32> {
  %0 = seq.hadamard %x {block_size = 128 : i64} : tensor<?x4096xf32>
  %1 = seq.hadamard %0 {normalized = false, transpose = true} : tensor<?x4096xf32>
  %2 = seq.hadamard %y : tensor<2x96xf32>
  %3 = seq.hadamard %y {block_size = 12 : i64} : tensor<2x96xf32>
  %4 = seq.hadamard %z : tensor<160xf16>
  return %1 : tensor<?x4096xf32>
}

// CHECK-LABEL: func.func @rope
// CHECK: seq.rope %arg0, %arg1 : tensor<?x32x128xf32>, tensor<?xi64>
// CHECK: seq.rope %arg0, %arg2 {rotary_dim = 32 : i64, style = #seq.rope_style<interleaved>, theta = 5.000000e+05 : f32} : tensor<?x32x128xf32>, tensor<?xindex>
func.func @rope(%q: tensor<?x32x128xf32>, %pos: tensor<?xi64>, %ipos: tensor<?xindex>) -> tensor<?x32x128xf32> {
  %0 = seq.rope %q, %pos : tensor<?x32x128xf32>, tensor<?xi64>
  %1 = seq.rope %q, %ipos {theta = 500000.0 : f32, rotary_dim = 32 : i64, style = #seq.rope_style<interleaved>} : tensor<?x32x128xf32>, tensor<?xindex>
  return %1 : tensor<?x32x128xf32>
}

// CHECK-LABEL: func.func @kv_cache
// CHECK: seq.kv_empty : !seq.kv_cache<8x64x4096xf16>
// CHECK: seq.kv_append %{{.*}}, %arg0, %arg1 : !seq.kv_cache<8x64x4096xf16>, tensor<?x8x64xf32>
// CHECK: seq.kv_attention %arg2, %{{.*}} {scale = 1.250000e-01 : f32} : tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
// CHECK: seq.kv_evict %{{.*}} {budget = 1024 : i64, policy = #seq.evict<h2o>, recent = 64 : i64} : !seq.kv_cache<8x64x4096xf16>
// CHECK: seq.kv_evict %{{.*}} {budget = 512 : i64, policy = #seq.evict<window>} : !seq.kv_cache<8x64x4096xf16>
// CHECK: seq.kv_evict %{{.*}} {budget = 256 : i64, policy = #seq.evict<roco>, recent = 16 : i64} : !seq.kv_cache<8x64x4096xf16>
// CHECK: seq.kv_attention %arg2, %{{.*}} {causal = false} : tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
func.func @kv_cache(%k: tensor<?x8x64xf32>, %v: tensor<?x8x64xf32>, %q: tensor<?x32x64xf32>) -> (tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>) {
  %c0 = seq.kv_empty : !seq.kv_cache<8x64x4096xf16>
  %c1 = seq.kv_append %c0, %k, %v : !seq.kv_cache<8x64x4096xf16>, tensor<?x8x64xf32>
  %o, %c2 = seq.kv_attention %q, %c1 {scale = 0.125 : f32} : tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
  %c3 = seq.kv_evict %c2 {policy = #seq.evict<h2o>, budget = 1024 : i64, recent = 64 : i64} : !seq.kv_cache<8x64x4096xf16>
  %c4 = seq.kv_evict %c3 {policy = #seq.evict<window>, budget = 512 : i64} : !seq.kv_cache<8x64x4096xf16>
  %c5 = seq.kv_evict %c4 {policy = #seq.evict<roco>, budget = 256 : i64, recent = 16 : i64} : !seq.kv_cache<8x64x4096xf16>
  %o2, %c6 = seq.kv_attention %q, %c5 {causal = false} : tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
  return %o2, %c6 : tensor<?x32x64xf32>, !seq.kv_cache<8x64x4096xf16>
}

// CHECK-LABEL: func.func @kv_latent
// CHECK: seq.kv_attention %arg0, %arg1 basis %arg2 : tensor<?x32x64xf32>, !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<rope_theta = 1.000000e+04 : f32, latent_heads = 8>>, tensor<1024x512xf32>
func.func @kv_latent(%q: tensor<?x32x64xf32>, %c: !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8, rope_theta = 1.0e4 : f32>>, %u: tensor<1024x512xf32>) -> tensor<?x32x64xf32> {
  %o, %c1 = seq.kv_attention %q, %c basis %u : tensor<?x32x64xf32>, !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8, rope_theta = 1.0e4 : f32>>, tensor<1024x512xf32>
  return %o : tensor<?x32x64xf32>
}

// CHECK-LABEL: func.func @kv_cache_compressed
// CHECK-SAME: !seq.kv_cache<4x128x2048xbf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric, scale = f16>, sinks = 4, window = 128>
// CHECK-SAME: !seq.kv_cache<2x64x64xf32, values = #seq.quant<bits = 8, group = 64, axis = 1, symmetric>>
// CHECK-SAME: !seq.kv_cache<2x64x64xf32, sinks = 64>
// CHECK-SAME: !seq.kv_cache<2x64x64xf32, sinks = 4, window = 8, evict = h2o, budget = 32>
// CHECK-SAME: !seq.kv_cache<2x64x64xf32, keys = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, evict = roco, budget = 16>
func.func @kv_cache_compressed(
    %c: !seq.kv_cache<4x128x2048xbf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric, scale = f16>, sinks = 4, window = 128>,
    %d: !seq.kv_cache<2x64x64xf32, values = #seq.quant<bits = 8, group = 64, axis = 1, symmetric>>,
    %e: !seq.kv_cache<2x64x64xf32, sinks = 64>,
    %h: !seq.kv_cache<2x64x64xf32, budget = 32, evict = h2o, window = 8, sinks = 4>,
    %m: !seq.kv_cache<2x64x64xf32, keys = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric>, evict = roco, budget = 16>,
    %q: tensor<1x8x128xf32>) -> tensor<1x8x128xf32> {
  %o, %c1 = seq.kv_attention %q, %c : tensor<1x8x128xf32>, !seq.kv_cache<4x128x2048xbf16, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 32, axis = 1, asymmetric, scale = f16>, sinks = 4, window = 128>
  return %o : tensor<1x8x128xf32>
}

// CHECK-LABEL: func.func @perspectives
// CHECK: %[[A:.*]] = seq.perspective_combine %arg0, %arg1 : tensor<?x4x16xf32>, tensor<4x16xf32> -> tensor<?x4xf32>
// CHECK: seq.perspective_mix %arg0, %[[A]] : tensor<?x4x16xf32>, tensor<?x4xf32> -> tensor<?x16xf32>
func.func @perspectives(%h: tensor<?x4x16xf32>, %wc: tensor<4x16xf32>) -> tensor<?x16xf32> {
  %a = seq.perspective_combine %h, %wc : tensor<?x4x16xf32>, tensor<4x16xf32> -> tensor<?x4xf32>
  %m = seq.perspective_mix %h, %a : tensor<?x4x16xf32>, tensor<?x4xf32> -> tensor<?x16xf32>
  return %m : tensor<?x16xf32>
}

// Per-channel tables as attributes, or as an operand (a weight).
// CHECK-LABEL: func.func @channel_tables
// CHECK: seq.permute_channels %arg0[%arg1] {order = dense<{{\[\[\[}}1, 0, 3, 2]]]> : tensor<1x1x4xi32>} : tensor<?x1x4xf32>
// CHECK: seq.scale_channels %{{.*}}[%arg1] {scales = dense<{{\[\[\[}}1.000000e+00, 2.000000e+00, 5.000000e-01, 1.000000e+00]]]> : tensor<1x1x4xf32>} : tensor<?x1x4xf32>
// CHECK: seq.permute_channels %{{.*}}[%arg1] by %arg2 : tensor<?x1x4xf32>, tensor<1x1x4xf32>
// CHECK: seq.scale_channels %{{.*}}[%arg1] by %arg2 : tensor<?x1x4xf32>, tensor<1x1x4xf32>
func.func @channel_tables(%x: tensor<?x1x4xf32>, %l: index, %t: tensor<1x1x4xf32>) -> tensor<?x1x4xf32> {
  %a = seq.permute_channels %x[%l] {order = dense<[[[1, 0, 3, 2]]]> : tensor<1x1x4xi32>} : tensor<?x1x4xf32>
  %b = seq.scale_channels %a[%l] {scales = dense<[[[1.0, 2.0, 0.5, 1.0]]]> : tensor<1x1x4xf32>} : tensor<?x1x4xf32>
  %c = seq.permute_channels %b[%l] by %t : tensor<?x1x4xf32>, tensor<1x1x4xf32>
  %d = seq.scale_channels %c[%l] by %t : tensor<?x1x4xf32>, tensor<1x1x4xf32>
  return %d : tensor<?x1x4xf32>
}
