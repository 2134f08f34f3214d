//===- CPUTarget.h - the CPU (LLVM) target ----------------------*- C++ -*-===//
//
// Lowers through the CPU pipeline to the LLVM dialect, optimizes at -O3 for
// one CPU (this machine's by default), emits an object and links model.so
// with the system's C compiler driver.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TARGET_CPUTARGET_H
#define SEQC_TARGET_CPUTARGET_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seqc {

class TargetBackend;
struct TargetOptions;

struct CPUTargetOptions {
  /// LLVM CPU name; "native": this machine's, with its features.
  std::string cpu = "native";
  /// Kernel of int8 weights' products: auto (the widest the CPU has), none,
  /// avx2, avxvnni or avx512vnni.
  std::string int8Dot = "auto";
  /// Width of the vectors LLVM's vectorizers prefer: auto (512 where the
  /// CPU has AVX-512F, else the CPU's default), 256 or 512.
  std::string vectorWidth = "auto";
  /// Activation channels sharing one int8 scale (a multiple of 4).
  int64_t activationBlock = 32;
  /// Kernel of prefill products with float weights: auto (panels where the
  /// CPU has AVX2 and FMA, else tiles), panels or tiles.
  std::string floatPrefill = "auto";
  /// C files of the artifact (names in its directory, written before
  /// serialize()) compiled into model.so with the model's object: the
  /// neuromorphic target's event code.
  std::vector<std::string> cSources;
};

llvm::Expected<std::unique_ptr<TargetBackend>>
createCPUTarget(const TargetOptions &options);

} // namespace seqc

#endif // SEQC_TARGET_CPUTARGET_H
