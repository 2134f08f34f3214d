//===- seqc-cuda-run.cpp - run a kernel artifact's kernels on CUDA --------===//
//
//   seqc-cuda-run --probe
//   seqc-cuda-run ARTIFACT --list
//   seqc-cuda-run ARTIFACT --dump-ptx KERNEL -o FILE
//   seqc-cuda-run ARTIFACT --dump-cubin KERNEL -o FILE
//   seqc-cuda-run ARTIFACT KERNEL [--in A=FILE]... [--out A=FILE]...
//                 [--repeat N]
//   seqc-cuda-run ARTIFACT KERNEL --time N [--warmup W]
//   seqc-cuda-run ARTIFACT --sequence --time N [--warmup W] [--graph]
//
// Launches KERNEL of an artifact written by `seqc compile KERNELS.mlir
// --target=cuda` on the first CUDA device, with seqc-vulkan-run's command
// line: --in fills the buffer of the kernel function's argument A from a raw
// little-endian file of exactly its size (numpy's tofile); --out writes
// argument A after the last launch; --repeat launches N times (buffers keep
// their contents between launches, so a kernel that updates a state in
// place steps N times). --time launches W times (default 3), then N times
// back to back, and prints one JSON object: seconds per launch, the bytes a
// launch moves (each binding once, read-write ones twice) and GB/s.
// --sequence --time N launches every kernel of the artifact in table order
// (each with its own buffers), W + N times, and prints the seconds and
// bytes per sequence; with --graph the sequence is captured once as a CUDA
// graph and replayed (one launch per sequence: the per-token launch
// sequence of a decode step, as a model would run it). --probe prints the
// device, or why there is none. With SEQC_CUDA_LOAD=ptx
// the cubins are not tried: the driver JIT-compiles the PTX (as on a GPU
// newer than the cubins' architecture). SEQC_CUDA_LIBRARY names another
// driver library than libcuda.so.1.
//
// Exit status: 0; 1 on an error; 2 when the machine has no CUDA driver or
// no CUDA device (the message says which).
//
//===----------------------------------------------------------------------===//

#include "drivers/cuda/cuda_kernels.h"
#include "gpu-run-common/GPURunCommon.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

using seqc::gpurun::parseCount;
using seqc::gpurun::writeFile;

int fail(const std::string &msg) {
  return seqc::gpurun::fail("seqc-cuda-run", msg);
}

/// An error from opening the device: 2 when CUDA is not there at all.
int failDevice(const std::string &msg) {
  fail(msg);
  return msg.rfind("no CUDA driver", 0) == 0 ||
                 msg.rfind("no CUDA device", 0) == 0
             ? 2
             : 1;
}

/// Takes `--time N` or `--warmup W` at argv[i] (advancing i past N): 1
/// when taken, 0 when argv[i] is neither, -1 after reporting a bad count.
int takeTiming(int argc, char **argv, int &i, long &timed, long &warmup) {
  std::string arg = argv[i];
  if ((arg != "--time" && arg != "--warmup") || i + 1 >= argc)
    return 0;
  if (!parseCount(argv[++i], 1000000, arg == "--time" ? timed : warmup)) {
    fail(arg + " " + argv[i] + ": expected 1 to 1000000");
    return -1;
  }
  return 1;
}

int usage() {
  return fail("usage: seqc-cuda-run --probe | ARTIFACT --list | ARTIFACT "
              "--dump-ptx|--dump-cubin KERNEL -o FILE | ARTIFACT KERNEL "
              "[--in A=FILE]... [--out A=FILE]... [--repeat N] | ARTIFACT "
              "KERNEL --time N [--warmup W] | ARTIFACT --sequence --time N "
              "[--warmup W] [--graph]");
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::strcmp(argv[1], "--probe") == 0) {
    seqc::cuda::DeviceInfo info;
    std::string error;
    if (!seqc::cuda::probe(info, error))
      return failDevice(error);
    std::cout << info.name << ": sm_" << info.major << info.minor << ", "
              << (info.memoryBytes >> 20) << " MiB, driver "
              << info.driverVersion / 1000 << "."
              << (info.driverVersion % 1000) / 10 << " (" << info.driverPath
              << ")\n";
    return 0;
  }
  if (argc < 3)
    return usage();
  std::string dir = argv[1];
  seqc::cuda::KernelArtifact artifact;
  std::string error;
  if (!seqc::cuda::loadArtifact(dir, artifact, error))
    return fail(error);

  if (std::strcmp(argv[2], "--list") == 0) {
    for (const seqc::cuda::Kernel &k : artifact.kernels) {
      std::cout << k.name << ": entry " << k.entry << ", "
                << k.code.at("cubin").bytes << " bytes of cubin, "
                << k.code.at("ptx").bytes << " bytes of PTX, grid " << k.grid[0]
                << "x" << k.grid[1] << "x" << k.grid[2] << ", block "
                << k.workgroup[0] << "x" << k.workgroup[1] << "x"
                << k.workgroup[2] << ", " << k.shared << " bytes shared\n";
      for (size_t b = 0; b < k.bindings.size(); ++b)
        std::cout << "  parameter " << b << ": argument " << k.bindings[b].arg
                  << ", " << k.bindings[b].type << " x " << k.bindings[b].count
                  << " (" << k.bindings[b].access << ")\n";
    }
    return 0;
  }
  if (std::strcmp(argv[2], "--dump-ptx") == 0 ||
      std::strcmp(argv[2], "--dump-cubin") == 0) {
    if (argc != 6 || std::strcmp(argv[4], "-o") != 0)
      return usage();
    const seqc::cuda::Kernel *k = artifact.find(argv[3]);
    if (!k)
      return fail(std::string("no kernel named '") + argv[3] + "' in " + dir);
    std::string field = argv[2][7] == 'p' ? "ptx" : "cubin";
    if (!writeFile(argv[5], artifact.codeOf(*k, field)))
      return fail(std::string(argv[5]) + ": cannot write");
    return 0;
  }

  if (std::strcmp(argv[2], "--sequence") == 0) {
    long timed = 0, warmup = 3;
    bool graph = false;
    for (int i = 3; i < argc; ++i) {
      std::string arg = argv[i];
      if (int taken = takeTiming(argc, argv, i, timed, warmup)) {
        if (taken < 0)
          return 1;
      } else if (arg == "--graph") {
        graph = true;
      } else {
        return fail("unknown argument '" + arg + "'");
      }
    }
    if (!timed)
      return fail("--sequence needs --time N");
    auto runner = seqc::cuda::Runner::create(artifact, error);
    if (!runner)
      return failDevice(error);
    double seconds = 0;
    if (!runner->timeSequence(warmup, timed, graph, seconds, error))
      return fail(error);
    uint64_t bytes = 0;
    for (const seqc::cuda::Kernel &k : artifact.kernels)
      for (const seqc::cuda::Binding &b : k.bindings)
        bytes += b.bytes() * (b.access == "rw" ? 2 : 1);
    std::printf("{\"sequence\": %zu, \"graph\": %s, \"device\": \"%s\", "
                "\"iterations\": %ld, \"seconds_per_sequence\": %.9g, "
                "\"bytes_per_sequence\": %llu, \"gb_per_s\": %.6g}\n",
                artifact.kernels.size(), graph ? "true" : "false",
                runner->device().name.c_str(), timed, seconds,
                static_cast<unsigned long long>(bytes),
                seconds > 0 ? bytes / seconds / 1e9 : 0.0);
    return 0;
  }

  std::string kernel = argv[2];
  if (kernel.rfind("--", 0) == 0)
    return usage();
  const seqc::cuda::Kernel *k = artifact.find(kernel);
  if (!k)
    return fail("no kernel named '" + kernel + "' in " + dir);
  std::map<unsigned, std::string> inputs, outputs;
  long repeat = 1, timed = 0, warmup = 3;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--in" || arg == "--out") && i + 1 < argc) {
      std::string error = seqc::gpurun::takeBindingFile(
          arg, argv[++i], kernel,
          [&](unsigned fnArg) { return seqc::cuda::bindingOfArg(*k, fnArg); },
          inputs, outputs);
      if (!error.empty())
        return fail(error);
    } else if (arg == "--repeat" && i + 1 < argc) {
      if (!parseCount(argv[++i], 1000000, repeat))
        return fail(std::string("--repeat ") + argv[i] +
                    ": expected 1 to 1000000");
    } else if (int taken = takeTiming(argc, argv, i, timed, warmup)) {
      if (taken < 0)
        return 1;
    } else {
      return fail("unknown argument '" + arg + "'");
    }
  }
  if (timed && (!outputs.empty() || repeat != 1))
    return fail("--time runs alone (no --out, no --repeat)");

  auto runner = seqc::cuda::Runner::create(artifact, error);
  if (!runner)
    return failDevice(error);
  if (timed) {
    // Inputs (if any) first, with one launch.
    std::map<unsigned, std::string> none;
    if (!inputs.empty() && !runner->launch(kernel, inputs, {}, none, error))
      return fail(error);
    double seconds = 0;
    if (!runner->time(kernel, warmup, timed, seconds, error))
      return fail(error);
    uint64_t bytes = 0;
    for (const seqc::cuda::Binding &b : k->bindings)
      bytes += b.bytes() * (b.access == "rw" ? 2 : 1);
    std::printf("{\"kernel\": \"%s\", \"device\": \"%s\", \"loaded\": \"%s\", "
                "\"launches\": %ld, \"seconds_per_launch\": %.9g, "
                "\"bytes_per_launch\": %llu, \"gb_per_s\": %.6g}\n",
                kernel.c_str(), runner->device().name.c_str(),
                runner->loadedCode(kernel).c_str(), timed, seconds,
                static_cast<unsigned long long>(bytes),
                seconds > 0 ? bytes / seconds / 1e9 : 0.0);
    return 0;
  }
  std::vector<unsigned> readBack;
  for (auto &[binding, file] : outputs)
    readBack.push_back(binding);
  std::map<unsigned, std::string> results;
  for (long n = 0; n < repeat; ++n)
    if (!runner->launch(kernel,
                        n == 0 ? inputs : std::map<unsigned, std::string>(),
                        n + 1 == repeat ? readBack : std::vector<unsigned>(),
                        results, error))
      return fail(error);
  for (auto &[binding, file] : outputs)
    if (!writeFile(file, results[binding]))
      return fail(file + ": cannot write");
  return 0;
}
