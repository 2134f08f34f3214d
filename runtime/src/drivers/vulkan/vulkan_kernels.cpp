//===- vulkan_kernels.cpp - running an artifact's SPIR-V kernels ----------===//

#include "drivers/vulkan/vulkan_impl.h"

#include "seqc/artifact.h"

#include <volk.h>

#include <algorithm>
#include <cstring>
#include <map>

using namespace seqc::vk;
using detail::Buffer;
using detail::Features;
using detail::Pipeline;
using detail::vkError;

//===----------------------------------------------------------------------===//
// The device
//===----------------------------------------------------------------------===//

namespace {

const char *kValidationLayer = "VK_LAYER_KHRONOS_validation";

} // namespace

/// The device's features, queried once, and the structs that enable them.
struct seqc::vk::detail::Features {
  VkPhysicalDeviceFeatures2 base{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  VkPhysicalDeviceVulkan11Features v11{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features v12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan13Features v13{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  bool has13 = false;

  void chain(bool with13) {
    has13 = with13;
    base.pNext = &v11;
    v11.pNext = &v12;
    v12.pNext = with13 ? &v13 : nullptr;
    v13.pNext = nullptr;
  }
  /// The VkBool32 of a vulkan_features.def feature (null: a subgroup
  /// operation or unknown).
  VkBool32 *field(const std::string &name) {
    if (name == "shaderFloat16")
      return &v12.shaderFloat16;
    if (name == "shaderFloat64")
      return &base.features.shaderFloat64;
    if (name == "shaderInt8")
      return &v12.shaderInt8;
    if (name == "shaderInt16")
      return &base.features.shaderInt16;
    if (name == "shaderInt64")
      return &base.features.shaderInt64;
    if (name == "storageBuffer16BitAccess")
      return &v11.storageBuffer16BitAccess;
    if (name == "storageBuffer8BitAccess")
      return &v12.storageBuffer8BitAccess;
    if (name == "shaderIntegerDotProduct")
      return has13 ? &v13.shaderIntegerDotProduct : nullptr;
    return nullptr;
  }
};

namespace {

VkSubgroupFeatureFlagBits subgroupBit(const std::string &name) {
  static const std::pair<const char *, VkSubgroupFeatureFlagBits> bits[] = {
      {"subgroup_basic", VK_SUBGROUP_FEATURE_BASIC_BIT},
      {"subgroup_vote", VK_SUBGROUP_FEATURE_VOTE_BIT},
      {"subgroup_arithmetic", VK_SUBGROUP_FEATURE_ARITHMETIC_BIT},
      {"subgroup_ballot", VK_SUBGROUP_FEATURE_BALLOT_BIT},
      {"subgroup_shuffle", VK_SUBGROUP_FEATURE_SHUFFLE_BIT},
      {"subgroup_shuffle_relative", VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT},
      {"subgroup_quad", VK_SUBGROUP_FEATURE_QUAD_BIT}};
  for (auto &[n, bit] : bits)
    if (name == n)
      return bit;
  return VkSubgroupFeatureFlagBits(0);
}

bool knownFeature(const std::string &name) {
#define SEQC_VULKAN_FEATURE(n, caps, ext)                                      \
  if (name == #n)                                                              \
    return true;
#include "seqc/vulkan_features.def"
  return false;
}

VKAPI_ATTR VkBool32 VKAPI_CALL
onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
          VkDebugUtilsMessageTypeFlagsEXT,
          const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
  auto *messages = static_cast<std::vector<std::string> *>(user);
  const char *level = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
                          ? "error"
                          : "warning";
  messages->push_back(std::string(level) + ": " +
                      (data && data->pMessage ? data->pMessage : "?"));
  return VK_FALSE;
}

} // namespace

Runner::Impl::~Impl() {
  if (device) {
    vkDeviceWaitIdle(device);
    for (auto *buffers : {&modelBuffers, &inputTwins, &outputTwins})
      for (auto &[name, b] : *buffers)
        destroyBuffer(b);
    if (staging.buffer)
      destroyBuffer(staging);
    for (Pipeline &p : pipelines) {
      for (Buffer &b : p.buffers)
        destroyBuffer(b);
      vkDestroyPipeline(device, p.pipeline, nullptr);
      vkDestroyPipelineLayout(device, p.layout, nullptr);
      vkDestroyDescriptorSetLayout(device, p.setLayout, nullptr);
      vkDestroyShaderModule(device, p.module, nullptr);
    }
    vkDestroyFence(device, fence, nullptr);
    vkDestroyDescriptorPool(device, descriptorPool, nullptr);
    vkDestroyCommandPool(device, commandPool, nullptr);
    vkDestroyDevice(device, nullptr);
  }
  if (messenger)
    vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
  if (instance)
    vkDestroyInstance(instance, nullptr);
}

bool Runner::Impl::createInstance(const Options &options, std::string &error) {
  VkResult r = volkInitialize();
  if (r != VK_SUCCESS) {
    error = "the Vulkan loader (libvulkan.so.1) is not installed";
    return false;
  }
  if (volkGetInstanceVersion() < VK_API_VERSION_1_2) {
    error = "the Vulkan loader is older than Vulkan 1.2";
    return false;
  }
  std::vector<const char *> layers, extensions;
  VkDebugUtilsMessengerCreateInfoEXT messengerInfo{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  if (options.validation) {
    uint32_t count = 0;
    vkEnumerateInstanceLayerProperties(&count, nullptr);
    std::vector<VkLayerProperties> props(count);
    vkEnumerateInstanceLayerProperties(&count, props.data());
    bool found = std::any_of(props.begin(), props.end(), [](auto &p) {
      return std::strcmp(p.layerName, kValidationLayer) == 0;
    });
    if (!found) {
      error = std::string("validation requested, but ") + kValidationLayer +
              " is not installed (Debian: vulkan-validationlayers)";
      return false;
    }
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    messengerInfo.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messengerInfo.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messengerInfo.pfnUserCallback = onMessage;
    messengerInfo.pUserData = &messages;
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "seqc";
  app.apiVersion = VK_API_VERSION_1_3;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  info.enabledLayerCount = layers.size();
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = extensions.size();
  info.ppEnabledExtensionNames = extensions.data();
  // Messages during instance creation and destruction go to the same
  // callback. Synchronization validation too: a missing barrier between
  // dispatches and copies is a hazard message like any other.
  VkValidationFeatureEnableEXT syncValidation =
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT validationFeatures{
      VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  validationFeatures.enabledValidationFeatureCount = 1;
  validationFeatures.pEnabledValidationFeatures = &syncValidation;
  validationFeatures.pNext = &messengerInfo;
  if (options.validation)
    info.pNext = &validationFeatures;
  if ((r = vkCreateInstance(&info, nullptr, &instance)) != VK_SUCCESS) {
    error = vkError("vkCreateInstance", r);
    instance = VK_NULL_HANDLE;
    return false;
  }
  volkLoadInstance(instance);
  if (options.validation &&
      (r = vkCreateDebugUtilsMessengerEXT(instance, &messengerInfo, nullptr,
                                          &messenger)) != VK_SUCCESS) {
    error = vkError("vkCreateDebugUtilsMessengerEXT", r);
    return false;
  }
  uint32_t count = 0;
  vkEnumeratePhysicalDevices(instance, &count, nullptr);
  if (count == 0) {
    error = "no Vulkan device (for lavapipe, install mesa-vulkan-drivers)";
    return false;
  }
  std::vector<VkPhysicalDevice> devices(count);
  vkEnumeratePhysicalDevices(instance, &count, devices.data());
  physical = devices.front();
  return true;
}

bool Runner::Impl::checkDevice(std::string &error, Features &enable) {
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 props{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(physical, &props);
  name = props.properties.deviceName;
  const VkPhysicalDeviceLimits &limits = props.properties.limits;
  uint32_t api = props.properties.apiVersion;
  std::string prefix = "device '" + name + "' cannot run " + artifact->dir;
  if (api < VK_API_VERSION_1_2) {
    error = prefix + ": it supports Vulkan " +
            std::to_string(VK_API_VERSION_MAJOR(api)) + "." +
            std::to_string(VK_API_VERSION_MINOR(api)) +
            "; seqc's kernels need 1.2 or later";
    return false;
  }
  Features have;
  have.chain(api >= VK_API_VERSION_1_3);
  vkGetPhysicalDeviceFeatures2(physical, &have.base);
  enable.chain(api >= VK_API_VERSION_1_3);

  for (const Kernel &k : artifact->kernels) {
    std::string kp = prefix + ": kernel " + k.name + " needs ";
    uint64_t invocations = 1;
    for (int i = 0; i < 3; ++i) {
      invocations *= k.workgroup[i];
      if (k.workgroup[i] > limits.maxComputeWorkGroupSize[i]) {
        error = kp + "a workgroup size of " + std::to_string(k.workgroup[i]) +
                " in " + "xyz"[i] + "; the device allows " +
                std::to_string(limits.maxComputeWorkGroupSize[i]);
        return false;
      }
      if (k.grid[i] > limits.maxComputeWorkGroupCount[i]) {
        error = kp + std::to_string(k.grid[i]) + " workgroups in " + "xyz"[i] +
                "; the device allows " +
                std::to_string(limits.maxComputeWorkGroupCount[i]);
        return false;
      }
    }
    if (invocations > limits.maxComputeWorkGroupInvocations) {
      error = kp + std::to_string(invocations) +
              " invocations per workgroup; the device allows " +
              std::to_string(limits.maxComputeWorkGroupInvocations);
      return false;
    }
    if (k.shared > limits.maxComputeSharedMemorySize) {
      error = kp + std::to_string(k.shared) +
              " bytes of workgroup memory; the device has " +
              std::to_string(limits.maxComputeSharedMemorySize);
      return false;
    }
    if (k.bindings.size() > limits.maxPerStageDescriptorStorageBuffers) {
      error = kp + std::to_string(k.bindings.size()) +
              " storage buffers; the device binds at most " +
              std::to_string(limits.maxPerStageDescriptorStorageBuffers) +
              " per kernel";
      return false;
    }
    for (size_t b = 0; b < k.bindings.size(); ++b)
      if (k.bindings[b].bytes() > limits.maxStorageBufferRange) {
        error = kp + std::to_string(k.bindings[b].bytes()) +
                " bytes in binding " + std::to_string(b) +
                "; the device's storage buffers hold at most " +
                std::to_string(limits.maxStorageBufferRange);
        return false;
      }
    // What the device lacks of `features` ("" if nothing); enables them
    // when `use`.
    auto lacking = [&](const std::vector<std::string> &features,
                       bool use) -> std::string {
      for (const std::string &f : features) {
        if (!knownFeature(f))
          return "the feature '" + f +
                 "', which this runtime does not know (a newer seqc?)";
        if (VkSubgroupFeatureFlagBits bit = subgroupBit(f)) {
          if (!subgroups)
            return "the subgroup operations '" + f.substr(9) +
                   "', which SEQC_VULKAN_SUBGROUPS=0 turns off";
          if (!(subgroup.supportedOperations & bit) ||
              !(subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT))
            return "the subgroup operations '" + f.substr(9) +
                   "' in compute shaders, which the device lacks";
          continue;
        }
        VkBool32 *field = have.field(f);
        if (!field || !*field)
          return "the feature " + f + ", which the device lacks";
      }
      if (use)
        for (const std::string &f : features)
          if (VkBool32 *field = enable.field(f))
            *field = VK_TRUE;
      return "";
    };
    std::string why = lacking(k.features, false);
    bool useFallback = !why.empty() && !k.fallbackCode.empty() &&
                       lacking(k.fallbackFeatures, false).empty();
    if (!why.empty() && !useFallback) {
      error = kp + why;
      return false;
    }
    lacking(useFallback ? k.fallbackFeatures : k.features, true);
    fallback.push_back(useFallback);
  }
  return true;
}

bool Runner::Impl::createDevice(Features &enable, std::string &error) {
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families.data());
  bool found = false;
  for (uint32_t i = 0; i < count && !found; ++i)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      queueFamily = i;
      found = true;
    }
  if (!found) {
    error = "device '" + name + "' has no compute queue";
    return false;
  }
  float priority = 1.0f;
  VkDeviceQueueCreateInfo queueInfo{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queueInfo.queueFamilyIndex = queueFamily;
  queueInfo.queueCount = 1;
  queueInfo.pQueuePriorities = &priority;
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  info.pNext = &enable.base;
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queueInfo;
  VkResult r = vkCreateDevice(physical, &info, nullptr, &device);
  if (r != VK_SUCCESS) {
    error = vkError("vkCreateDevice", r);
    device = VK_NULL_HANDLE;
    return false;
  }
  volkLoadDevice(device);
  vkGetDeviceQueue(device, queueFamily, 0, &queue);
  vkGetPhysicalDeviceMemoryProperties(physical, &memory);

  VkCommandPoolCreateInfo poolInfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  poolInfo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  poolInfo.queueFamilyIndex = queueFamily;
  if ((r = vkCreateCommandPool(device, &poolInfo, nullptr, &commandPool)) !=
      VK_SUCCESS) {
    error = vkError("vkCreateCommandPool", r);
    return false;
  }
  // A kernel artifact: one set per kernel; a model: one per dispatch.
  uint32_t sets = artifact->kernels.size(), buffers = 0;
  for (const Kernel &k : artifact->kernels)
    buffers += k.bindings.size();
  if (!artifact->schedules.empty()) {
    sets = buffers = 0;
    for (auto &[name, schedule] : artifact->schedules)
      for (const gpu::Dispatch &d : schedule.dispatches) {
        ++sets;
        buffers += d.bindings.size();
      }
  }
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, buffers};
  VkDescriptorPoolCreateInfo dpInfo{
      VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpInfo.maxSets = sets;
  dpInfo.poolSizeCount = 1;
  dpInfo.pPoolSizes = &size;
  if ((r = vkCreateDescriptorPool(device, &dpInfo, nullptr, &descriptorPool)) !=
      VK_SUCCESS) {
    error = vkError("vkCreateDescriptorPool", r);
    return false;
  }
  VkFenceCreateInfo fenceInfo{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  if ((r = vkCreateFence(device, &fenceInfo, nullptr, &fence)) != VK_SUCCESS) {
    error = vkError("vkCreateFence", r);
    return false;
  }
  return true;
}

bool Runner::Impl::createPipeline(const Kernel &k, Pipeline &p,
                                  std::string &error) {
  p.kernel = &k;
  VkShaderModuleCreateInfo smInfo{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  size_t index = &k - artifact->kernels.data();
  const gpu::CodeRange &spirv =
      (fallback.at(index) ? k.fallbackCode : k.code).at("spirv");
  smInfo.codeSize = spirv.bytes;
  smInfo.pCode =
      reinterpret_cast<const uint32_t *>(artifact->code.data() + spirv.offset);
  VkResult r = vkCreateShaderModule(device, &smInfo, nullptr, &p.module);
  if (r != VK_SUCCESS) {
    error = "kernel " + k.name + ": " + vkError("vkCreateShaderModule", r);
    return false;
  }
  std::vector<VkDescriptorSetLayoutBinding> bindings(k.bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo slInfo{
      VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  slInfo.bindingCount = bindings.size();
  slInfo.pBindings = bindings.data();
  if ((r = vkCreateDescriptorSetLayout(device, &slInfo, nullptr,
                                       &p.setLayout)) != VK_SUCCESS) {
    error = vkError("vkCreateDescriptorSetLayout", r);
    return false;
  }
  VkPipelineLayoutCreateInfo plInfo{
      VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  plInfo.setLayoutCount = 1;
  plInfo.pSetLayouts = &p.setLayout;
  if ((r = vkCreatePipelineLayout(device, &plInfo, nullptr, &p.layout)) !=
      VK_SUCCESS) {
    error = vkError("vkCreatePipelineLayout", r);
    return false;
  }
  VkComputePipelineCreateInfo cpInfo{
      VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpInfo.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  cpInfo.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpInfo.stage.module = p.module;
  cpInfo.stage.pName = k.entry.c_str();
  cpInfo.layout = p.layout;
  if ((r = vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &cpInfo, nullptr,
                                    &p.pipeline)) != VK_SUCCESS) {
    error = "kernel " + k.name + ": " + vkError("vkCreateComputePipelines", r);
    p.pipeline = VK_NULL_HANDLE;
    return false;
  }
  // A model's dispatches bind the model's buffers (recordEntry).
  if (!artifact->schedules.empty())
    return true;
  VkDescriptorSetAllocateInfo dsInfo{
      VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  dsInfo.descriptorPool = descriptorPool;
  dsInfo.descriptorSetCount = 1;
  dsInfo.pSetLayouts = &p.setLayout;
  if ((r = vkAllocateDescriptorSets(device, &dsInfo, &p.set)) != VK_SUCCESS) {
    error = vkError("vkAllocateDescriptorSets", r);
    return false;
  }
  p.buffers.resize(k.bindings.size());
  std::vector<VkDescriptorBufferInfo> infos(k.bindings.size());
  std::vector<VkWriteDescriptorSet> writes(k.bindings.size());
  for (size_t i = 0; i < k.bindings.size(); ++i) {
    if (!createBuffer(k.bindings[i].bytes(), Memory::Host, p.buffers[i], error))
      return false;
    infos[i] = {p.buffers[i].buffer, 0, VK_WHOLE_SIZE};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = p.set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vkUpdateDescriptorSets(device, writes.size(), writes.data(), 0, nullptr);
  return true;
}

bool Runner::Impl::allocateCommandBuffer(VkCommandBuffer &cb,
                                         std::string &error) {
  VkCommandBufferAllocateInfo cbInfo{
      VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cbInfo.commandPool = commandPool;
  cbInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cbInfo.commandBufferCount = 1;
  VkResult r = vkAllocateCommandBuffers(device, &cbInfo, &cb);
  if (r != VK_SUCCESS) {
    error = vkError("vkAllocateCommandBuffers", r);
    return false;
  }
  return true;
}

bool Runner::Impl::submit(VkCommandBuffer cb, std::string &error) {
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cb;
  vkResetFences(device, 1, &fence);
  VkResult r = vkQueueSubmit(queue, 1, &submit, fence);
  if (r == VK_SUCCESS)
    r = vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX);
  if (r != VK_SUCCESS) {
    error = vkError("submitting the dispatches", r);
    return false;
  }
  return true;
}

Runner::Runner(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Runner::~Runner() = default;

std::unique_ptr<Runner> Runner::create(const KernelArtifact &artifact,
                                       const Options &options,
                                       std::string &error) {
  auto impl = std::make_unique<Impl>();
  impl->artifact = &artifact;
  impl->staged = options.staging;
  impl->subgroups = options.subgroups;
  impl->stagingBytes = options.stagingBytes ? options.stagingBytes : 16 << 20;
  Features enable;
  if (!impl->createInstance(options, error) ||
      !impl->checkDevice(error, enable) || !impl->createDevice(enable, error))
    return nullptr;
  impl->pipelines.resize(artifact.kernels.size());
  for (size_t i = 0; i < artifact.kernels.size(); ++i)
    if (!impl->createPipeline(artifact.kernels[i], impl->pipelines[i], error))
      return nullptr;
  return std::unique_ptr<Runner>(new Runner(std::move(impl)));
}

const std::string &Runner::deviceName() const { return impl->name; }

const std::vector<std::string> &Runner::validationMessages() const {
  return impl->messages;
}

bool Runner::dispatch(const std::string &kernel,
                      const std::map<unsigned, std::string> &inputs,
                      std::map<unsigned, std::string> &results,
                      std::string &error) {
  if (!impl->artifact->schedules.empty()) {
    error = impl->artifact->dir +
            " is a model: its kernels bind the model's buffers; run it "
            "with seqc-run";
    return false;
  }
  Pipeline *p = nullptr;
  for (Pipeline &candidate : impl->pipelines)
    if (candidate.kernel->name == kernel)
      p = &candidate;
  if (!p) {
    error = "no kernel named '" + kernel + "' in " + impl->artifact->dir;
    return false;
  }
  for (auto &[binding, bytes] : inputs) {
    if (binding >= p->buffers.size()) {
      error = "kernel " + kernel + " has " + std::to_string(p->buffers.size()) +
              " bindings; there is no " + std::to_string(binding);
      return false;
    }
    if (bytes.size() != p->buffers[binding].bytes) {
      error = "kernel " + kernel + ", argument " +
              std::to_string(p->kernel->bindings[binding].arg) + ": expected " +
              std::to_string(p->buffers[binding].bytes) + " bytes (" +
              p->kernel->bindings[binding].type + " x " +
              std::to_string(p->kernel->bindings[binding].count) + "), got " +
              std::to_string(bytes.size());
      return false;
    }
    std::memcpy(p->buffers[binding].mapped, bytes.data(), bytes.size());
  }
  VkDevice device = impl->device;
  VkCommandBuffer cb;
  if (!impl->allocateCommandBuffer(cb, error))
    return false;
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cb, &begin);
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
  vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1,
                          &p->set, 0, nullptr);
  vkCmdDispatch(cb, p->kernel->grid[0], p->kernel->grid[1], p->kernel->grid[2]);
  // The results become visible to the host's reads of the mapping.
  detail::memoryBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                        VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                        VK_ACCESS_HOST_READ_BIT);
  vkEndCommandBuffer(cb);
  bool submitted = impl->submit(cb, error);
  vkFreeCommandBuffers(device, impl->commandPool, 1, &cb);
  if (!submitted)
    return false;
  for (size_t i = 0; i < p->buffers.size(); ++i)
    results[i].assign(static_cast<const char *>(p->buffers[i].mapped),
                      p->buffers[i].bytes);
  return true;
}

std::vector<std::string> seqc::vk::listDevices(std::string &error) {
  std::vector<std::string> names;
  if (volkInitialize() != VK_SUCCESS) {
    error = "the Vulkan loader (libvulkan.so.1) is not installed";
    return names;
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  VkInstance instance;
  VkResult r = vkCreateInstance(&info, nullptr, &instance);
  if (r != VK_SUCCESS) {
    error = vkError("vkCreateInstance", r);
    return names;
  }
  volkLoadInstance(instance);
  uint32_t count = 0;
  vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  vkEnumeratePhysicalDevices(instance, &count, devices.data());
  for (VkPhysicalDevice d : devices) {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(d, &props);
    names.push_back(props.deviceName);
  }
  vkDestroyInstance(instance, nullptr);
  if (names.empty())
    error = "no Vulkan device";
  return names;
}

//===----------------------------------------------------------------------===//
// The artifact (read by drivers/gpu/kernel_artifact.cpp)
//===----------------------------------------------------------------------===//

const seqc::gpu::ArtifactFormat &seqc::vk::artifactFormat() {
  return gpu::vulkanFormat();
}

bool seqc::vk::loadArtifact(const std::string &dir, KernelArtifact &out,
                            std::string &error) {
  return KernelArtifact::load(dir, artifactFormat(), out, error);
}
