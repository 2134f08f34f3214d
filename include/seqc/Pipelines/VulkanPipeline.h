//===- VulkanPipeline.h - kernel modules to SPIR-V --------------*- C++ -*-===//
//
// seq-vulkan-pipeline: functions of loops on memrefs (linalg, or scf.parallel
// with or without a GPU mapping) become gpu.launch ops, then outlined
// kernels, then SPIR-V modules for a Vulkan device profile:
//
//   target env from the profile -> linalg to parallel loops -> map loops to
//   blocks/threads -> gpu.launch -> sink constants, outline kernels ->
//   check kernels against the profile, entry-point ABI, workgroup memory ->
//   math to SPIR-V inside each gpu.module -> gpu/arith/scf/memref/func to
//   SPIR-V -> lower ABI attributes, update version/capabilities/extensions.
//
// The target serializes each spirv.module (VulkanTarget.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PIPELINES_VULKANPIPELINE_H
#define SEQC_PIPELINES_VULKANPIPELINE_H

#include "seqc/Target/VulkanTarget.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace seqc {

/// Adds the Vulkan lowering for `profile` to `pm` (anchored on
/// builtin.module).
void buildVulkanPipeline(mlir::OpPassManager &pm, const VulkanProfile &profile);

/// Adds the Vulkan lowering of a model-level module (after the model
/// pipeline): the GPU model lowering (GPUPipeline.h), the mapping, each
/// entry's host part compiled to a schedule (seq-gpu-schedule), then the
/// kernels as above. The products add their threads' sums by subgroup
/// arithmetic where the profile has it and `subgroups` allows it, else in
/// workgroup memory alone (the same launches, bindings and workgroup
/// memory: the target lowers a copy that way for the artifact's fallback
/// kernels).
void buildVulkanModelPipeline(mlir::OpPassManager &pm,
                              const VulkanProfile &profile,
                              bool subgroups = true);
/// Its two halves: up to the schedules (outlined gpu.modules, scheduled
/// entries), then the kernels to SPIR-V.
void buildVulkanModelSchedulePipeline(mlir::OpPassManager &pm,
                                      const VulkanProfile &profile,
                                      bool subgroups = true);
void buildVulkanKernelsToSPIRV(mlir::OpPassManager &pm,
                               const VulkanProfile &profile);

/// Registers `seq-vulkan-pipeline{profile=FILE}` and
/// `seq-vulkan-model-pipeline{profile=FILE}` (default: lavapipe).
void registerVulkanPipeline();

} // namespace seqc

#endif // SEQC_PIPELINES_VULKANPIPELINE_H
