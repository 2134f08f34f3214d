# NVIDIA H200: the NVIDIA driver's Vulkan device (driver 580.159.04, device
# API 1.4.312; Debian 12's loader is 1.3.239, so `vulkan 1.3`), as
# `vulkaninfo` (Debian 12's vulkan-tools) reported it on one H200 machine.
# One `key value...` entry a line; `#` starts a comment.
name nvidia-h200
vulkan 1.3
subgroup_size 32
max_storage_buffer_range 4294967295
max_compute_shared_memory_size 49152
max_compute_workgroup_invocations 1024
max_compute_workgroup_size 1024 1024 64
max_compute_workgroup_count 2147483647 65535 65535
features shaderFloat16 shaderFloat64 shaderInt8 shaderInt16 shaderInt64 storageBuffer16BitAccess storageBuffer8BitAccess shaderIntegerDotProduct
features subgroup_basic subgroup_vote subgroup_arithmetic subgroup_ballot subgroup_shuffle subgroup_shuffle_relative subgroup_quad
