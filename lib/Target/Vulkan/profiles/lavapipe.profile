# lavapipe: Mesa 22.3.6's llvmpipe Vulkan driver (Debian 12, mesa-vulkan-drivers),
# as `vulkaninfo` reports it on x86-64 with AVX2 ("llvmpipe (LLVM 15.0.6, 256 bits)").
# One `key value...` entry a line; `#` starts a comment.
name lavapipe
vulkan 1.3
subgroup_size 8
max_storage_buffer_range 134217728
max_compute_shared_memory_size 32768
max_per_stage_storage_buffers 32
# Not a Vulkan limit: llvmpipe ends a shader's loops after 65535 iterations
# in all (LP_MAX_TGSI_LOOP_ITERATIONS, shared by every loop of a shader),
# which would cut a long recurrence short without an error. A WKV head of
# 64 channels runs 8448 iterations per token, so a prefill runs 4 tokens
# per schedule here.
max_loop_iterations 65535
prefill_tokens 4
max_compute_workgroup_invocations 1024
max_compute_workgroup_size 1024 1024 1024
max_compute_workgroup_count 65535 65535 65535
features shaderFloat16 shaderFloat64 shaderInt8 shaderInt16 shaderInt64 storageBuffer16BitAccess storageBuffer8BitAccess shaderIntegerDotProduct
features subgroup_basic subgroup_vote subgroup_arithmetic subgroup_ballot subgroup_shuffle subgroup_shuffle_relative subgroup_quad
