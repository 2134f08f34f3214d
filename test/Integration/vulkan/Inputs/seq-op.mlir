// A model-level op: the Vulkan target starts from loops on memrefs.
func.func @step(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = seq.heaviside %x : tensor<4x8xf32>
  return %s : tensor<4x8xf32>
}
