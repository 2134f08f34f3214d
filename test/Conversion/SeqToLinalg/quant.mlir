// RUN: seqc-opt %s --convert-seq-to-linalg -split-input-file -verify-diagnostics | FileCheck %s

// Asymmetric 3-bit codes, groups of 10 along the rows; 20 codes a row are
// 3 words of 8 (the last padded), 9 bytes. The range of each group is a
// reduction over the row split into (groups, group); the parameters an
// elementwise generic; the codes another; the packing ORs each code's share
// into the bytes of its word. The codes cross the function boundary as
// their packed bytes.
// CHECK-LABEL: func.func @quantize_asym3
// CHECK-SAME: (%[[X:.*]]: tensor<4x20xf32>) -> (tensor<4x9xi8>, tensor<4x2xf32>, tensor<4x2xf32>)
// CHECK: %[[XE:.*]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2]] output_shape [4, 2, 10] : tensor<4x20xf32> into tensor<4x2x10xf32>
// CHECK: %[[R:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[XE]] : tensor<4x2x10xf32>)
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: %[[P:.*]]:2 = linalg.generic {{.*}} ins(%[[R]]#0, %[[R]]#1 : tensor<4x2xf32>, tensor<4x2xf32>)
// s = (max - min) / 7, 1 where that is 0; m = min
// CHECK: %[[SUB:.*]] = arith.subf
// CHECK: %[[S:.*]] = arith.divf %[[SUB]], %{{.*}} : f32
// CHECK: %[[Z:.*]] = arith.cmpf oeq, %[[S]]
// CHECK: %[[S1:.*]] = arith.select %[[Z]], %{{.*}}, %[[S]] : f32
// CHECK: linalg.yield %[[S1]], %{{.*}} : f32, f32
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[XE]], %[[P]]#0, %[[P]]#1 : tensor<4x2x10xf32>, tensor<4x2xf32>, tensor<4x2xf32>) outs(%{{.*}} : tensor<4x2x10xi8>)
// CHECK: arith.divf
// CHECK: math.round
// CHECK: arith.fptoui %{{.*}} : f32 to i8
// CHECK: %[[CC:.*]] = tensor.collapse_shape %[[C]] {{\[}}[0], [1, 2]] : tensor<4x2x10xi8> into tensor<4x20xi8>
// CHECK: %[[PAD:.*]] = tensor.pad %[[CC]] low[0, 0] high[0, 4]
// CHECK: %[[W:.*]] = tensor.expand_shape %[[PAD]] {{\[}}[0], [1, 2]] output_shape [4, 3, 8] : tensor<4x24xi8> into tensor<4x3x8xi8>
// CHECK: %[[B:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[W]] : tensor<4x3x8xi8>) outs(%{{.*}} : tensor<4x3x3xi8>)
// CHECK: arith.shli
// CHECK: arith.shrui
// CHECK: arith.trunci %{{.*}} : i64 to i8
// CHECK: arith.ori
// CHECK: %[[BYTES:.*]] = tensor.collapse_shape %[[B]] {{\[}}[0], [1, 2]] : tensor<4x3x3xi8> into tensor<4x9xi8>
// CHECK: return %[[BYTES]], %[[P]]#0, %[[P]]#1 : tensor<4x9xi8>, tensor<4x2xf32>, tensor<4x2xf32>
// CHECK-NOT: seq.quantize
func.func @quantize_asym3(%x: tensor<4x20xf32>) -> (tensor<4x20xi3, #seq.quant<bits = 3, group = 10, axis = 1, asymmetric>>, tensor<4x2xf32>, tensor<4x2xf32>) {
  %q, %s, %m = seq.quantize %x : tensor<4x20xf32> -> tensor<4x20xi3, #seq.quant<bits = 3, group = 10, axis = 1, asymmetric>>, tensor<4x2xf32>, tensor<4x2xf32>
  return %q, %s, %m : tensor<4x20xi3, #seq.quant<bits = 3, group = 10, axis = 1, asymmetric>>, tensor<4x2xf32>, tensor<4x2xf32>
}

// -----

// Symmetric 4-bit codes with f16 scales, groups of 16 along the columns
// (axis 0): the scale is rounded to f16 before the codes use it, and the
// codes are stored offset by 8. Dequantizing unpacks (a reduction over a
// word's bytes), drops the padding, then s * (code - 8) in f32, rounded to
// the result type.
// CHECK-LABEL: func.func @roundtrip_sym4_f16
// CHECK-SAME: (%[[X:.*]]: tensor<32x8xf16>) -> tensor<32x8xf16>
// CHECK: %[[XE:.*]] = tensor.expand_shape %[[X]] {{\[}}[0, 1], [2]] output_shape [2, 16, 8] : tensor<32x8xf16> into tensor<2x16x8xf16>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[XE]] : tensor<2x16x8xf16>)
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: %[[AMAX:.*]] = arith.maximumf
// CHECK: %[[S:.*]] = arith.divf %[[AMAX]], %{{.*}} : f32
// CHECK: %[[S16:.*]] = arith.truncf %[[S]] : f32 to f16
// CHECK: arith.cmpf oeq, %[[S16]]
// CHECK: math.round
// CHECK: arith.addf
// CHECK: arith.fptoui
// CHECK: tensor.collapse_shape {{.*}} : tensor<32x1x4xi8> into tensor<32x4xi8>
// CHECK: %[[U:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<32x1x4xi8>) outs(%{{.*}} : tensor<32x1x8xi8>)
// CHECK: arith.andi
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x16x8xi8>, tensor<2x8xf16>) outs(%{{.*}} : tensor<2x16x8xf16>)
// CHECK: %[[Q:.*]] = arith.subi %{{.*}}, %{{.*}} : i32
// CHECK: %[[QF:.*]] = arith.sitofp %[[Q]] : i32 to f32
// CHECK: %[[V:.*]] = arith.mulf %{{.*}}, %[[QF]] : f32
// CHECK: arith.truncf %[[V]] : f32 to f16
// CHECK-NOT: seq.dequantize
func.func @roundtrip_sym4_f16(%x: tensor<32x8xf16>) -> tensor<32x8xf16> {
  %q, %s = seq.quantize %x : tensor<32x8xf16> -> tensor<32x8xi4, #seq.quant<bits = 4, group = 16, axis = 0, symmetric, scale = f16>>, tensor<2x8xf16>
  %d = seq.dequantize %q, %s : tensor<32x8xi4, #seq.quant<bits = 4, group = 16, axis = 0, symmetric, scale = f16>>, tensor<2x8xf16> -> tensor<32x8xf16>
  return %d : tensor<32x8xf16>
}

// -----

// Dynamic leading dimensions are kept; a call passes the packed bytes.
// CHECK-LABEL: func.func @dequantize_dynamic
// CHECK-SAME: (%{{.*}}: tensor<?x16xi8>, %{{.*}}: tensor<?x1xf32>) -> tensor<?x16xf32>
// CHECK-LABEL: func.func @caller
// CHECK: call @dequantize_dynamic(%{{.*}}, %{{.*}}) : (tensor<?x16xi8>, tensor<?x1xf32>) -> tensor<?x16xf32>
func.func @dequantize_dynamic(%q: tensor<?x16xi8, #seq.quant<bits = 8, group = 16, axis = 1, symmetric>>, %s: tensor<?x1xf32>) -> tensor<?x16xf32> {
  %x = seq.dequantize %q, %s : tensor<?x16xi8, #seq.quant<bits = 8, group = 16, axis = 1, symmetric>>, tensor<?x1xf32> -> tensor<?x16xf32>
  return %x : tensor<?x16xf32>
}
func.func @caller(%q: tensor<?x16xi8, #seq.quant<bits = 8, group = 16, axis = 1, symmetric>>, %s: tensor<?x1xf32>) -> tensor<?x16xf32> {
  %x = call @dequantize_dynamic(%q, %s) : (tensor<?x16xi8, #seq.quant<bits = 8, group = 16, axis = 1, symmetric>>, tensor<?x1xf32>) -> tensor<?x16xf32>
  return %x : tensor<?x16xf32>
}

// -----

func.func @dynamic_axis(%x: tensor<?x16xf32>) {
  // expected-error @+1 {{'seq.quantize' op cannot be lowered: the innermost dimension and the quantization axis must be static, got 'tensor<?x16xi4, #seq.quant<bits = 4, group = 8, axis = 0, asymmetric>>'}}
  %q, %s, %m = seq.quantize %x : tensor<?x16xf32> -> tensor<?x16xi4, #seq.quant<bits = 4, group = 8, axis = 0, asymmetric>>, tensor<?x16xf32>, tensor<?x16xf32>
  return
}
