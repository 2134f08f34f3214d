// RUN: seqc-opt %s --seq-cpu-abi -split-input-file | FileCheck %s

// Weights by reference become views of the mapped weight file: the entry
// and the shared layer function get it as their first argument, the layer
// function's layer argument becomes the byte offset of its layer's first
// weight (the caller passes 256 for layer 1, 512 for layer 2), and its views
// are relative to it. Public functions become C-interface entries; a
// function that reads no weight gets no weights argument. The table goes.

// CHECK: module {
// CHECK-NOT: seq.weights
module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {
    emb = #seq.weight_entry<0, tensor<4x8xf32>>,
    layers.1.norm = #seq.weight_entry<256, tensor<8xf32>>,
    layers.1.w = #seq.weight_entry<320, tensor<8x8xf16>>,
    layers.2.norm = #seq.weight_entry<512, tensor<8xf32>>,
    layers.2.w = #seq.weight_entry<576, tensor<8x8xf16>>,
    layers.2.bias = #seq.weight_entry<704, tensor<8xi8>>}>} {

  // CHECK-LABEL: func.func private @layer(
  // CHECK-SAME: %[[W:.*]]: memref<?xi8>, %[[OFF:.*]]: index, %{{.*}}: tensor<8xf32>)
  // CHECK: %[[C0:.*]] = arith.constant 0 : index
  // CHECK: %[[A0:.*]] = arith.addi %[[OFF]], %[[C0]] : index
  // CHECK: %[[V0:.*]] = memref.view %[[W]][%[[A0]]][] : memref<?xi8> to memref<8xf32>
  // CHECK: bufferization.to_tensor %[[V0]] restrict : memref<8xf32> to tensor<8xf32>
  // CHECK: %[[C64:.*]] = arith.constant 64 : index
  // CHECK: %[[A1:.*]] = arith.addi %[[OFF]], %[[C64]] : index
  // CHECK: memref.view %[[W]][%[[A1]]][] : memref<?xi8> to memref<8x8xf16>
  // CHECK-NOT: seq.weight
  func.func private @layer(%l: index, %x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8x8xf16>) {
    %n = seq.weight "norm"[%l] : tensor<8xf32>
    %w = seq.weight "w"[%l] : tensor<8x8xf16>
    return %n, %w : tensor<8xf32>, tensor<8x8xf16>
  }

  // CHECK-LABEL: func.func @step(
  // CHECK-SAME: %[[W:.*]]: memref<?xi8>, %{{.*}}: tensor<8xf32>)
  // CHECK-SAME: attributes {llvm.emit_c_interface}
  // CHECK: %[[C0:.*]] = arith.constant 0 : index
  // CHECK: memref.view %[[W]][%[[C0]]][] : memref<?xi8> to memref<4x8xf32>
  // CHECK: %[[C704:.*]] = arith.constant 704 : index
  // CHECK: memref.view %[[W]][%[[C704]]][] : memref<?xi8> to memref<8xi8>
  // CHECK: %[[O1:.*]] = arith.constant 256 : index
  // CHECK: call @layer(%[[W]], %[[O1]], %{{.*}})
  // CHECK: %[[O2:.*]] = arith.constant 512 : index
  // CHECK: call @layer(%[[W]], %[[O2]], %{{.*}})
  func.func @step(%x: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8xi8>, tensor<8xf32>) {
    %e = seq.weight "emb" : tensor<4x8xf32>
    %c2 = arith.constant 2 : index
    %b = seq.weight "bias"[%c2] : tensor<8xi8>
    %c1 = arith.constant 1 : index
    %y:2 = call @layer(%c1, %x) : (index, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x8xf16>)
    %z:2 = call @layer(%c2, %y#0) : (index, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x8xf16>)
    return %e, %b, %z#0 : tensor<4x8xf32>, tensor<8xi8>, tensor<8xf32>
  }

  // CHECK-LABEL: func.func @init(
  // CHECK-SAME: %{{.*}}: memref<4xf32>) attributes {llvm.emit_c_interface}
  func.func @init(%s: memref<4xf32>) {
    return
  }
}

// -----

// An empty layer root: layer l's weights are "<l>.<name>".
// CHECK-LABEL: func.func private @bare(
// CHECK-SAME: %[[W:.*]]: memref<?xi8>, %[[OFF:.*]]: index)
// CHECK: %[[C16:.*]] = arith.constant 16 : index
// CHECK: arith.addi %[[OFF]], %[[C16]] : index
// CHECK-LABEL: func.func @bare_entry(
// CHECK: %[[O:.*]] = arith.constant 64 : index
// CHECK: call @bare(%{{.*}}, %[[O]])
module attributes {seq.weights = #seq.weight_table<layer_root = "", entries = {
    "0.a" = #seq.weight_entry<0, tensor<4xf32>>,
    "0.b" = #seq.weight_entry<16, tensor<4xf32>>,
    "1.a" = #seq.weight_entry<64, tensor<4xf32>>,
    "1.b" = #seq.weight_entry<80, tensor<4xf32>>}>} {
  func.func private @bare(%l: index) -> tensor<4xf32> {
    %w = seq.weight "b"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
  func.func @bare_entry() -> tensor<4xf32> {
    %c1 = arith.constant 1 : index
    %w = call @bare(%c1) : (index) -> tensor<4xf32>
    return %w : tensor<4xf32>
  }
}
