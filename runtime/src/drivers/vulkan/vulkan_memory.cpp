//===- vulkan_memory.cpp - where the Vulkan runner's buffers live ---------===//
//
// Buffers and their memory: host-visible, coherent memory for kernel
// artifacts, twins and the staging buffer; device-local memory for a
// model's buffers, mapped only where the host reads it cheaply; and the
// copies through the staging buffer to and from unmapped buffers.
//
//===----------------------------------------------------------------------===//

#include "drivers/vulkan/vulkan_impl.h"

#include <algorithm>
#include <cstring>

using namespace seqc::vk;
using detail::Buffer;
using detail::memoryBarrier;
using detail::vkError;

uint32_t Runner::Impl::findMemoryType(uint32_t bits,
                                      VkMemoryPropertyFlags required,
                                      VkMemoryPropertyFlags preferred) const {
  uint32_t found = UINT32_MAX;
  for (uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
    VkMemoryPropertyFlags flags = memory.memoryTypes[i].propertyFlags;
    if (!(bits & (1u << i)) || (flags & required) != required)
      continue;
    if ((flags & preferred) == preferred)
      return i;
    if (found == UINT32_MAX)
      found = i;
  }
  return found;
}

bool Runner::Impl::createBuffer(uint64_t bytes, Memory where, Buffer &out,
                                std::string &error) {
  out.bytes = bytes;
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = bytes;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkResult r = vkCreateBuffer(device, &info, nullptr, &out.buffer);
  if (r != VK_SUCCESS) {
    error = vkError("vkCreateBuffer", r);
    return false;
  }
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, out.buffer, &req);
  const VkMemoryPropertyFlags hostMapped = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const VkMemoryPropertyFlags cached = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
  const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  uint32_t type = UINT32_MAX;
  bool map = true;
  if (where == Memory::Host) {
    // Cached where there is such memory: the host reads results back.
    type = findMemoryType(req.memoryTypeBits, hostMapped, cached);
  } else {
    // Device-local memory the host reads cheaply (lavapipe, integrated
    // GPUs) is mapped; otherwise, or when copies are staged, it is not.
    if (!staged)
      type = findMemoryType(req.memoryTypeBits, local | hostMapped | cached, 0);
    if (type == UINT32_MAX) {
      type = findMemoryType(req.memoryTypeBits, local, 0);
      map = false;
    }
  }
  if (type == UINT32_MAX) {
    error = "device '" + name + "' has no " +
            (where == Memory::Host ? "host-visible coherent" : "device-local") +
            " memory for a buffer of " + std::to_string(bytes) + " bytes";
    return false;
  }
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = type;
  if ((r = vkAllocateMemory(device, &alloc, nullptr, &out.memory)) !=
      VK_SUCCESS) {
    error = vkError("vkAllocateMemory", r) + " for a buffer of " +
            std::to_string(bytes) + " bytes";
    return false;
  }
  if ((r = vkBindBufferMemory(device, out.buffer, out.memory, 0)) !=
      VK_SUCCESS) {
    error = vkError("vkBindBufferMemory", r);
    return false;
  }
  if (!map)
    return true;
  if ((r = vkMapMemory(device, out.memory, 0, VK_WHOLE_SIZE, 0, &out.mapped)) !=
      VK_SUCCESS) {
    error = vkError("vkMapMemory", r);
    return false;
  }
  std::memset(out.mapped, 0, bytes);
  return true;
}

void Runner::Impl::destroyBuffer(Buffer &b) {
  if (b.mapped)
    vkUnmapMemory(device, b.memory);
  vkDestroyBuffer(device, b.buffer, nullptr);
  vkFreeMemory(device, b.memory, nullptr);
  b = Buffer();
}

bool Runner::Impl::transfer(Buffer &b, void *host, size_t bytes, bool toDevice,
                            std::string &error) {
  for (size_t done = 0; done < bytes;) {
    size_t n = std::min<uint64_t>(bytes - done, staging.bytes);
    if (toDevice)
      std::memcpy(staging.mapped, static_cast<const char *>(host) + done, n);
    VkCommandBuffer cb;
    if (!allocateCommandBuffer(cb, error))
      return false;
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(cb, &begin);
    // After the dispatches (and copies) submitted before.
    memoryBarrier(cb,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                      VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                      VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    VkBufferCopy region{toDevice ? 0 : done, toDevice ? done : 0, n};
    vkCmdCopyBuffer(cb, toDevice ? staging.buffer : b.buffer,
                    toDevice ? b.buffer : staging.buffer, 1, &region);
    // For the dispatches submitted after, or the host's read.
    memoryBarrier(
        cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
        toDevice ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
                 : VK_PIPELINE_STAGE_HOST_BIT,
        toDevice ? VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
                 : VK_ACCESS_HOST_READ_BIT);
    vkEndCommandBuffer(cb);
    bool submitted = submit(cb, error);
    vkFreeCommandBuffers(device, commandPool, 1, &cb);
    if (!submitted)
      return false;
    if (!toDevice)
      std::memcpy(static_cast<char *>(host) + done, staging.mapped, n);
    done += n;
  }
  return true;
}
