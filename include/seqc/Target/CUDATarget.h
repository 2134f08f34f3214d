//===- CUDATarget.h - the CUDA (NVVM, PTX, cubin) target --------*- C++ -*-===//
//
// The CUDA target compiles kernel modules (functions of loops on memrefs,
// the same modules as the Vulkan target) to cubin for one GPU architecture
// plus PTX for the driver to JIT-compile on later GPUs, through MLIR's NVVM
// path and the CUDA toolkit (ptxas, libdevice). kernels.bin holds both with
// the kernel table (seqc/artifact.h); runtime/src/drivers/cuda runs it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TARGET_CUDATARGET_H
#define SEQC_TARGET_CUDATARGET_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace seqc {

/// Options of the CUDA target.
struct CUDATargetOptions {
  /// The GPU architecture of the cubins (sm_NN).
  std::string arch = "sm_90";
  /// The CUDA toolkit; empty: $CUDA_HOME, else /usr/local/cuda.
  std::string toolkit;
};

/// Checks an architecture name: one CUDA 13 and LLVM 22 both compile for
/// (sm_75 to sm_121, with the 'a' and 'f' variants of sm_90 and later).
llvm::Error checkCUDAArch(llvm::StringRef arch);

/// The toolkit directory `toolkit` names (or the default), checked to hold
/// bin/ptxas and nvvm/libdevice/libdevice.10.bc.
llvm::Expected<std::string> findCUDAToolkit(llvm::StringRef toolkit);

struct TargetOptions;
class TargetBackend;

/// The CUDA target (the architecture and the toolkit are checked here,
/// before any long stage).
llvm::Expected<std::unique_ptr<TargetBackend>>
createCUDATarget(const TargetOptions &options);

} // namespace seqc

#endif // SEQC_TARGET_CUDATARGET_H
