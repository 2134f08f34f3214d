//===- vulkan_impl.h - the Vulkan runner's internals ------------*- C++ -*-===//
//
// What vulkan_kernels.cpp (the device, kernel artifacts), vulkan_memory.cpp
// (buffers, their memory, staged copies) and vulkan_model.cpp (model
// artifacts: their buffers and one command buffer per entry) share. Not
// part of the driver's interface (vulkan_kernels.h).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_VULKAN_IMPL_H
#define SEQC_RUNTIME_VULKAN_IMPL_H

#include "drivers/vulkan/vulkan_kernels.h"

#include <volk.h>

#include <map>
#include <string>
#include <vector>

namespace seqc::vk {
namespace detail {

inline std::string vkError(const char *what, VkResult r) {
  return std::string(what) + " failed (VkResult " + std::to_string(r) + ")";
}

/// Records a memory barrier: `srcAccess` in `srcStage` happens before
/// `dstAccess` in `dstStage`.
inline void memoryBarrier(VkCommandBuffer cb, VkPipelineStageFlags srcStage,
                          VkAccessFlags srcAccess,
                          VkPipelineStageFlags dstStage,
                          VkAccessFlags dstAccess) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = srcAccess;
  barrier.dstAccessMask = dstAccess;
  vkCmdPipelineBarrier(cb, srcStage, dstStage, 0, 1, &barrier, 0, nullptr, 0,
                       nullptr);
}

/// The device's features and the structs that enable them
/// (vulkan_kernels.cpp).
struct Features;

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void *mapped = nullptr;
  uint64_t bytes = 0;
};

struct Pipeline {
  const Kernel *kernel = nullptr;
  VkShaderModule module = VK_NULL_HANDLE;
  VkDescriptorSetLayout setLayout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkDescriptorSet set = VK_NULL_HANDLE;
  std::vector<Buffer> buffers;
};

} // namespace detail

struct Runner::Impl {
  using Buffer = detail::Buffer;
  using Pipeline = detail::Pipeline;
  using Features = detail::Features;
  const KernelArtifact *artifact = nullptr;
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queueFamily = 0;
  VkCommandPool commandPool = VK_NULL_HANDLE;
  VkDescriptorPool descriptorPool = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory{};
  std::string name;
  std::vector<Pipeline> pipelines;
  /// Per kernel: whether it runs as its fallback (checkDevice decides).
  std::vector<bool> fallback;
  bool subgroups = true;
  std::vector<std::string> messages;
  /// Model artifacts: the buffers the schedules name and one recorded
  /// command buffer per entry.
  std::map<std::string, Buffer> modelBuffers;
  std::map<std::string, VkCommandBuffer> entries;
  /// Model buffers the host does not map (staged): the host-visible twins
  /// of the tokens (copied in at the start of every entry that takes them)
  /// and the logits (copied out at its end), and the staging buffer the
  /// other copies go through.
  bool staged = false;
  uint64_t stagingBytes = 0;
  std::map<std::string, Buffer> inputTwins, outputTwins;
  Buffer staging;
  /// Validation messages already reported by runEntry.
  size_t reported = 0;

  ~Impl();
  bool createInstance(const Options &options, std::string &error);
  bool checkDevice(std::string &error, Features &enable);
  bool createDevice(Features &enable, std::string &error);
  /// Where a buffer lives: host-visible, coherent memory the host maps
  /// (kernel artifacts' buffers, twins, staging), or device-local memory,
  /// mapped only when it is also host-visible, coherent and cached and
  /// copies are not staged.
  enum class Memory { Host, Device };
  bool createBuffer(uint64_t bytes, Memory where, Buffer &out,
                    std::string &error);
  void destroyBuffer(Buffer &b);
  /// The first memory type `bits` allows with every flag of `required`,
  /// preferring one with `preferred` too; UINT32_MAX when none.
  uint32_t findMemoryType(uint32_t bits, VkMemoryPropertyFlags required,
                          VkMemoryPropertyFlags preferred) const;
  /// Copies between the host and an unmapped model buffer through the
  /// staging buffer, a piece at a time.
  bool transfer(Buffer &b, void *host, size_t bytes, bool toDevice,
                std::string &error);
  bool createPipeline(const Kernel &k, Pipeline &p, std::string &error);
  bool recordEntry(const std::string &name, const gpu::Schedule &schedule,
                   std::string &error);
  /// Staged: records the copies between the buffers among `args` that have
  /// twins and their twins (the inputs' in, or the outputs' out), after
  /// the dispatches before them; whether there were any.
  bool copyTwins(VkCommandBuffer cb, const std::vector<std::string> &args,
                 bool in);
  bool allocateCommandBuffer(VkCommandBuffer &cb, std::string &error);
  bool submit(VkCommandBuffer cb, std::string &error);
};

} // namespace seqc::vk

#endif // SEQC_RUNTIME_VULKAN_IMPL_H
