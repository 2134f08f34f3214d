name bad
vulkan 1.3
features shaderFloat16 cooperativeMatrix
