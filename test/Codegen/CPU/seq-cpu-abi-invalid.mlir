// RUN: seqc-opt %s --seq-cpu-abi -split-input-file -verify-diagnostics

// Every message of seq-cpu-abi, at its reference.

func.func @no_table() -> tensor<4xf32> {
  // expected-error @+1 {{'seq.weight' op has no weight table to resolve through: the module needs a 'seq.weights' attribute}}
  %w = seq.weight "w" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func @missing() -> tensor<4xf32> {
    // expected-error @+1 {{'seq.weight' op refers to 'v', which the weight table does not have}}
    %w = seq.weight "v" : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func @wrong_type() -> tensor<4xf16> {
    // expected-error @+1 {{'seq.weight' op is 'tensor<4xf16>' but the weight table's 'w' is 'tensor<4xf32>'}}
    %w = seq.weight "w" : tensor<4xf16>
    return %w : tensor<4xf16>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func @missing_in_layer() -> tensor<4xf32> {
    %c3 = arith.constant 3 : index
    // expected-error @+1 {{'seq.weight' op refers to 'layers.3.w', which the weight table does not have}}
    %w = seq.weight "w"[%c3] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func @computed_layer(%i: index) -> tensor<4xf32> {
    %l = arith.addi %i, %i : index
    // expected-error @+1 {{'seq.weight' op layer must be a constant or an argument of the enclosing function}}
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  // expected-error @+1 {{'func.func' op names weights relative to a layer argument, so it must be private (its callers give the layer)}}
  func.func @public_layer(%l: index) -> tensor<4xf32> {
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func private @layer(%l: index) -> tensor<4xf32> {
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
  func.func @entry(%l: index) -> tensor<4xf32> {
    // expected-error @+1 {{'func.call' op gives layer argument #0 of @layer a layer that is not a constant}}
    %w = call @layer(%l) : (index) -> tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  // expected-error @+1 {{'func.func' op names weights relative to layer argument #0 but is never called, so no layer resolves them}}
  func.func private @uncalled(%l: index) -> tensor<4xf32> {
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func private @layer(%l: index) -> (tensor<4xf32>, index) {
    %w = seq.weight "w"[%l] : tensor<4xf32>
    // expected-error @+1 {{'arith.addi' op uses layer argument #0 of @layer, which seq-cpu-abi turns into a byte offset; only seq.weight may use it}}
    %m = arith.addi %l, %l : index
    return %w, %m : tensor<4xf32>, index
  }
  func.func @entry() -> tensor<4xf32> {
    %c0 = arith.constant 0 : index
    %w, %m = call @layer(%c0) : (index) -> (tensor<4xf32>, index)
    return %w : tensor<4xf32>
  }
}

// -----

// Layers 0 and 1 hold "w" at different places within the layer: one
// function cannot read both.
module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {
    layers.0.a = #seq.weight_entry<0, tensor<4xf32>>,
    layers.0.w = #seq.weight_entry<64, tensor<4xf32>>,
    layers.1.w = #seq.weight_entry<128, tensor<4xf32>>,
    layers.1.a = #seq.weight_entry<192, tensor<4xf32>>}>} {
  func.func private @layer(%l: index) -> tensor<4xf32> {
    // expected-error @+1 {{'seq.weight' op 'w' lies 64 bytes into layer 0 but 0 bytes into layer 1: one function cannot serve both layers}}
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
  func.func @entry() -> tensor<4xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %a = call @layer(%c0) : (index) -> tensor<4xf32>
    %b = call @layer(%c1) : (index) -> tensor<4xf32>
    return %b : tensor<4xf32>
  }
}

// -----

module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {layers.0.w = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func private @layer(%l: index) -> tensor<4xf32> {
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
  func.func @entry() -> tensor<4xf32> {
    %c0 = arith.constant 0 : index
    %w = call @layer(%c0) : (index) -> tensor<4xf32>
    // expected-error @+1 {{'func.constant' op refers to @layer, whose weights are relative to a layer argument; only calls may}}
    %f = func.constant @layer : (index) -> tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

// A name that only looks like a layer's: "-1" is no layer.
module attributes {seq.weights = #seq.weight_table<layer_root = "layers.", entries = {"layers.-1.w" = #seq.weight_entry<0, tensor<4xf32>>}>} {
  func.func private @layer(%l: index) -> tensor<4xf32> {
    // expected-error @+1 {{'seq.weight' op is called with layer -1, which is not a layer of the weight table}}
    %w = seq.weight "w"[%l] : tensor<4xf32>
    return %w : tensor<4xf32>
  }
  func.func @entry() -> tensor<4xf32> {
    %m = arith.constant -1 : index
    %w = call @layer(%m) : (index) -> tensor<4xf32>
    return %w : tensor<4xf32>
  }
}
