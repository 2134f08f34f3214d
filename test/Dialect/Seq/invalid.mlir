// Every verifier and parser message of the seq dialect, at least once.
// RUN: seqc-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// token_shift
//===----------------------------------------------------------------------===//

func.func @token_shift_channels(%x: tensor<4x768xf32>, %p: tensor<512xf32>) {
  // expected-error @+1 {{'seq.token_shift' op prev must have shape [768], got [512]}}
  %0, %1 = seq.token_shift %x, %p : tensor<4x768xf32>, tensor<512xf32>
  return
}

// -----

func.func @token_shift_element_type(%x: tensor<4x8xf32>, %p: tensor<8xf16>) {
  // expected-error @+1 {{'seq.token_shift' op prev element type 'f16' differs from input's 'f32'}}
  %0, %1 = seq.token_shift %x, %p : tensor<4x8xf32>, tensor<8xf16>
  return
}

// -----

func.func @token_shift_rank(%x: tensor<8xf32>, %p: tensor<8xf32>) {
  // expected-error @+1 {{'seq.token_shift' op operand #0 must be 2D tensor of floating-point values, but got 'tensor<8xf32>'}}
  %0, %1 = seq.token_shift %x, %p : tensor<8xf32>, tensor<8xf32>
  return
}

//===----------------------------------------------------------------------===//
// wkv4
//===----------------------------------------------------------------------===//

// -----

func.func @wkv4_dynamic_channels(%k: tensor<4x?xf32>, %w: tensor<64xf32>, %s: tensor<3x64xf32>) {
  // expected-error @+1 {{'seq.wkv4' op channel dimension of k must be static}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s : tensor<4x?xf32>, tensor<64xf32>, tensor<3x64xf32>
  return
}

// -----

func.func @wkv4_decay_shape(%k: tensor<4x64xf32>, %w: tensor<32xf32>, %s: tensor<3x64xf32>) {
  // expected-error @+1 {{'seq.wkv4' op w must have shape [64], got [32]}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s : tensor<4x64xf32>, tensor<32xf32>, tensor<3x64xf32>
  return
}

// -----

func.func @wkv4_decay_type(%k: tensor<4x64xf32>, %w: tensor<64xf16>, %s: tensor<3x64xf32>) {
  // expected-error @+1 {{'seq.wkv4' op w element type 'f16' differs from k's 'f32'}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s : tensor<4x64xf32>, tensor<64xf16>, tensor<3x64xf32>
  return
}

// -----

func.func @wkv4_state_shape(%k: tensor<4x64xf32>, %w: tensor<64xf32>, %s: tensor<2x64xf32>) {
  // expected-error @+1 {{'seq.wkv4' op state must have shape [3, 64], got [2, 64]}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s : tensor<4x64xf32>, tensor<64xf32>, tensor<2x64xf32>
  return
}

// -----

func.func @wkv4_state_f32(%k: tensor<4x64xf32>, %w: tensor<64xf32>, %s: tensor<3x64xf16>) {
  // expected-error @+1 {{'seq.wkv4' op operand #4 must be ranked tensor of 32-bit float values, but got 'tensor<3x64xf16>'}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s : tensor<4x64xf32>, tensor<64xf32>, tensor<3x64xf16>
  return
}

// -----

func.func @wkv4_mismatched_kv(%k: tensor<4x64xf32>, %v: tensor<5x64xf32>, %w: tensor<64xf32>, %s: tensor<3x64xf32>) {
  // expected-error @+1 {{'seq.wkv4' op failed to verify that all of {k, v, y} have same type}}
  %y, %s1 = "seq.wkv4"(%k, %v, %w, %w, %s) : (tensor<4x64xf32>, tensor<5x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<3x64xf32>) -> (tensor<4x64xf32>, tensor<3x64xf32>)
  return
}

// -----

func.func @wkv4_quantized_state_words(%k: tensor<4x64xf32>, %w: tensor<64xf32>, %s: tensor<80xf32>) {
  // expected-error @+1 {{'seq.wkv4' op a state quantized with #seq.quant<bits = 8, group = 32, axis = 0, symmetric> must have shape [82] (f32 words of its layout), got [80]}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 0, symmetric>} : tensor<4x64xf32>, tensor<64xf32>, tensor<80xf32>
  return
}

// -----

func.func @wkv4_quantized_state_asymmetric(%k: tensor<4x64xf32>, %w: tensor<64xf32>, %s: tensor<82xf32>) {
  // expected-error @+1 {{'seq.wkv4' op a quantized state must use the symmetric grid}}
  %y, %s1 = seq.wkv4 %k, %k, %w, %w, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 0, asymmetric>} : tensor<4x64xf32>, tensor<64xf32>, tensor<82xf32>
  return
}

//===----------------------------------------------------------------------===//
// wkv5 / wkv6 / wkv7
//===----------------------------------------------------------------------===//

// -----

func.func @wkv5_dynamic_channels(%r: tensor<4x?xf32>, %w: tensor<2x32xf32>, %s: tensor<2x32x32xf32>) {
  // expected-error @+1 {{'seq.wkv5' op channel dimension of r must be static}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s : tensor<4x?xf32>, tensor<2x32xf32>, tensor<2x32x32xf32>
  return
}

// -----

func.func @wkv5_dynamic_state(%r: tensor<4x64xf32>, %w: tensor<2x32xf32>, %s: tensor<?x32x32xf32>) {
  // expected-error @+1 {{'seq.wkv5' op state must have a static shape [H, N, N]}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s : tensor<4x64xf32>, tensor<2x32xf32>, tensor<?x32x32xf32>
  return
}

// -----

func.func @wkv5_state_not_square(%r: tensor<4x64xf32>, %w: tensor<2x32xf32>, %s: tensor<2x32x16xf32>) {
  // expected-error @+1 {{'seq.wkv5' op state must have shape [H, N, N], got [2, 32, 16]}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s : tensor<4x64xf32>, tensor<2x32xf32>, tensor<2x32x16xf32>
  return
}

// -----

func.func @wkv5_heads(%r: tensor<4x64xf32>, %w: tensor<2x16xf32>, %s: tensor<2x16x16xf32>) {
  // expected-error @+1 {{'seq.wkv5' op channels (64) must equal heads x head size (2 x 16 = 32) of the state}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s : tensor<4x64xf32>, tensor<2x16xf32>, tensor<2x16x16xf32>
  return
}

// -----

func.func @wkv5_decay_shape(%r: tensor<4x64xf32>, %w: tensor<4x16xf32>, %s: tensor<2x32x32xf32>) {
  // expected-error @+1 {{'seq.wkv5' op w must have shape [2, 32], got [4, 16]}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s : tensor<4x64xf32>, tensor<4x16xf32>, tensor<2x32x32xf32>
  return
}

// -----

func.func @wkv6_bonus_type(%r: tensor<4x64xf32>, %u: tensor<2x32xbf16>, %s: tensor<2x32x32xf32>) {
  // expected-error @+1 {{'seq.wkv6' op u element type 'bf16' differs from r's 'f32'}}
  %y, %s1 = seq.wkv6 %r, %r, %r, %r, %u, %s : tensor<4x64xf32>, tensor<2x32xbf16>, tensor<2x32x32xf32>
  return
}

// -----

func.func @wkv7_heads(%r: tensor<4x96xf32>, %s: tensor<2x32x32xf32>) {
  // expected-error @+1 {{'seq.wkv7' op channels (96) must equal heads x head size (2 x 32 = 64) of the state}}
  %y, %s1 = seq.wkv7 %r, %r, %r, %r, %r, %r, %s : tensor<4x96xf32>, tensor<2x32x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// lif / heaviside
//===----------------------------------------------------------------------===//

// -----

func.func @lif_state_shape(%x: tensor<4x768xf32>, %v: tensor<512xf32>) {
  // expected-error @+1 {{'seq.lif' op membrane state must have the input's shape without its leading time dimension ([768]), got [512]}}
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<4x768xf32>, tensor<512xf32>
  return
}

// -----

func.func @lif_state_type(%x: tensor<4x8xf32>, %v: tensor<8xf16>) {
  // expected-error @+1 {{'seq.lif' op membrane state element type 'f16' differs from input's 'f32'}}
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32} : tensor<4x8xf32>, tensor<8xf16>
  return
}

// -----

func.func @lif_tau(%x: tensor<4x8xf32>, %v: tensor<8xf32>) {
  // expected-error @+1 {{'seq.lif' op tau must be > 0 and finite, got 0}}
  %s, %v1 = seq.lif %x, %v {tau = 0.0 : f32} : tensor<4x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @lif_threshold(%x: tensor<4x8xf32>, %v: tensor<8xf32>) {
  // expected-error @+1 {{'seq.lif' op v_threshold (0.5) must be greater than v_reset (1)}}
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32, v_threshold = 0.5 : f32, v_reset = 1.0 : f32} : tensor<4x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @lif_missing_tau(%x: tensor<4x8xf32>, %v: tensor<8xf32>) {
  // expected-error @+1 {{'seq.lif' op requires attribute 'tau'}}
  %s, %v1 = seq.lif %x, %v : tensor<4x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @lif_bad_reset(%x: tensor<4x8xf32>, %v: tensor<8xf32>) {
  // expected-error @+2 {{expected ::mlir::seq::ResetMode to be one of: hard, soft}}
  // expected-error @+1 {{failed to parse Seq_ResetModeAttr parameter 'value'}}
  %s, %v1 = seq.lif %x, %v {tau = 2.0 : f32, reset = #seq.reset<medium>} : tensor<4x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @heaviside_int(%x: tensor<4xi32>) {
  // expected-error @+1 {{'seq.heaviside' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<4xi32>'}}
  %0 = seq.heaviside %x : tensor<4xi32>
  return
}

//===----------------------------------------------------------------------===//
// quantization encoding, quantize, dequantize
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{quantization bits must be 2, 3, 4 or 8, got 5}}
func.func @quant_bits(%x: tensor<4x32xi5, #seq.quant<bits = 5, group = 32, axis = 1, symmetric>>)

// -----

// expected-error @+1 {{quantization group size must be positive, got 0}}
func.func @quant_group(%x: tensor<4x32xi4, #seq.quant<bits = 4, group = 0, axis = 1, symmetric>>)

// -----

// expected-error @+1 {{quantization axis must be non-negative, got -1}}
func.func @quant_axis(%x: tensor<4x32xi4, #seq.quant<bits = 4, group = 4, axis = -1, symmetric>>)

// -----

// expected-error @+1 {{quantization scale type must be a float type, got 'i8'}}
func.func @quant_scale(%x: tensor<4x32xi4, #seq.quant<bits = 4, group = 4, axis = 1, symmetric, scale = i8>>)

// -----

// expected-error @+1 {{expected 'symmetric' or 'asymmetric', got 'sym'}}
func.func @quant_mode(%x: tensor<4x32xi4, #seq.quant<bits = 4, group = 4, axis = 1, sym>>)

// -----

// expected-error @+1 {{a tensor with encoding #seq.quant<bits = 4, group = 32, axis = 1, symmetric> must have element type i4, got 'i8'}}
func.func @quant_element(%x: tensor<4x32xi8, #seq.quant<bits = 4, group = 32, axis = 1, symmetric>>)

// -----

// expected-error @+1 {{quantization axis 2 is out of range for a tensor of rank 2}}
func.func @quant_axis_range(%x: tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 2, symmetric>>)

// -----

// expected-error @+1 {{quantization group size 48 does not divide dimension 1 of size 64}}
func.func @quant_group_divides(%x: tensor<4x64xi4, #seq.quant<bits = 4, group = 48, axis = 1, symmetric>>)

// -----

func.func @quantize_no_encoding(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{'seq.quantize' op result type must carry a #seq.quant encoding, got 'tensor<4x32xi4>'}}
  %q, %s = seq.quantize %x : tensor<4x32xf32> -> tensor<4x32xi4>, tensor<4x1xf32>
  return
}

// -----

func.func @quantize_shape(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{'seq.quantize' op result must have shape [4, 32], got [8, 32]}}
  %q, %s = seq.quantize %x : tensor<4x32xf32> -> tensor<8x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, symmetric>>, tensor<8x1xf32>
  return
}

// -----

func.func @dequantize_no_encoding(%q: tensor<4x32xi4>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'seq.dequantize' op input type must carry a #seq.quant encoding, got 'tensor<4x32xi4>'}}
  %x = seq.dequantize %q, %s : tensor<4x32xi4>, tensor<4x1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @dequantize_float_codes(%q: tensor<4x32xf32>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'seq.dequantize' op operand #0 must be ranked tensor of signless integer values, but got 'tensor<4x32xf32>'}}
  %x = seq.dequantize %q, %s : tensor<4x32xf32>, tensor<4x1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @quantize_needs_minima(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{'seq.quantize' op the asymmetric grid of #seq.quant<bits = 4, group = 32, axis = 1, asymmetric> needs minima}}
  %q, %s = seq.quantize %x : tensor<4x32xf32> -> tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<4x1xf32>
  return
}

// -----

func.func @dequantize_symmetric_minima(%q: tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, symmetric>>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'seq.dequantize' op the symmetric grid of #seq.quant<bits = 4, group = 32, axis = 1, symmetric> has no minima}}
  %x = seq.dequantize %q, %s, %s : tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, symmetric>>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @quantize_scales_shape(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'seq.quantize' op scales must have shape [4, 2], got [4, 1]}}
  %q, %s = seq.quantize %x : tensor<4x64xf32> -> tensor<4x64xi4, #seq.quant<bits = 4, group = 32, axis = 1, symmetric>>, tensor<4x1xf32>
  return
}

// -----

func.func @dequantize_scale_type(%q: tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, symmetric, scale = f16>>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'seq.dequantize' op scales element type 'f32' differs from the encoding's scale type 'f16'}}
  %x = seq.dequantize %q, %s : tensor<4x32xi4, #seq.quant<bits = 4, group = 32, axis = 1, symmetric, scale = f16>>, tensor<4x1xf32> -> tensor<4x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// hadamard
//===----------------------------------------------------------------------===//

// -----

func.func @hadamard_rank0(%x: tensor<f32>) {
  // expected-error @+1 {{'seq.hadamard' op input must have rank >= 1}}
  %0 = seq.hadamard %x : tensor<f32>
  return
}

// -----

func.func @hadamard_dynamic(%x: tensor<4x?xf32>) {
  // expected-error @+1 {{'seq.hadamard' op the last (rotated) dimension must be static}}
  %0 = seq.hadamard %x : tensor<4x?xf32>
  return
}

// -----

func.func @hadamard_block_zero(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'seq.hadamard' op block size must be positive, got 0}}
  %0 = seq.hadamard %x {block_size = 0 : i64} : tensor<4x64xf32>
  return
}

// -----

func.func @hadamard_block_divides(%x: tensor<4x96xf32>) {
  // expected-error @+1 {{'seq.hadamard' op block size 64 does not divide the last dimension (96)}}
  %0 = seq.hadamard %x {block_size = 64 : i64} : tensor<4x96xf32>
  return
}

// -----

func.func @hadamard_unknown_order(%x: tensor<4x172xf32>) {
  // expected-error @+1 {{'seq.hadamard' op no Hadamard matrix of order 172 is available; supported orders are 2^k, or 2^k·m}}
  %0 = seq.hadamard %x : tensor<4x172xf32>
  return
}

//===----------------------------------------------------------------------===//
// rope
//===----------------------------------------------------------------------===//

// -----

func.func @rope_odd(%x: tensor<4x8x63xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{'seq.rope' op head dimension must be static and even, got 63}}
  %0 = seq.rope %x, %p : tensor<4x8x63xf32>, tensor<4xi64>
  return
}

// -----

func.func @rope_rotary_dim(%x: tensor<4x8x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{'seq.rope' op rotary_dim must be even and in (0, 64], got 66}}
  %0 = seq.rope %x, %p {rotary_dim = 66 : i64} : tensor<4x8x64xf32>, tensor<4xi64>
  return
}

// -----

func.func @rope_theta(%x: tensor<4x8x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{'seq.rope' op theta must be > 0 and finite, got -1}}
  %0 = seq.rope %x, %p {theta = -1.0 : f32} : tensor<4x8x64xf32>, tensor<4xi64>
  return
}

// -----

func.func @rope_positions(%x: tensor<4x8x64xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'seq.rope' op positions must have shape [4], got [3]}}
  %0 = seq.rope %x, %p : tensor<4x8x64xf32>, tensor<3xi64>
  return
}

//===----------------------------------------------------------------------===//
// kv_cache type
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{KV cache heads, head_dim and capacity must be positive, got 0x64x16}}
func.func @kv_zero(%c: !seq.kv_cache<0x64x16xf32>)

// -----

// expected-error @+1 {{KV cache element type must be f16, bf16 or f32, got 'i8'}}
func.func @kv_element(%c: !seq.kv_cache<8x64x16xi8>)

// -----

// expected-error @+1 {{KV cache sinks and window must be non-negative, got -1 and 0}}
func.func @kv_negative_sinks(%c: !seq.kv_cache<8x64x16xf32, sinks = -1>)

// -----

// expected-error @+1 {{KV cache sink tokens (17) exceed its capacity (16)}}
func.func @kv_sinks(%c: !seq.kv_cache<8x64x16xf32, sinks = 17>)

// -----

// expected-error @+1 {{KV cache sink tokens (4) and eviction window (16) exceed its capacity (16)}}
func.func @kv_window(%c: !seq.kv_cache<8x64x16xf32, sinks = 4, window = 16>)

// -----

// expected-error @+1 {{KV cache sink tokens (4) and residual window (32) leave no room for quantized tokens in capacity 36}}
func.func @kv_room(%c: !seq.kv_cache<8x64x36xf32, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, sinks = 4, window = 32>)

// -----

// expected-error @+1 {{key encoding axis must be 0 (groups of tokens) or 1 (groups of channels), got 2}}
func.func @kv_axis(%c: !seq.kv_cache<8x64x4096xf32, keys = #seq.quant<bits = 2, group = 32, axis = 2, asymmetric>, window = 32>)

// -----

// expected-error @+1 {{value encoding group size 48 does not divide head_dim 64}}
func.func @kv_group(%c: !seq.kv_cache<8x64x4096xf32, values = #seq.quant<bits = 4, group = 48, axis = 1, asymmetric>>)

// -----

// expected-error @+1 {{key encoding groups 32 tokens, so the residual window must be a positive multiple of 32, got 16}}
func.func @kv_key_window(%c: !seq.kv_cache<8x64x4096xf32, keys = #seq.quant<bits = 2, group = 32, axis = 0, asymmetric>, window = 16>)

// -----

// expected-error @+1 {{expected heads x head_dim x capacity, got 2 dimensions}}
func.func @kv_dims(%c: !seq.kv_cache<8x64xf32>)

// -----

// expected-error @+1 {{duplicate KV cache parameter 'sinks'}}
func.func @kv_duplicate(%c: !seq.kv_cache<8x64x64xf32, sinks = 1, sinks = 2>)

// -----

// expected-error @+1 {{unknown KV cache parameter 'bits' (expected keys, values, sinks, window, evict, budget or key_form)}}
func.func @kv_unknown(%c: !seq.kv_cache<8x64x64xf32, bits = 4>)

// -----

// expected-error @+1 {{expected a #seq.quant encoding, got 4 : i64}}
func.func @kv_not_encoding(%c: !seq.kv_cache<8x64x64xf32, keys = 4>)

// -----

// expected-error @+1 {{unknown eviction policy 'lru' (expected h2o or roco)}}
func.func @kv_policy(%c: !seq.kv_cache<8x64x64xf32, evict = lru, budget = 8>)

// -----

// expected-error @+1 {{KV cache eviction by window is written `window = N` without encodings, not `evict = window`}}
func.func @kv_evict_window(%c: !seq.kv_cache<8x64x64xf32, evict = window, budget = 8>)

// -----

// expected-error @+1 {{KV cache budget (20) must exceed its sink tokens (4) plus recent window (16) and be below its capacity (64)}}
func.func @kv_budget_small(%c: !seq.kv_cache<8x64x64xf32, sinks = 4, window = 16, evict = h2o, budget = 20>)

// -----

// expected-error @+1 {{KV cache budget (64) must exceed its sink tokens (0) plus recent window (0) and be below its capacity (64)}}
func.func @kv_budget_large(%c: !seq.kv_cache<8x64x64xf32, evict = roco, budget = 64>)

// -----

// expected-error @+1 {{KV cache budget (8) needs an eviction policy (evict = h2o or roco)}}
func.func @kv_budget_alone(%c: !seq.kv_cache<8x64x64xf32, budget = 8>)

// -----

// expected-error @+1 {{a mixed-precision KV cache (h2o with encodings) quantizes tokens one at a time, so its encodings must group channels (axis = 1), got axis 0}}
func.func @kv_mixed_axis(%c: !seq.kv_cache<8x64x64xf32, keys = #seq.quant<bits = 2, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, window = 8, evict = h2o, budget = 16>)

// -----

// expected-error @+1 {{a mixed-precision KV cache quantizes both keys and values, or neither}}
func.func @kv_mixed_half(%c: !seq.kv_cache<8x64x64xf32, values = #seq.quant<bits = 2, group = 8, axis = 1, asymmetric>, evict = h2o, budget = 16>)

//===----------------------------------------------------------------------===//
// kv_append / kv_attention / kv_evict
//===----------------------------------------------------------------------===//

// -----

func.func @kv_append_heads(%c: !seq.kv_cache<8x64x4096xf16>, %k: tensor<?x4x64xf32>) {
  // expected-error @+1 {{'seq.kv_append' op keys and values must have shape [T, 8, 64] to match the cache, got [?, 4, 64]}}
  %0 = seq.kv_append %c, %k, %k : !seq.kv_cache<8x64x4096xf16>, tensor<?x4x64xf32>
  return
}

// -----

func.func @kv_append_capacity(%c: !seq.kv_cache<8x64x16xf16>, %k: tensor<17x8x64xf32>) {
  // expected-error @+1 {{'seq.kv_append' op appending 17 tokens exceeds the cache capacity (16)}}
  %0 = seq.kv_append %c, %k, %k : !seq.kv_cache<8x64x16xf16>, tensor<17x8x64xf32>
  return
}

// -----

func.func @kv_attention_head_dim(%c: !seq.kv_cache<8x64x4096xf16>, %q: tensor<1x8x128xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op query head_dim (128) differs from the cache's (64)}}
  %o, %c1 = seq.kv_attention %q, %c : tensor<1x8x128xf32>, !seq.kv_cache<8x64x4096xf16>
  return
}

// -----

func.func @kv_latent_heads(%c: !seq.kv_cache<1x256x4096xf16>, %q: tensor<1x32x64xf32>, %u: tensor<1024x512xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op a latent_basis goes with a cache of latents (a key_form with latent_heads), and only with one}}
  %o, %c1 = seq.kv_attention %q, %c basis %u : tensor<1x32x64xf32>, !seq.kv_cache<1x256x4096xf16>, tensor<1024x512xf32>
  return
}

// -----

func.func @kv_latent_no_basis(%c: !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8>>, %q: tensor<1x32x64xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op a latent_basis goes with a cache of latents (a key_form with latent_heads), and only with one}}
  %o, %c1 = seq.kv_attention %q, %c : tensor<1x32x64xf32>, !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8>>
  return
}

// -----

func.func @kv_latent_shape(%c: !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8>>, %q: tensor<1x32x64xf32>, %u: tensor<1024x256xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op latent_basis must be [2 x latent_heads x head_dim, 2 x the cache's channels] = [1024, 512], got 'tensor<1024x256xf32>'}}
  %o, %c1 = seq.kv_attention %q, %c basis %u : tensor<1x32x64xf32>, !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8>>, tensor<1024x256xf32>
  return
}

// -----

// A latent's RoPE is checked against the query's head_dim (64), not the
// cache's channels (256).
func.func @kv_latent_rotary_dim(%c: !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8, rope_theta = 1.0e4 : f32, rotary_dim = 128>>, %q: tensor<1x32x64xf32>, %u: tensor<1024x512xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op the key form's rotary_dim must be even and at most the query's head_dim (64) with an even head_dim, got 128}}
  %o, %c1 = seq.kv_attention %q, %c basis %u : tensor<1x32x64xf32>, !seq.kv_cache<1x256x4096xf16, key_form = #seq.key_form<latent_heads = 8, rope_theta = 1.0e4 : f32, rotary_dim = 128>>, tensor<1024x512xf32>
  return
}

// -----

// expected-error @+1 {{a latent KV cache has one head, this one has 2}}
func.func @kv_latent_cache_heads(%c: !seq.kv_cache<2x128x4096xf16, key_form = #seq.key_form<latent_heads = 8>>)

// -----

// expected-error @+1 {{a KV cache whose keys are stored in another form (key_form) keeps its tokens by position, not by attention (no evict)}}
func.func @kv_latent_evict(%c: !seq.kv_cache<1x256x4096xf16, sinks = 4, window = 64, evict = h2o, budget = 1024, key_form = #seq.key_form<latent_heads = 8>>)

// -----

func.func @kv_attention_gqa(%c: !seq.kv_cache<4x64x4096xf16>, %q: tensor<1x6x64xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op query heads (6) must be a static multiple of the cache's KV heads (4)}}
  %o, %c1 = seq.kv_attention %q, %c : tensor<1x6x64xf32>, !seq.kv_cache<4x64x4096xf16>
  return
}

// -----

// Keys stored rotated over groups of 3 KV heads: 4 heads do not split.
// expected-error @+1 {{key form rotation_heads (3) must divide the cache's KV heads (4)}}
func.func @kv_key_rotation(%c: !seq.kv_cache<4x64x4096xf16, key_form = #seq.key_form<rotation_heads = 3>>)

// -----

// 2 heads of 86 channels: no Hadamard matrix of order 172.
// expected-error @+1 {{key form rotation_heads 2 x head_dim 86: no Hadamard matrix of order 172}}
func.func @kv_key_rotation_order(%c: !seq.kv_cache<2x86x64xf32, key_form = #seq.key_form<rotation_heads = 2>>)

// -----

// expected-error @+1 {{key form rope_style and rotary_dim need rope_theta}}
func.func @kv_key_rope_style(%c: !seq.kv_cache<4x64x4096xf16, key_form = #seq.key_form<rotation_heads = 1, rotary_dim = 32>>)

// -----

// expected-error @+1 {{key form rotary_dim must be even and at most head_dim (64) with an even head_dim, got 66}}
func.func @kv_key_rotary_dim(%c: !seq.kv_cache<4x64x4096xf16, key_form = #seq.key_form<rope_theta = 1.0e4 : f32, rotary_dim = 66>>)

// -----

// expected-error @+1 {{key form rotary_dim must be even, got 7}}
func.func @kv_key_rotary_dim_odd(%c: !seq.kv_cache<4x64x4096xf16, key_form = #seq.key_form<rope_theta = 1.0e4 : f32, rotary_dim = 7>>)

// -----

// expected-error @+1 {{key form rope_theta must be an f32 > 0 and finite, got -1.000000e+04 : f32}}
func.func @kv_key_rope_theta(%c: !seq.kv_cache<4x64x4096xf16, key_form = #seq.key_form<rope_theta = -1.0e4 : f32>>)

// -----

// expected-error @+1 {{a key form needs rotation_heads, rope_theta or latent_heads}}
func.func @kv_key_form_empty(%c: !seq.kv_cache<4x64x4096xf16, key_form = #seq.key_form<>>)

// -----

// expected-error @+1 {{a key form rotates heads (rotation_heads) or stores latents (latent_heads), not both}}
func.func @kv_key_form_both(%c: !seq.kv_cache<1x64x4096xf16, key_form = #seq.key_form<rotation_heads = 1, latent_heads = 2>>)

// -----

// expected-error @+1 {{expected a #seq.key_form, got 3 : i64}}
func.func @kv_key_form_attr(%c: !seq.kv_cache<4x64x4096xf16, key_form = 3>)

// -----

// Keys before RoPE need their positions, which an evicting cache loses.
// expected-error @+1 {{a KV cache of keys before RoPE or of latents (key_form) keeps every token at its position; this one evicts by window}}
func.func @kv_key_rope_evicting(%c: !seq.kv_cache<4x64x4096xf16, sinks = 4, window = 64, key_form = #seq.key_form<rope_theta = 1.0e4 : f32>>)

// -----

// expected-error @+1 {{a KV cache whose keys are stored in another form (key_form) keeps its tokens by position, not by attention (no evict)}}
func.func @kv_key_rotation_scored(%c: !seq.kv_cache<4x64x4096xf16, sinks = 4, window = 64, evict = h2o, budget = 1024, key_form = #seq.key_form<rotation_heads = 2>>)

// -----

func.func @kv_attention_scale(%c: !seq.kv_cache<4x64x4096xf16>, %q: tensor<1x8x64xf32>) {
  // expected-error @+1 {{'seq.kv_attention' op scale must be > 0 and finite, got 0}}
  %o, %c1 = seq.kv_attention %q, %c {scale = 0.0 : f32} : tensor<1x8x64xf32>, !seq.kv_cache<4x64x4096xf16>
  return
}

// -----

func.func @kv_evict_budget(%c: !seq.kv_cache<4x64x4096xf16>) {
  // expected-error @+1 {{'seq.kv_evict' op budget must be positive, got 0}}
  %0 = seq.kv_evict %c {policy = #seq.evict<window>, budget = 0 : i64} : !seq.kv_cache<4x64x4096xf16>
  return
}

// -----

func.func @kv_evict_recent_negative(%c: !seq.kv_cache<4x64x4096xf16>) {
  // expected-error @+1 {{'seq.kv_evict' op recent must be non-negative, got -1}}
  %0 = seq.kv_evict %c {policy = #seq.evict<h2o>, budget = 64 : i64, recent = -1 : i64} : !seq.kv_cache<4x64x4096xf16>
  return
}

// -----

func.func @kv_evict_window_recent(%c: !seq.kv_cache<4x64x4096xf16>) {
  // expected-error @+1 {{'seq.kv_evict' op recent (8) applies to the h2o and roco policies; the window policy keeps only recent tokens already}}
  %0 = seq.kv_evict %c {policy = #seq.evict<window>, budget = 64 : i64, recent = 8 : i64} : !seq.kv_cache<4x64x4096xf16>
  return
}

// -----

func.func @kv_evict_room(%c: !seq.kv_cache<4x64x4096xf16, sinks = 4>) {
  // expected-error @+1 {{'seq.kv_evict' op budget (8) must exceed the sink tokens (4) plus recent tokens (4)}}
  %0 = seq.kv_evict %c {policy = #seq.evict<roco>, budget = 8 : i64, recent = 4 : i64} : !seq.kv_cache<4x64x4096xf16, sinks = 4>
  return
}

// -----

func.func @kv_evict_policy(%c: !seq.kv_cache<4x64x4096xf16>) {
  // expected-error @+1 {{'seq.kv_evict' op requires attribute 'policy'}}
  %0 = seq.kv_evict %c {budget = 8 : i64} : !seq.kv_cache<4x64x4096xf16>
  return
}

// -----

func.func @kv_empty_not_a_cache() {
  // expected-error @+1 {{'seq.kv_empty' op result #0 must be a per-layer key/value cache, possibly quantized, but got 'tensor<4xf32>'}}
  %0 = "seq.kv_empty"() : () -> tensor<4xf32>
  return
}

// -----

func.func @permute_not_permutation(%x: tensor<?x1x4xf32>, %l: index) {
  // expected-error @+1 {{'seq.permute_channels' op order[1, 0] is not a permutation of 0..3}}
  %y = seq.permute_channels %x[%l] {order = dense<[[[0, 1, 2, 3]], [[0, 1, 1, 3]]]> : tensor<2x1x4xi32>} : tensor<?x1x4xf32>
  return
}

// -----

func.func @permute_shape(%x: tensor<?x2x4xf32>, %l: index) {
  // expected-error @+1 {{'seq.permute_channels' op order must have shape [layers, 2, 4], got 'tensor<2x1x4xi32>'}}
  %y = seq.permute_channels %x[%l] {order = dense<[[[0, 1, 2, 3]], [[3, 2, 1, 0]]]> : tensor<2x1x4xi32>} : tensor<?x2x4xf32>
  return
}

// -----

func.func @scale_not_positive(%x: tensor<?x1x4xf32>, %l: index) {
  // expected-error @+1 {{'seq.scale_channels' op scales must be finite and positive}}
  %y = seq.scale_channels %x[%l] {scales = dense<[[[1.0, 2.0, 0.0, 1.0]]]> : tensor<1x1x4xf32>} : tensor<?x1x4xf32>
  return
}

// -----

func.func @scale_two_tables(%x: tensor<?x1x4xf32>, %l: index, %t: tensor<1x1x4xf32>) {
  // expected-error @+1 {{'seq.scale_channels' op takes its table either as the attribute 'scales' or as an operand, exactly one}}
  %y = seq.scale_channels %x[%l] by %t {scales = dense<[[[1.0, 2.0, 1.0, 1.0]]]> : tensor<1x1x4xf32>} : tensor<?x1x4xf32>, tensor<1x1x4xf32>
  return
}

// -----

func.func @permute_no_table(%x: tensor<?x1x4xf32>, %l: index) {
  // expected-error @+1 {{'seq.permute_channels' op takes its table either as the attribute 'order' or as an operand, exactly one}}
  %y = seq.permute_channels %x[%l] : tensor<?x1x4xf32>
  return
}

// -----

func.func @permute_table_shape(%x: tensor<?x2x4xf32>, %l: index, %t: tensor<1x1x4xf32>) {
  // expected-error @+1 {{'seq.permute_channels' op table must have shape [layers, 2, 4], got 'tensor<1x1x4xf32>'}}
  %y = seq.permute_channels %x[%l] by %t : tensor<?x2x4xf32>, tensor<1x1x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// perspective_combine, perspective_mix
//===----------------------------------------------------------------------===//

func.func @perspective_combine_weight(%h: tensor<?x4x16xf32>, %w: tensor<3x16xf32>) {
  // expected-error @+1 {{'seq.perspective_combine' op weight must have shape [4, 16], got [3, 16]}}
  %0 = seq.perspective_combine %h, %w : tensor<?x4x16xf32>, tensor<3x16xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @perspective_combine_alpha(%h: tensor<2x4x16xf32>, %w: tensor<4x16xf32>) {
  // expected-error @+1 {{'seq.perspective_combine' op alpha must have shape [2, 4], got [2, 16]}}
  %0 = seq.perspective_combine %h, %w : tensor<2x4x16xf32>, tensor<4x16xf32> -> tensor<2x16xf32>
  return
}

// -----

func.func @perspective_combine_dynamic(%h: tensor<2x?x16xf32>, %w: tensor<4x16xf32>) {
  // expected-error @+1 {{'seq.perspective_combine' op h must have static perspective and channel dimensions [T, P, C], got [2, ?, 16]}}
  %0 = seq.perspective_combine %h, %w : tensor<2x?x16xf32>, tensor<4x16xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @perspective_combine_empty(%h: tensor<2x0x16xf32>, %w: tensor<0x16xf32>) {
  // expected-error @+1 {{'seq.perspective_combine' op h has no perspective (P = 0)}}
  %0 = seq.perspective_combine %h, %w : tensor<2x0x16xf32>, tensor<0x16xf32> -> tensor<2x0xf32>
  return
}

// -----

func.func @perspective_mix_alpha(%x: tensor<?x4x50xf32>, %a: tensor<?x2xf32>) {
  // expected-error @+1 {{'seq.perspective_mix' op alpha must have shape [?, 4], got [?, 2]}}
  %0 = seq.perspective_mix %x, %a : tensor<?x4x50xf32>, tensor<?x2xf32> -> tensor<?x50xf32>
  return
}

// -----

func.func @perspective_mix_result(%x: tensor<3x4x50xf32>, %a: tensor<3x4xf32>) {
  // expected-error @+1 {{'seq.perspective_mix' op result must have shape [3, 50], got [3, 4]}}
  %0 = seq.perspective_mix %x, %a : tensor<3x4x50xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
  return
}

// -----

func.func @perspective_mix_dynamic(%x: tensor<3x?x50xf32>, %a: tensor<3x4xf32>) {
  // expected-error @+1 {{'seq.perspective_mix' op input must have a static perspective dimension [T, P, N], got [3, ?, 50]}}
  %0 = seq.perspective_mix %x, %a : tensor<3x?x50xf32>, tensor<3x4xf32> -> tensor<3x50xf32>
  return
}

// -----

func.func @perspective_mix_rank(%x: tensor<4x50xf32>, %a: tensor<3x4xf32>) {
  // expected-error @+1 {{'seq.perspective_mix' op operand #0 must be 3D tensor of 32-bit float values, but got 'tensor<4x50xf32>'}}
  %0 = seq.perspective_mix %x, %a : tensor<4x50xf32>, tensor<3x4xf32> -> tensor<3x50xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// weight, weight_table, weight_entry
//===----------------------------------------------------------------------===//

func.func @weight_unnamed() {
  // expected-error @+1 {{'seq.weight' op needs a weight name}}
  %w = seq.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_element() {
  // expected-error @+1 {{'seq.weight' op result must be a static tensor of f32, f16 or i8 without encoding, got 'tensor<4xbf16>'}}
  %w = seq.weight "w" : tensor<4xbf16>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{'seq.weight' op result #0 must be statically shaped tensor of any type values, but got 'tensor<?xf32>'}}
  %w = seq.weight "w" : tensor<?xf32>
  return
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "", entries = {
    // expected-error @+2 {{a weight must be a static tensor of f32, f16 or i8 without encoding, got 'tensor<4xf64>'}}
    // expected-error @+1 {{failed to parse Seq_WeightTableAttr parameter 'entries'}}
    w = #seq.weight_entry<0, tensor<4xf64>>}>} {}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "", entries = {
    // expected-error @+2 {{weight offset 6 is not a multiple of its element size (4 bytes)}}
    // expected-error @+1 {{failed to parse Seq_WeightTableAttr parameter 'entries'}}
    w = #seq.weight_entry<6, tensor<4xf32>>}>} {}

// -----

// expected-error @+1 {{weight table entry 'w' must be a #seq.weight_entry, got 3 : i64}}
module attributes {seq.weights = #seq.weight_table<layer_root = "", entries = {w = 3}>} {}

// -----

func.func @wkv5_quantized_state_axis(%r: tensor<4x64xf32>, %w: tensor<2x32xf32>, %s: tensor<2x288xf32>) {
  // expected-error @+1 {{'seq.wkv5' op a quantized state must group along its value axis (axis 2), got axis 1}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 1, symmetric>} : tensor<4x64xf32>, tensor<2x32xf32>, tensor<2x288xf32>
  return
}

// -----

func.func @wkv5_quantized_state_f16_scales(%r: tensor<4x64xf32>, %w: tensor<2x32xf32>, %s: tensor<2x288xf32>) {
  // expected-error @+1 {{'seq.wkv5' op a quantized state must have f32 scales}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 2, symmetric, scale = f16>} : tensor<4x64xf32>, tensor<2x32xf32>, tensor<2x288xf32>
  return
}

// -----

func.func @wkv6_quantized_state_rank(%r: tensor<4x64xf32>, %u: tensor<2x32xf32>, %s: tensor<2x32x32xf32>) {
  // expected-error @+1 {{'seq.wkv6' op a quantized state must have a static shape [H, W] with H dividing the channels (64), got [2, 32, 32]}}
  %y, %s1 = seq.wkv6 %r, %r, %r, %r, %u, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 2, symmetric>} : tensor<4x64xf32>, tensor<2x32xf32>, tensor<2x32x32xf32>
  return
}

// -----

func.func @wkv7_quantized_state_group(%r: tensor<4x64xf32>, %s: tensor<2x288xf32>) {
  // expected-error @+1 {{'seq.wkv7' op quantization group size 48 does not divide the state's value axis of size 32}}
  %y, %s1 = seq.wkv7 %r, %r, %r, %r, %r, %r, %s {state_quant = #seq.quant<bits = 8, group = 48, axis = 1, symmetric>} : tensor<4x64xf32>, tensor<2x288xf32>
  return
}

// -----

func.func @wkv5_quantized_state_no_heads(%r: tensor<4x64xf32>, %w: tensor<2x32xf32>, %s: tensor<0x288xf32>) {
  // expected-error @+1 {{'seq.wkv5' op a quantized state must have a static shape [H, W] with H dividing the channels (64), got [0, 288]}}
  %y, %s1 = seq.wkv5 %r, %r, %r, %w, %w, %s {state_quant = #seq.quant<bits = 8, group = 32, axis = 2, symmetric>} : tensor<4x64xf32>, tensor<2x32xf32>, tensor<0x288xf32>
  return
}

// -----

func.func @window_score_heads(%q: tensor<?x6x8xf32>, %k: tensor<?x4x8xf32>) {
  // expected-error @+1 {{'seq.kv_window_score' op key heads (4) must divide the query heads (6)}}
  %s = seq.kv_window_score %q, %k {window = 4} : tensor<?x6x8xf32>, tensor<?x4x8xf32> -> tensor<6x?xf32>
  return
}

// -----

func.func @window_score_kernel(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>) {
  // expected-error @+1 {{'seq.kv_window_score' op kernel must be odd and positive, got 6}}
  %s = seq.kv_window_score %q, %k {window = 4, kernel = 6} : tensor<?x4x8xf32>, tensor<?x2x8xf32> -> tensor<4x?xf32>
  return
}

// -----

func.func @window_score_short_prompt(%q: tensor<4x4x8xf32>, %k: tensor<4x2x8xf32>) {
  // expected-error @+1 {{'seq.kv_window_score' op the prompt (4 tokens) must be longer than the window (4)}}
  %s = seq.kv_window_score %q, %k {window = 4} : tensor<4x4x8xf32>, tensor<4x2x8xf32> -> tensor<4x0xf32>
  return
}

// -----

func.func @window_score_shape(%q: tensor<10x4x8xf32>, %k: tensor<10x2x8xf32>) {
  // expected-error @+1 {{'seq.kv_window_score' op score must have shape [4, 6], got [4, 10]}}
  %s = seq.kv_window_score %q, %k {window = 4} : tensor<10x4x8xf32>, tensor<10x2x8xf32> -> tensor<4x10xf32>
  return
}

// -----

func.func @select_scored(%c: !seq.kv_cache<2x16x64xf32, evict = h2o, budget = 16>, %s: tensor<2x?xf32>, %keep: index) {
  // expected-error @+1 {{'seq.kv_select' op selects rows of a cache that stores every token at full precision; '!seq.kv_cache<2x16x64xf32, evict = h2o, budget = 16>' has encodings, a window or an eviction policy}}
  %c2 = seq.kv_select %c, %s, %keep {window = 4} : !seq.kv_cache<2x16x64xf32, evict = h2o, budget = 16>, tensor<2x?xf32>
  return
}

// -----

func.func @select_rows(%c: !seq.kv_cache<2x16x64xf32>, %s: tensor<4x?xf32>, %keep: index) {
  // expected-error @+1 {{'seq.kv_select' op score must have one row per KV head (2), got [4, ?]}}
  %c2 = seq.kv_select %c, %s, %keep {window = 4} : !seq.kv_cache<2x16x64xf32>, tensor<4x?xf32>
  return
}

// -----

func.func @advance_window(%c: !seq.kv_cache<2x16x64xf32, window = 8>, %n: index) {
  // expected-error @+1 {{'seq.kv_advance' op advances a cache that stores every token at full precision; '!seq.kv_cache<2x16x64xf32, window = 8>' has encodings, a window or an eviction policy}}
  %c2 = seq.kv_advance %c, %n : !seq.kv_cache<2x16x64xf32, window = 8>
  return
}

// -----

func.func @budgets_capacity(%s: tensor<4x2x?xf32>) {
  // expected-error @+1 {{'seq.kv_budgets' op capacity (8) must exceed the window (8)}}
  %k = seq.kv_budgets %s {capacity = 8, window = 8} : tensor<4x2x?xf32> -> tensor<4xindex>
  return
}

// -----

func.func @budgets_layers(%s: tensor<4x2x?xf32>) {
  // expected-error @+1 {{'seq.kv_budgets' op keep must have one entry per layer (4), got [3]}}
  %k = seq.kv_budgets %s {capacity = 16, window = 8} : tensor<4x2x?xf32> -> tensor<3xindex>
  return
}
