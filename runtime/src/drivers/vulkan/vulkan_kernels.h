//===- vulkan_kernels.h - running an artifact's SPIR-V kernels --*- C++ -*-===//
//
// The Vulkan driver of kernel artifacts (`seqc compile KERNELS.mlir
// --target=vulkan`): it reads kernels.bin (seqc/artifact.h), opens the first
// physical device through volk (the loader is found at run time, so nothing
// links libvulkan), refuses the artifact with a message naming the kernel,
// the need and the device when the device lacks a feature or limit a kernel
// needs, enables exactly the features the kernels need, and makes every
// buffer, pipeline and descriptor set once. A dispatch then copies inputs
// into the kernel's buffers, records one dispatch, submits, waits and reads
// back. With validation, the Khronos layer is enabled and every message it
// reports (warning or error) is counted.
//
// Model artifacts (seqc compile MODEL --target=vulkan) add one schedule
// per entry: the runtime's vulkan driver (vulkan_driver.cpp) records each
// into a command buffer once and submits it per token.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_VULKAN_KERNELS_H
#define SEQC_RUNTIME_VULKAN_KERNELS_H

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "drivers/gpu/kernel_artifact.h"

namespace seqc {
namespace vk {

// The kernel table is the GPU targets' shared one (drivers/gpu).
using gpu::Binding;
using gpu::bindingOfArg;
using gpu::Kernel;
using gpu::KernelArtifact;

/// kernels.bin as the Vulkan target writes it (SEQCSPV1, spirv= ranges).
const gpu::ArtifactFormat &artifactFormat();

/// Reads DIR/kernels.bin and checks that each kernel's module is SPIR-V;
/// false with `error` set on any problem.
bool loadArtifact(const std::string &dir, KernelArtifact &out,
                  std::string &error);

struct Options {
  /// Enable VK_LAYER_KHRONOS_validation and count its messages.
  bool validation = false;
  /// Model buffers: copy through host-visible staging buffers even where
  /// the device-local memory is host-visible and cached (which the host
  /// otherwise maps: lavapipe, integrated GPUs). A discrete GPU's buffers
  /// are staged whatever this says.
  bool staging = false;
  /// Bytes of the staging buffer that weights and state pass through, a
  /// piece at a time (0: 16 MiB).
  uint64_t stagingBytes = 0;
  /// Use the device's subgroup operations. False treats them as missing (a
  /// driver whose subgroup operations are broken): kernels that need them
  /// run as their fallbacks, and an artifact without fallbacks is refused.
  bool subgroups = true;
};

/// A device with an artifact's kernels ready to dispatch.
class Runner {
public:
  /// Opens the first physical device and prepares every kernel of
  /// `artifact`; null with `error` set when Vulkan is unavailable or the
  /// device cannot run the artifact.
  static std::unique_ptr<Runner> create(const KernelArtifact &artifact,
                                        const Options &options,
                                        std::string &error);
  ~Runner();

  /// The device's name (VkPhysicalDeviceProperties::deviceName).
  const std::string &deviceName() const;

  /// Dispatches `kernel` once: `inputs` (binding -> bytes, each exactly the
  /// binding's size) are copied in first, unnamed bindings keep their
  /// contents (zero at creation); every binding is read back into
  /// `results`. False with `error` set on failure.
  bool dispatch(const std::string &kernel,
                const std::map<unsigned, std::string> &inputs,
                std::map<unsigned, std::string> &results, std::string &error);

  /// Model artifacts (kernels.bin with schedules): creates the buffers the
  /// schedules name, `bytes` giving each argument's size (weights, tokens,
  /// state, logits; the scratch size is the schedules'), and records each
  /// entry into a command buffer once: one dispatch per schedule step with
  /// a barrier between dispatches. A binding outside its buffer is an
  /// error here.
  bool prepareModel(const std::map<std::string, uint64_t> &bytes,
                    std::string &error);
  /// Copies `bytes` bytes to / from the start of a model buffer. Model
  /// buffers live in device-local memory: mapped where the host can read
  /// it cheaply (host-visible, coherent and cached), otherwise (or with
  /// Options::staging) the tokens and logits have host-visible twins that
  /// each entry's command buffer copies from and to, and the weights and
  /// state pass through a staging buffer.
  bool copyToModel(const std::string &buffer, const void *data, size_t bytes,
                   std::string &error);
  bool copyFromModel(const std::string &buffer, void *data, size_t bytes,
                     std::string &error);
  /// Submits `entry`'s command buffer and waits for it. With validation, a
  /// message the layer reported since the last call fails it.
  bool runEntry(const std::string &entry, std::string &error);

  /// Messages of the validation layer so far (warnings and errors).
  const std::vector<std::string> &validationMessages() const;

  struct Impl;

private:
  explicit Runner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

/// The names of the physical devices (empty with `error` set when the
/// loader or an instance is unavailable).
std::vector<std::string> listDevices(std::string &error);

} // namespace vk
} // namespace seqc

#endif // SEQC_RUNTIME_VULKAN_KERNELS_H
