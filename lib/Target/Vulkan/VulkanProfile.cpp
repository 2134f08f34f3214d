//===- VulkanProfile.cpp - Vulkan device profiles -------------------------===//
//
// A profile is a text of `key value...` lines (`#` starts a comment). Every
// key but `features` appears once; `features` lines accumulate. The feature
// names and the SPIR-V capabilities they allow are those of
// seqc/vulkan_features.def, the list the runtime checks devices against.
//
//===----------------------------------------------------------------------===//

#include "seqc/Target/VulkanTarget.h"

#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVEnums.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace {

struct FeatureInfo {
  StringRef name, caps, ext;
};

const FeatureInfo kFeatures[] = {
#define SEQC_VULKAN_FEATURE(name, caps, ext) {#name, caps, ext},
#include "seqc/vulkan_features.def"
};

const FeatureInfo *findFeature(StringRef name) {
  for (const FeatureInfo &f : kFeatures)
    if (f.name == name)
      return &f;
  return nullptr;
}

const char kLavapipeProfile[] =
#include "LavapipeProfile.inc"
    ;

} // namespace

Expected<seqc::VulkanProfile> seqc::VulkanProfile::parse(StringRef text,
                                                         StringRef source) {
  VulkanProfile p;
  StringSet<> seen;
  SmallVector<StringRef> lines;
  text.split(lines, '\n');
  for (auto [index, rawLine] : enumerate(lines)) {
    auto fail = [&, index = index](const Twine &msg) {
      return createStringError(source + ":" + Twine(index + 1) + ": " + msg);
    };
    StringRef line = rawLine.split('#').first.trim();
    if (line.empty())
      continue;
    SmallVector<StringRef> words;
    line.split(words, ' ', -1, /*KeepEmpty=*/false);
    StringRef key = words.front();
    ArrayRef<StringRef> values = ArrayRef(words).drop_front();
    if (values.empty())
      return fail("'" + key + "' has no value");
    if (key != "features" && !seen.insert(key).second)
      return fail("'" + key + "' appears twice");
    auto integers = [&](MutableArrayRef<int64_t> out) -> Error {
      if (values.size() != out.size())
        return fail("'" + key + "' takes " + Twine(out.size()) +
                    (out.size() == 1 ? " integer" : " integers") + ", got " +
                    Twine(values.size()));
      for (auto [v, o] : zip(values, out))
        if (v.getAsInteger(10, o) || o <= 0)
          return fail("'" + key + "': '" + v + "' is not a positive integer");
      return Error::success();
    };
    if (key == "name") {
      if (values.size() != 1)
        return fail("'name' takes one word");
      p.name = values[0].str();
    } else if (key == "vulkan") {
      auto [major, minor] = values[0].split('.');
      if (values.size() != 1 || major.getAsInteger(10, p.vulkanMajor) ||
          minor.getAsInteger(10, p.vulkanMinor) || p.vulkanMajor != 1 ||
          p.vulkanMinor < 0 || p.vulkanMinor > 3)
        return fail("'vulkan': expected 1.0, 1.1, 1.2 or 1.3, got '" +
                    join(values, " ") + "'");
    } else if (key == "subgroup_size") {
      if (Error e = integers(MutableArrayRef(p.subgroupSize)))
        return std::move(e);
    } else if (key == "max_storage_buffer_range") {
      if (Error e = integers(MutableArrayRef(p.maxStorageBufferRange)))
        return std::move(e);
    } else if (key == "max_compute_shared_memory_size") {
      if (Error e = integers(MutableArrayRef(p.maxComputeSharedMemorySize)))
        return std::move(e);
    } else if (key == "max_loop_iterations") {
      if (Error e = integers(MutableArrayRef(p.maxLoopIterations)))
        return std::move(e);
    } else if (key == "prefill_tokens") {
      if (Error e = integers(MutableArrayRef(p.prefillTokens)))
        return std::move(e);
      if (p.prefillTokens > 4096)
        return fail("'prefill_tokens': at most 4096");
    } else if (key == "max_per_stage_storage_buffers") {
      if (Error e = integers(MutableArrayRef(p.maxPerStageStorageBuffers)))
        return std::move(e);
    } else if (key == "max_compute_workgroup_invocations") {
      if (Error e = integers(MutableArrayRef(p.maxComputeWorkgroupInvocations)))
        return std::move(e);
    } else if (key == "max_compute_workgroup_size") {
      if (Error e = integers(p.maxComputeWorkgroupSize))
        return std::move(e);
    } else if (key == "max_compute_workgroup_count") {
      if (Error e = integers(p.maxComputeWorkgroupCount))
        return std::move(e);
    } else if (key == "features") {
      for (StringRef v : values) {
        if (!findFeature(v)) {
          SmallVector<StringRef> known;
          for (const FeatureInfo &f : kFeatures)
            known.push_back(f.name);
          return fail("unknown feature '" + v +
                      "' (known: " + join(known, ", ") + ")");
        }
        if (!p.hasFeature(v))
          p.features.push_back(v.str());
      }
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  for (StringRef key :
       {"name", "vulkan", "subgroup_size", "max_storage_buffer_range",
        "max_compute_shared_memory_size", "max_compute_workgroup_invocations",
        "max_compute_workgroup_size", "max_compute_workgroup_count"})
    if (!seen.contains(key))
      return createStringError(source + ": the profile lacks '" + key + "'");
  return p;
}

Expected<seqc::VulkanProfile> seqc::VulkanProfile::read(StringRef path) {
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return createStringError(path + ": cannot read the Vulkan profile: " +
                             buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}

const seqc::VulkanProfile &seqc::VulkanProfile::lavapipe() {
  static const VulkanProfile profile = [] {
    auto p = parse(kLavapipeProfile, "lavapipe.profile");
    if (!p)
      report_fatal_error(p.takeError());
    return std::move(*p);
  }();
  return profile;
}

bool seqc::VulkanProfile::hasFeature(StringRef feature) const {
  return is_contained(features, feature);
}

std::pair<int, int> seqc::VulkanProfile::spirvVersion() const {
  // At most 1.3: for a target environment of SPIR-V 1.4 or later,
  // spirv-lower-abi-attrs lists every global (storage buffers too) in the
  // entry point's interface, and spirv-update-vce then lowers the module's
  // version to the least its code needs (often 1.0), where such an
  // interface is invalid (spirv-val rejects it).
  return vulkanMinor == 0 ? std::pair(1, 0) : std::pair(1, 3);
}

mlir::spirv::TargetEnvAttr
seqc::VulkanProfile::targetEnv(mlir::MLIRContext *ctx) const {
  using namespace mlir;
  SmallVector<spirv::Capability> caps = {spirv::Capability::Shader};
  SmallVector<spirv::Extension> exts = {
      spirv::Extension::SPV_KHR_storage_buffer_storage_class};
  for (const std::string &name : features) {
    const FeatureInfo *f = findFeature(name);
    SmallVector<StringRef> capNames;
    f->caps.split(capNames, ' ', -1, false);
    for (StringRef c : capNames)
      if (auto cap = spirv::symbolizeCapability(c))
        caps.push_back(*cap);
    if (!f->ext.empty())
      if (auto ext = spirv::symbolizeExtension(f->ext))
        exts.push_back(*ext);
  }
  auto version = static_cast<spirv::Version>(spirvVersion().second);
  auto triple = spirv::VerCapExtAttr::get(version, caps, exts, ctx);
  Builder b(ctx);
  auto limits = spirv::ResourceLimitsAttr::get(
      ctx, maxComputeSharedMemorySize, maxComputeWorkgroupInvocations,
      b.getI32ArrayAttr({(int32_t)maxComputeWorkgroupSize[0],
                         (int32_t)maxComputeWorkgroupSize[1],
                         (int32_t)maxComputeWorkgroupSize[2]}),
      subgroupSize, subgroupSize, subgroupSize, /*coopKHR=*/b.getArrayAttr({}),
      /*coopNV=*/b.getArrayAttr({}));
  return spirv::TargetEnvAttr::get(triple, limits, spirv::ClientAPI::Vulkan,
                                   spirv::Vendor::Unknown,
                                   spirv::DeviceType::Unknown);
}

StringRef seqc::vulkanFeatureForCapability(StringRef cap) {
  for (const FeatureInfo &f : kFeatures) {
    SmallVector<StringRef> capNames;
    f.caps.split(capNames, ' ', -1, false);
    if (is_contained(capNames, cap))
      return f.name;
  }
  return "";
}
