//===- Target.cpp - the target registry -----------------------------------===//

#include "seqc/Target/Target.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace llvm;

ArrayRef<seqc::TargetInfo> seqc::targets() {
  static const TargetInfo registry[] = {
      {"cpu", "this machine's CPU (or --cpu): model.so through LLVM",
       createCPUTarget},
      {"neuro",
       "neuromorphic: model.nir (NIR 1.0.8, the LIF populations) and the "
       "host part as model.so",
       createNeuroTarget},
      {"vulkan",
       "Vulkan compute (SPIR-V for a device profile, --vulkan-profile): "
       "recurrent models and LLaMA (kernels + a dispatch schedule per entry), "
       "or "
       "kernel modules (.mlir)",
       createVulkanTarget},
      {"cuda",
       "CUDA (cubin for --cuda-arch, default sm_90, plus PTX): recurrent "
       "models and LLaMA (kernels + a schedule replayed as a CUDA graph), or "
       "kernel modules (.mlir)",
       createCUDATarget},
  };
  return registry;
}

Expected<std::unique_ptr<seqc::TargetBackend>>
seqc::createTarget(StringRef name, const TargetOptions &options) {
  for (const TargetInfo &t : targets())
    if (t.name == name)
      return t.create(options);
  SmallVector<StringRef> names;
  for (const TargetInfo &t : targets())
    names.push_back(t.name);
  return createStringError("--target=" + name + ": unknown target (the " +
                           "targets: " + join(names, ", ") + ")");
}
