//===- CUDAArch.h - CUDA architecture names ---------------------*- C++ -*-===//
//
// "sm_NN" with an optional suffix ("sm_90a", "sm_100f"), read in one place
// for the CUDA target (which checks it against what CUDA 13 compiles for)
// and the CUDA pipeline (which compares versions).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_CUDAARCH_H
#define SEQC_SUPPORT_CUDAARCH_H

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace seqc {

struct CUDAArch {
  unsigned version = 0;   // 90 for sm_90a
  llvm::StringRef suffix; // "a" for sm_90a; empty for sm_90
};

/// The version and suffix of `arch`, or nothing when it is not "sm_" then
/// a number then at most a suffix of letters.
inline std::optional<CUDAArch> parseCUDAArch(llvm::StringRef arch) {
  CUDAArch a;
  if (!arch.consume_front("sm_") || arch.consumeInteger(10, a.version) ||
      !llvm::all_of(arch, [](char c) { return c >= 'a' && c <= 'z'; }))
    return std::nullopt;
  a.suffix = arch;
  return a;
}

} // namespace seqc

#endif // SEQC_SUPPORT_CUDAARCH_H
