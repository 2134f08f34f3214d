//===- VulkanTarget.h - the Vulkan (SPIR-V) target --------------*- C++ -*-===//
//
// The Vulkan target compiles kernel modules (functions of loops on memrefs)
// to SPIR-V compute shaders for a device described by a profile: a text of
// `key value...` lines (lib/Target/Vulkan/profiles/lavapipe.profile is the
// checked-in one, and the default). The profile becomes the SPIR-V target
// environment the conversion may use (capabilities from its features,
// resource limits), and each kernel's table entry in the artifact names the
// features and limits the runtime checks on the device.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TARGET_VULKANTARGET_H
#define SEQC_TARGET_VULKANTARGET_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace mlir {
class MLIRContext;
namespace spirv {
class TargetEnvAttr;
} // namespace spirv
} // namespace mlir

namespace seqc {

/// A Vulkan device as the compiler sees it.
struct VulkanProfile {
  std::string name;
  /// The Vulkan version (major, minor): it sets the SPIR-V version.
  int vulkanMajor = 1, vulkanMinor = 0;
  int64_t subgroupSize = 0;
  int64_t maxStorageBufferRange = 0;
  int64_t maxComputeSharedMemorySize = 0;
  /// Storage buffers one kernel may bind (maxPerStageDescriptorStorageBuffers;
  /// optional: 0 when the profile does not say, and the runtime checks).
  int64_t maxPerStageStorageBuffers = 0;
  /// Loop iterations a kernel invocation may run in all before the driver
  /// ends its loops (llvmpipe: 65535); 0: no such limit.
  int64_t maxLoopIterations = 0;
  /// The tokens of one prefill schedule when --prefill-chunk is not given
  /// (optional; 16 when the profile does not say).
  int64_t prefillTokens = 16;
  int64_t maxComputeWorkgroupInvocations = 0;
  std::array<int64_t, 3> maxComputeWorkgroupSize = {0, 0, 0};
  std::array<int64_t, 3> maxComputeWorkgroupCount = {0, 0, 0};
  /// Names from runtime/include/seqc/vulkan_features.def.
  llvm::SmallVector<std::string> features;

  /// Parses a profile; errors name `source` and the line.
  static llvm::Expected<VulkanProfile> parse(llvm::StringRef text,
                                             llvm::StringRef source);
  /// Reads and parses the file at `path`.
  static llvm::Expected<VulkanProfile> read(llvm::StringRef path);
  /// The checked-in lavapipe profile (embedded at build time).
  static const VulkanProfile &lavapipe();

  bool hasFeature(llvm::StringRef feature) const;
  /// The highest SPIR-V version kernels may use: 1.0 for Vulkan 1.0, 1.3
  /// for later versions (VulkanProfile.cpp says why not 1.5/1.6).
  std::pair<int, int> spirvVersion() const;
  /// The SPIR-V target environment: the profile's features as capabilities
  /// (and their extensions), its limits as resource limits.
  mlir::spirv::TargetEnvAttr targetEnv(mlir::MLIRContext *ctx) const;
};

/// The feature of vulkan_features.def that allows SPIR-V capability `cap`,
/// or "" for the capabilities every Vulkan compute device has (Shader,
/// Matrix).
llvm::StringRef vulkanFeatureForCapability(llvm::StringRef cap);

/// Options of the Vulkan target.
struct VulkanTargetOptions {
  /// A profile file; empty: the checked-in lavapipe profile.
  std::string profile;
};

struct TargetOptions;
class TargetBackend;

/// The Vulkan target (its profile is read here: a bad one is reported
/// before any long stage).
llvm::Expected<std::unique_ptr<TargetBackend>>
createVulkanTarget(const TargetOptions &options);

} // namespace seqc

#endif // SEQC_TARGET_VULKANTARGET_H
