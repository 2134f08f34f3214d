// Round trip of seq.weight and the weight table (custom form, generic form,
// bytecode).
// RUN: seqc-opt %s | seqc-opt | FileCheck %s
// RUN: seqc-opt %s --mlir-print-op-generic | seqc-opt | FileCheck %s
// RUN: seqc-opt %s --emit-bytecode | seqc-opt | FileCheck %s

// CHECK: module attributes {seq.weights = #seq.weight_table<layer_root = "blocks.", entries = {blocks.0.key = #seq.weight_entry<1024, tensor<16x16xf16>>, blocks.1.key = #seq.weight_entry<1600, tensor<16x16xi8>>, emb = #seq.weight_entry<0, tensor<4x16xf32>>}>}
module attributes {seq.weights = #seq.weight_table<layer_root = "blocks.", entries = {
    emb = #seq.weight_entry<0, tensor<4x16xf32>>,
    "blocks.0.key" = #seq.weight_entry<1024, tensor<16x16xf16>>,
    "blocks.1.key" = #seq.weight_entry<1600, tensor<16x16xi8>>}>} {
  // CHECK-LABEL: func.func @layer
  // CHECK: seq.weight "key"[%arg0] : tensor<16x16xf16>
  func.func @layer(%l: index) -> tensor<16x16xf16> {
    %k = seq.weight "key"[%l] : tensor<16x16xf16>
    return %k : tensor<16x16xf16>
  }
  // CHECK-LABEL: func.func @entry
  // CHECK: seq.weight "emb" : tensor<4x16xf32>
  func.func @entry() -> tensor<4x16xf32> {
    %e = seq.weight "emb" : tensor<4x16xf32>
    return %e : tensor<4x16xf32>
  }
}
