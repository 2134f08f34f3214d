//===- seqc-vulkan-run.cpp - run a kernel artifact's kernels on Vulkan ----===//
//
//   seqc-vulkan-run --devices
//   seqc-vulkan-run ARTIFACT --list
//   seqc-vulkan-run ARTIFACT --dump-spirv KERNEL -o FILE
//   seqc-vulkan-run ARTIFACT KERNEL [--in A=FILE]... [--out A=FILE]...
//                   [--repeat N] [--validate]
//
// Dispatches KERNEL of an artifact written by `seqc compile KERNELS.mlir
// --target=vulkan` on the first Vulkan device. --in fills the buffer of the
// kernel function's argument A from a raw little-endian file of exactly its
// size (numpy's tofile); --out writes argument A after the last dispatch;
// --repeat dispatches N times (bindings keep their contents between dispatches,
// so a kernel that updates a state in place steps N times). --validate enables
// the Khronos validation layer: any message it reports is printed and the exit
// status is 1. Without VK_ICD_FILENAMES the loader's first device is used.
//
//===----------------------------------------------------------------------===//

#include "drivers/vulkan/vulkan_kernels.h"
#include "gpu-run-common/GPURunCommon.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

namespace {

using seqc::gpurun::parseCount;
using seqc::gpurun::writeFile;

int fail(const std::string &msg) {
  return seqc::gpurun::fail("seqc-vulkan-run", msg);
}

int usage() {
  return fail("usage: seqc-vulkan-run --devices | ARTIFACT --list | ARTIFACT "
              "--dump-spirv KERNEL -o FILE | ARTIFACT KERNEL [--in A=FILE]... "
              "[--out A=FILE]... [--repeat N] [--validate]");
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::strcmp(argv[1], "--devices") == 0) {
    std::string error;
    auto names = seqc::vk::listDevices(error);
    if (names.empty())
      return fail(error);
    for (const std::string &n : names)
      std::cout << n << "\n";
    return 0;
  }
  if (argc < 3)
    return usage();
  std::string dir = argv[1];
  seqc::vk::KernelArtifact artifact;
  std::string error;
  if (!seqc::vk::loadArtifact(dir, artifact, error))
    return fail(error);

  if (std::strcmp(argv[2], "--list") == 0) {
    for (const seqc::vk::Kernel &k : artifact.kernels) {
      std::cout << k.name << ": entry " << k.entry << ", "
                << k.code.at("spirv").bytes << " bytes of SPIR-V, grid "
                << k.grid[0] << "x" << k.grid[1] << "x" << k.grid[2]
                << ", workgroup " << k.workgroup[0] << "x" << k.workgroup[1]
                << "x" << k.workgroup[2] << ", " << k.shared
                << " bytes shared\n";
      for (size_t b = 0; b < k.bindings.size(); ++b)
        std::cout << "  binding " << b << ": argument " << k.bindings[b].arg
                  << ", " << k.bindings[b].type << " x " << k.bindings[b].count
                  << " (" << k.bindings[b].access << ")\n";
      std::cout << "  features: ";
      if (k.features.empty())
        std::cout << "none";
      for (size_t i = 0; i < k.features.size(); ++i)
        std::cout << (i ? ", " : "") << k.features[i];
      std::cout << "\n";
    }
    return 0;
  }
  if (std::strcmp(argv[2], "--dump-spirv") == 0) {
    if (argc != 6 || std::strcmp(argv[4], "-o") != 0)
      return usage();
    const seqc::vk::Kernel *k = artifact.find(argv[3]);
    if (!k)
      return fail(std::string("no kernel named '") + argv[3] + "' in " + dir);
    if (!writeFile(argv[5], artifact.codeOf(*k, "spirv")))
      return fail(std::string(argv[5]) + ": cannot write");
    return 0;
  }

  std::string kernel = argv[2];
  if (kernel.rfind("--", 0) == 0)
    return usage();
  const seqc::vk::Kernel *k = artifact.find(kernel);
  if (!k)
    return fail("no kernel named '" + kernel + "' in " + dir);
  std::map<unsigned, std::string> inputs, outputs;
  seqc::vk::Options options;
  long repeat = 1;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--validate") {
      options.validation = true;
    } else if ((arg == "--in" || arg == "--out") && i + 1 < argc) {
      std::string error = seqc::gpurun::takeBindingFile(
          arg, argv[++i], kernel,
          [&](unsigned fnArg) { return seqc::vk::bindingOfArg(*k, fnArg); },
          inputs, outputs);
      if (!error.empty())
        return fail(error);
    } else if (arg == "--repeat" && i + 1 < argc) {
      if (!parseCount(argv[++i], 1000000, repeat))
        return fail(std::string("--repeat ") + argv[i] +
                    ": expected 1 to 1000000");
    } else {
      return fail("unknown argument '" + arg + "'");
    }
  }

  auto runner = seqc::vk::Runner::create(artifact, options, error);
  int status = 0;
  if (!runner) {
    status = fail(error);
  } else {
    std::map<unsigned, std::string> results;
    for (long n = 0; n < repeat && status == 0; ++n)
      if (!runner->dispatch(kernel,
                            n == 0 ? inputs : std::map<unsigned, std::string>(),
                            results, error))
        status = fail(error);
    for (auto &[binding, file] : outputs)
      if (status == 0 && !writeFile(file, results[binding]))
        status = fail(file + ": cannot write");
  }
  if (runner && !runner->validationMessages().empty()) {
    for (const std::string &m : runner->validationMessages())
      std::cerr << "seqc-vulkan-run: validation " << m << "\n";
    status = fail(std::to_string(runner->validationMessages().size()) +
                  " validation message(s)");
  }
  return status;
}
