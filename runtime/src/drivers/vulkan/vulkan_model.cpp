//===- vulkan_model.cpp - a model artifact's buffers and entries ----------===//
//
// Model artifacts (kernels.bin with schedules): the buffers the schedules
// name, one descriptor set per dispatch and one command buffer per entry,
// recorded once; a run submits it (vulkan_kernels.h). The buffers live in
// device-local memory; where the host does not map it, each entry's command
// buffer also copies the tokens in from a host-visible twin and the logits
// out to one, so a token is still one submission, and the weights and state
// go through a staging buffer.
//
//===----------------------------------------------------------------------===//

#include "drivers/vulkan/vulkan_impl.h"

#include <algorithm>
#include <cstring>

using namespace seqc::vk;
using detail::Buffer;
using detail::memoryBarrier;
using detail::vkError;

bool Runner::Impl::recordEntry(const std::string &name,
                               const gpu::Schedule &schedule,
                               std::string &error) {
  std::vector<VkBuffer> buffers;
  std::vector<uint64_t> sizes;
  for (const std::string &arg : schedule.args) {
    auto it = modelBuffers.find(arg);
    if (it == modelBuffers.end()) {
      error = "entry " + name + " takes a buffer '" + arg +
              "' the runtime does not have";
      return false;
    }
    buffers.push_back(it->second.buffer);
    sizes.push_back(it->second.bytes);
  }
  const Buffer &scratch = modelBuffers.at("scratch");
  VkCommandBuffer cb;
  if (!allocateCommandBuffer(cb, error))
    return false;
  entries[name] = cb;
  VkResult r;
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vkBeginCommandBuffer(cb, &begin);
  // Staged: the inputs' twins first (once the previous submission's
  // dispatches are done with the buffers).
  if (copyTwins(cb, schedule.args, /*in=*/true))
    memoryBarrier(
        cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
  for (size_t i = 0; i < schedule.dispatches.size(); ++i) {
    const gpu::Dispatch &d = schedule.dispatches[i];
    const Pipeline &p = pipelines[d.kernel];
    VkDescriptorSetAllocateInfo dsInfo{
        VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    dsInfo.descriptorPool = descriptorPool;
    dsInfo.descriptorSetCount = 1;
    dsInfo.pSetLayouts = &p.setLayout;
    VkDescriptorSet set;
    if ((r = vkAllocateDescriptorSets(device, &dsInfo, &set)) != VK_SUCCESS) {
      vkEndCommandBuffer(cb);
      error = vkError("vkAllocateDescriptorSets", r);
      return false;
    }
    std::vector<VkDescriptorBufferInfo> infos(d.bindings.size());
    std::vector<VkWriteDescriptorSet> writes(d.bindings.size());
    for (size_t b = 0; b < d.bindings.size(); ++b) {
      const gpu::Dispatch::Ref &ref = d.bindings[b];
      bool isScratch = ref.buffer == gpu::Schedule::kScratch;
      uint64_t size = isScratch ? scratch.bytes : sizes[ref.buffer];
      if (ref.offset > size || ref.bytes > size - ref.offset) {
        vkEndCommandBuffer(cb);
        error =
            "entry " + name + ", dispatch " + std::to_string(i) + ": binding " +
            std::to_string(b) + " (" + std::to_string(ref.bytes) +
            " bytes at " + std::to_string(ref.offset) +
            ") lies outside its buffer '" +
            (isScratch ? std::string("scratch") : schedule.args[ref.buffer]) +
            "' of " + std::to_string(size) + " bytes";
        return false;
      }
      infos[b] = {isScratch ? scratch.buffer : buffers[ref.buffer], ref.offset,
                  ref.bytes};
      writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[b].dstSet = set;
      writes[b].dstBinding = b;
      writes[b].descriptorCount = 1;
      writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[b].pBufferInfo = &infos[b];
    }
    vkUpdateDescriptorSets(device, writes.size(), writes.data(), 0, nullptr);
    // Each dispatch reads what the ones before it wrote.
    if (i)
      memoryBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_WRITE_BIT,
                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1,
                            &set, 0, nullptr);
    const Kernel &k = artifact->kernels[d.kernel];
    vkCmdDispatch(cb, k.grid[0], k.grid[1], k.grid[2]);
  }
  // Staged: the outputs to their twins. The results become visible to the
  // host's reads of the mappings.
  bool copiesOut = copyTwins(cb, schedule.args, /*in=*/false);
  memoryBarrier(cb,
                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                    (copiesOut ? VK_PIPELINE_STAGE_TRANSFER_BIT : 0),
                VK_ACCESS_SHADER_WRITE_BIT |
                    (copiesOut ? VK_ACCESS_TRANSFER_WRITE_BIT : 0),
                VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  if ((r = vkEndCommandBuffer(cb)) != VK_SUCCESS) {
    error = vkError("vkEndCommandBuffer", r);
    return false;
  }
  return true;
}

bool Runner::Impl::copyTwins(VkCommandBuffer cb,
                             const std::vector<std::string> &args, bool in) {
  std::map<std::string, Buffer> &twins = in ? inputTwins : outputTwins;
  bool any = false;
  for (const std::string &arg : args) {
    auto twin = twins.find(arg);
    if (twin == twins.end())
      continue;
    if (!any)
      memoryBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    in ? VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
                       : VK_ACCESS_SHADER_WRITE_BIT,
                    VK_PIPELINE_STAGE_TRANSFER_BIT,
                    in ? VK_ACCESS_TRANSFER_WRITE_BIT
                       : VK_ACCESS_TRANSFER_READ_BIT);
    any = true;
    VkBuffer model = modelBuffers.at(arg).buffer;
    VkBufferCopy region{0, 0, twin->second.bytes};
    vkCmdCopyBuffer(cb, in ? twin->second.buffer : model,
                    in ? model : twin->second.buffer, 1, &region);
  }
  return any;
}

bool Runner::prepareModel(const std::map<std::string, uint64_t> &bytes,
                          std::string &error) {
  if (impl->artifact->schedules.empty()) {
    error = impl->artifact->dir + ": a kernel artifact, not a model";
    return false;
  }
  std::map<std::string, uint64_t> sizes = bytes;
  uint64_t scratch = 0;
  for (auto &[name, schedule] : impl->artifact->schedules)
    scratch = std::max(scratch, schedule.scratch);
  // A buffer of no bytes cannot be created; a schedule with no scratch
  // binds none.
  sizes["scratch"] = std::max<uint64_t>(scratch, 4);
  for (auto &[name, n] : sizes) {
    Buffer &b = impl->modelBuffers[name];
    if (!impl->createBuffer(std::max<uint64_t>(n, 4), Impl::Memory::Device, b,
                            error))
      return false;
    if (b.mapped)
      continue;
    // Unmapped: the tokens and logits of every token through twins, the
    // rest through the staging buffer.
    std::map<std::string, Buffer> *twins = name == "tokens" ? &impl->inputTwins
                                           : name == "logits"
                                               ? &impl->outputTwins
                                               : nullptr;
    if (twins &&
        !impl->createBuffer(b.bytes, Impl::Memory::Host, (*twins)[name], error))
      return false;
    if (!twins && !impl->staging.buffer &&
        !impl->createBuffer(impl->stagingBytes, Impl::Memory::Host,
                            impl->staging, error))
      return false;
  }
  for (auto &[name, schedule] : impl->artifact->schedules)
    if (!impl->recordEntry(name, schedule, error))
      return false;
  return true;
}

bool Runner::copyToModel(const std::string &buffer, const void *data,
                         size_t bytes, std::string &error) {
  Buffer *b = gpu::findModelBuffer(impl->modelBuffers, buffer, bytes, error);
  if (!b)
    return false;
  auto twin = impl->inputTwins.find(buffer);
  if (b->mapped || twin != impl->inputTwins.end()) {
    // The entry copies a twin in when it starts.
    Buffer &dst = b->mapped ? *b : twin->second;
    std::memcpy(dst.mapped, data, bytes);
    return true;
  }
  return impl->transfer(*b, const_cast<void *>(data), bytes,
                        /*toDevice=*/true, error);
}

bool Runner::copyFromModel(const std::string &buffer, void *data, size_t bytes,
                           std::string &error) {
  Buffer *b = gpu::findModelBuffer(impl->modelBuffers, buffer, bytes, error);
  if (!b)
    return false;
  auto twin = impl->outputTwins.find(buffer);
  if (b->mapped || twin != impl->outputTwins.end()) {
    // The last entry copied the twin out when it ended.
    const Buffer &src = b->mapped ? *b : twin->second;
    std::memcpy(data, src.mapped, bytes);
    return true;
  }
  return impl->transfer(*b, data, bytes, /*toDevice=*/false, error);
}

bool Runner::runEntry(const std::string &entry, std::string &error) {
  auto it = impl->entries.find(entry);
  if (it == impl->entries.end()) {
    error = impl->artifact->dir + " has no entry " + entry;
    return false;
  }
  if (!impl->submit(it->second, error))
    return false;
  // Messages since the last call (pipeline creation's included).
  const std::vector<std::string> &messages = impl->messages;
  if (messages.size() > impl->reported) {
    size_t more = messages.size() - impl->reported - 1;
    error =
        "the Vulkan validation layer reported: " + messages[impl->reported] +
        (more ? " (and " + std::to_string(more) + " more)" : "");
    impl->reported = messages.size();
    return false;
  }
  return true;
}
