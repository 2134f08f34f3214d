//===- kernel_artifact.h - a GPU kernel artifact's table --------*- C++ -*-===//
//
// kernels.bin of the GPU targets (seqc/artifact.h): the first line names the
// format (SEQCSPV1: SPIR-V for Vulkan, SEQCCUB1: cubin and PTX for CUDA)
// and the manifest's size, then the manifest with one kernel.NAME entry per
// kernel, then the kernels' code. Both drivers read it here, strictly and
// without any GPU API; each names the code fields its kernels have.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_GPU_KERNEL_ARTIFACT_H
#define SEQC_RUNTIME_GPU_KERNEL_ARTIFACT_H

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace seqc {
namespace gpu {

/// One buffer of a kernel (Vulkan: set 0, binding = its index; CUDA: the
/// kernel's parameter = its index).
struct Binding {
  std::string type;   // f32, f16, i8, i32, ...
  uint64_t count = 0; // elements
  std::string access; // r, w or rw
  unsigned arg = 0;   // the kernel function's argument
  uint64_t bytes() const;
};

/// Bytes of the code after the manifest.
struct CodeRange {
  uint64_t offset = 0, bytes = 0;
};

/// A kernel table entry (the manifest's kernel.NAME).
struct Kernel {
  std::string name, entry;
  /// Per code field of the format (spirv; cubin, ptx).
  std::map<std::string, CodeRange> code;
  /// Vulkan: workgroups and invocations per workgroup; CUDA: blocks and
  /// threads per block.
  std::array<uint32_t, 3> grid{}, workgroup{};
  uint64_t shared = 0;
  /// Vulkan: the device features it needs (none for CUDA).
  std::vector<std::string> features;
  /// Vulkan: the same kernel without subgroup operations (fallback_spirv,
  /// fallback_features), launched alike, for a device that lacks a feature
  /// of `features`; empty when the artifact has none.
  std::map<std::string, CodeRange> fallbackCode;
  std::vector<std::string> fallbackFeatures;
  std::vector<Binding> bindings;
};

/// One dispatch of a model entry's schedule.
struct Dispatch {
  /// Index into KernelArtifact::kernels.
  size_t kernel = 0;
  /// Per binding of the kernel: the buffer (an index into the schedule's
  /// args, or Schedule::kScratch), its byte offset and bytes.
  struct Ref {
    unsigned buffer = 0;
    uint64_t offset = 0, bytes = 0;
  };
  std::vector<Ref> bindings;
};

/// A model entry (schedule.ENTRY): its buffers and dispatches in order.
struct Schedule {
  static constexpr unsigned kScratch = ~0u;
  std::vector<std::string> args;
  uint64_t scratch = 0;
  std::vector<Dispatch> dispatches;
};

struct KernelArtifact;

/// What one target's kernels.bin holds.
struct ArtifactFormat {
  const char *target;      // the manifest's target: vulkan, cuda
  const char *magic;       // the first word of the file
  const char *description; // "Vulkan kernel artifact"
  std::vector<std::string> codeFields;
  const char *codeName; // "SPIR-V": "... bytes of SPIR-V"
  unsigned codeAlign;   // offsets and sizes are multiples of this
  bool hasFeatures;     // the entries have a features= field
  /// What is wrong with one kernel's code ("its module is not SPIR-V"), or
  /// an empty string.
  std::string (*checkCode)(const KernelArtifact &artifact,
                           const Kernel &kernel);
};

/// The Vulkan target's kernels.bin (SEQCSPV1: SPIR-V modules).
const ArtifactFormat &vulkanFormat();
/// The CUDA target's kernels.bin (SEQCCUB1: cubin and PTX of each kernel).
const ArtifactFormat &cudaFormat();

/// kernels.bin, parsed and checked.
struct KernelArtifact {
  std::string dir;
  std::map<std::string, std::string> manifest;
  std::vector<Kernel> kernels;
  /// Model artifacts: entry name -> its schedule (empty for kernel
  /// artifacts).
  std::map<std::string, Schedule> schedules;
  /// The code after the manifest (CodeRange is into this).
  std::string code;

  /// Reads DIR/kernels.bin as `format`; false with `error` set on any
  /// problem (an artifact of another target says which).
  static bool load(const std::string &dir, const ArtifactFormat &format,
                   KernelArtifact &out, std::string &error);
  /// The checks of load() on the bytes of a kernels.bin (`path` names it in
  /// errors).
  static bool parse(const std::string &data, const std::string &dir,
                    const std::string &path, const ArtifactFormat &format,
                    KernelArtifact &out, std::string &error);
  const Kernel *find(const std::string &name) const;
  /// The bytes of `field` of `kernel`.
  std::string codeOf(const Kernel &kernel, const std::string &field) const;
};

/// A model buffer of at least `bytes` bytes named `name` in `buffers` (a
/// runner's: each Buffer has a `bytes` field), or null with `error` set.
template <typename Buffer>
Buffer *findModelBuffer(std::map<std::string, Buffer> &buffers,
                        const std::string &name, size_t bytes,
                        std::string &error) {
  auto it = buffers.find(name);
  if (it == buffers.end() || bytes > it->second.bytes) {
    error =
        "no model buffer '" + name + "' of " + std::to_string(bytes) + " bytes";
    return nullptr;
  }
  return &it->second;
}

/// The binding of function argument `arg` of `kernel`, or -1.
inline int bindingOfArg(const Kernel &kernel, unsigned arg) {
  for (size_t i = 0; i < kernel.bindings.size(); ++i)
    if (kernel.bindings[i].arg == arg)
      return static_cast<int>(i);
  return -1;
}

} // namespace gpu
} // namespace seqc

#endif // SEQC_RUNTIME_GPU_KERNEL_ARTIFACT_H
