//===- cuda_api.h - the CUDA driver API, opened at run time -----*- C++ -*-===//
//
// The few types of the driver API the CUDA driver uses, declared here so
// that it builds without the toolkit, and the table of entry points
// (cuda_api.def) resolved from libcuda.so.1 with dlopen/dlsym. The types
// have cuda.h's sizes: handles are pointers to opaque structs, CUdevice an
// int, CUdeviceptr 64 bits, enums int.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_CUDA_API_H
#define SEQC_RUNTIME_CUDA_API_H

#include <cstddef>
#include <string>

namespace seqc {
namespace cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

/// The CUresult values the driver tells apart.
enum : CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
};

/// Device attributes (CUdevice_attribute) the driver reads.
enum : int {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
};

/// JIT options (CUjit_option) for loading PTX.
enum : int {
  /// CUstreamCaptureMode: other threads' unsafe calls are refused during
  /// the capture.
  CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
};

enum : int {
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

/// The driver's entry points, resolved from the library.
struct Api {
#define SEQC_CUDA_FN(SYMBOL, NAME, PARAMS) CUresult(*NAME) PARAMS = nullptr;
#include "drivers/cuda/cuda_api.def"
#undef SEQC_CUDA_FN
  /// The library's path as the dynamic loader found it.
  std::string path;
};

/// Opens the CUDA driver library (libcuda.so.1, or $SEQC_CUDA_LIBRARY) and
/// resolves every entry point; null with `error` set ("no CUDA driver: ...")
/// when the library or one of them is missing. The library stays loaded.
const Api *openDriver(std::string &error);

/// "NAME: description" of a CUresult.
std::string errorText(const Api &api, CUresult result);

} // namespace cuda
} // namespace seqc

#endif // SEQC_RUNTIME_CUDA_API_H
