// A #seq.quant tensor whose element type does not parse is an error, not a
// call on a null type (found by fuzz/fuzz_seq_ir.cpp, under UBSan).
// RUN: not seqc-opt %s 2>&1 | FileCheck %s

// CHECK: error: a tensor with encoding #seq.quant<bits = 4, group = 32, axis = 1, asymmetric> must have element type i4
func.func @no_element_type(%x: tensor<4x32xf32>) {
  %q, %s = seq.quantize %x : tensor<4x32x, #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>>, tensor<4x1xf32>
  return
}
