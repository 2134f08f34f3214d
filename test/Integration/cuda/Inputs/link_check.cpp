// The CUDA driver's entry points and constants against the toolkit's
// cuda.h and stub libcuda (link-check.test): the driver declares what it
// uses itself (runtime/src/drivers/cuda/cuda_api.h) and resolves
// cuda_api.def's symbols with dlsym, so nothing else would notice a wrong
// symbol version or constant before a GPU run.
#include <cuda.h>

#include "drivers/cuda/cuda_api.h"

namespace {
constexpr bool same(const char *a, const char *b) {
  return *a == *b && (*a == 0 || same(a + 1, b + 1));
}
} // namespace

#define SEQC_STR2(x) #x
#define SEQC_STR(x) SEQC_STR2(x)

// Each symbol is the one cuda.h's name stands for.
#define SEQC_CUDA_FN(SYMBOL, NAME, PARAMS)                                     \
  static_assert(same(#SYMBOL, SEQC_STR(NAME)),                                 \
                #NAME " is " SEQC_STR(NAME) " in cuda.h, not " #SYMBOL);
#include "drivers/cuda/cuda_api.def"
#undef SEQC_CUDA_FN

// The constants and type sizes cuda_api.h declares are cuda.h's.
namespace sc = seqc::cuda;
static_assert(sc::CUDA_SUCCESS == ::CUDA_SUCCESS, "CUDA_SUCCESS");
static_assert(sc::CUDA_ERROR_STUB_LIBRARY == ::CUDA_ERROR_STUB_LIBRARY, "");
static_assert(sc::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE, "");
static_assert(sc::CUDA_ERROR_NO_BINARY_FOR_GPU ==
                  ::CUDA_ERROR_NO_BINARY_FOR_GPU,
              "");
static_assert(sc::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK ==
                  ::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
              "");
static_assert(sc::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X ==
                      ::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X &&
                  sc::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X + 2 ==
                      ::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z,
              "");
static_assert(sc::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X ==
                      ::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X &&
                  sc::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X + 2 ==
                      ::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z,
              "");
static_assert(sc::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK ==
                  ::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
              "");
static_assert(sc::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
                      ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR &&
                  sc::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
                      ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
              "");
static_assert(sc::CU_JIT_ERROR_LOG_BUFFER == ::CU_JIT_ERROR_LOG_BUFFER &&
                  sc::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES ==
                      ::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
              "");
static_assert(sc::CU_STREAM_CAPTURE_MODE_GLOBAL ==
                  ::CU_STREAM_CAPTURE_MODE_GLOBAL,
              "");
static_assert(sizeof(::CUstreamCaptureMode) == sizeof(int), "");
static_assert(sizeof(sc::CUresult) == sizeof(::CUresult) &&
                  sizeof(sc::CUdevice) == sizeof(::CUdevice) &&
                  sizeof(sc::CUdeviceptr) == sizeof(::CUdeviceptr),
              "");

// Every symbol is in the stub library: the link fails otherwise.
#define SEQC_CUDA_FN(SYMBOL, NAME, PARAMS) reinterpret_cast<void *>(&NAME),
void *entryPoints[] = {
#include "drivers/cuda/cuda_api.def"
};
#undef SEQC_CUDA_FN

int main() { return entryPoints[0] == nullptr; }
