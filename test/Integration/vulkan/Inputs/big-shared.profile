# A device like lavapipe but with 64 KiB of workgroup memory: kernels
# compiled for it may need more than lavapipe has.
name big-shared
vulkan 1.3
subgroup_size 8
max_storage_buffer_range 134217728
max_compute_shared_memory_size 65536
max_compute_workgroup_invocations 1024
max_compute_workgroup_size 1024 1024 1024
max_compute_workgroup_count 65535 65535 65535
features shaderFloat16 shaderInt8 shaderInt16 storageBuffer16BitAccess storageBuffer8BitAccess
