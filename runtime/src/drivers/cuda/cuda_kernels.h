//===- cuda_kernels.h - running an artifact's CUDA kernels ------*- C++ -*-===//
//
// The CUDA driver of kernel artifacts (`seqc compile KERNELS.mlir
// --target=cuda`): it reads kernels.bin (drivers/gpu/kernel_artifact.h),
// opens libcuda.so.1 at run time (cuda_api.h: nothing links libcuda, so
// the runtime builds and loads on machines without CUDA and says so),
// takes the first device's primary context, checks every kernel's table
// entry against the device (threads and block sizes, grid, shared memory)
// and refuses the artifact naming the kernel, the need and the device,
// loads each kernel's cubin (or, when the driver refuses the cubin, e.g. on
// another architecture, JIT-compiles its PTX), and allocates one device
// buffer per binding, once. A launch copies inputs to the device, launches
// on one stream, waits and reads back.
//
// Model artifacts (seqc compile MODEL --target=cuda) add one schedule per
// entry: the runtime's cuda driver (cuda_driver.cpp) resolves each to
// launches on device addresses once and replays it as a CUDA graph.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_CUDA_KERNELS_H
#define SEQC_RUNTIME_CUDA_KERNELS_H

#include "drivers/gpu/kernel_artifact.h"

#include <map>
#include <memory>
#include <string>

namespace seqc {
namespace cuda {

using gpu::Binding;
using gpu::bindingOfArg;
using gpu::Kernel;
using gpu::KernelArtifact;

/// kernels.bin as the CUDA target writes it (SEQCCUB1, cubin= and ptx=).
const gpu::ArtifactFormat &artifactFormat();

/// Reads DIR/kernels.bin; false with `error` set on any problem.
bool loadArtifact(const std::string &dir, KernelArtifact &out,
                  std::string &error);

/// What the first device is, for --probe.
struct DeviceInfo {
  std::string name, driverPath;
  int driverVersion = 0; // 13000 for CUDA 13.0
  int major = 0, minor = 0;
  size_t memoryBytes = 0;
};

/// Opens the driver and the first device; false with `error` set: "no
/// CUDA driver: ..." or "no CUDA device: ...".
bool probe(DeviceInfo &info, std::string &error);

/// A device with an artifact's kernels ready to launch.
class Runner {
public:
  /// Opens the first device and prepares every kernel of `artifact`; null
  /// with `error` set when CUDA is unavailable or the device cannot run the
  /// artifact.
  static std::unique_ptr<Runner> create(const KernelArtifact &artifact,
                                        std::string &error);
  ~Runner();

  const DeviceInfo &device() const;
  /// "cubin" or "ptx": what the driver loaded for `kernel`.
  std::string loadedCode(const std::string &kernel) const;

  /// Launches `kernel` once: `inputs` (binding -> bytes, each exactly the
  /// binding's size) are copied in first, other bindings keep their
  /// contents (zero at creation); the bindings in `readBack` are copied
  /// into `results`. False with `error` set on failure.
  bool launch(const std::string &kernel,
              const std::map<unsigned, std::string> &inputs,
              const std::vector<unsigned> &readBack,
              std::map<unsigned, std::string> &results, std::string &error);

  /// Launches `kernel` `warmup` times, then `iterations` times back to back
  /// on the stream, and gives the mean seconds per launch of the latter
  /// (host clock around the launches and one stream synchronization).
  bool time(const std::string &kernel, int warmup, int iterations,
            double &seconds, std::string &error);

  /// Model artifacts (kernels.bin with schedules): allocates the device
  /// buffers the schedules name, `bytes` giving each argument's size
  /// (weights, tokens, state, logits; the scratch size is the schedules'),
  /// and resolves every launch's arguments to device addresses once. A
  /// binding outside its buffer is an error here.
  bool prepareModel(const std::map<std::string, uint64_t> &bytes,
                    std::string &error);
  /// Copies `bytes` bytes to / from the start of a model buffer.
  bool copyToModel(const std::string &buffer, const void *data, size_t bytes,
                   std::string &error);
  bool copyFromModel(const std::string &buffer, void *data, size_t bytes,
                     std::string &error);
  /// Runs `entry`'s launches in order on the stream, captured as a CUDA
  /// graph on the first run and replayed after (SEQC_CUDA_GRAPH=0: one
  /// cuLaunchKernel each), and waits for them.
  bool runEntry(const std::string &entry, std::string &error);

  /// Launches every kernel of the artifact in table order, `warmup` times
  /// then `iterations` times, and gives the mean seconds per sequence. With
  /// `graph` the sequence is captured once as a CUDA graph and each
  /// iteration is one graph launch.
  bool timeSequence(int warmup, int iterations, bool graph, double &seconds,
                    std::string &error);

  struct Impl;

private:
  explicit Runner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace cuda
} // namespace seqc

#endif // SEQC_RUNTIME_CUDA_KERNELS_H
