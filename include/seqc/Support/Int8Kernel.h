//===- Int8Kernel.h - integer kernels of int8-weight products ---*- C++ -*-===//
//
// The instruction sets the CPU codegen can compute int8-weight products with
// (integer dot products over quantized activations), with their spellings in
// pass and pipeline options (`int8-dot=...`), the driver's `--int8-dot` and
// the artifact manifest. The pass (seq-parallelize-products), the CPU
// pipeline and the driver share this one list.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_INT8KERNEL_H
#define SEQC_SUPPORT_INT8KERNEL_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CommandLine.h"

#include <optional>

namespace seqc {

/// The kernel of int8-weight products: None keeps f32 activations (the
/// weights are converted to f32 in the product); the others quantize the
/// activations and use the named x86 integer dot-product instructions, which
/// the target must have.
enum class Int8Kernel { None, AVX2, AVXVNNI, AVX512VNNI };

/// The spelling of `kernel` in options and the manifest.
inline llvm::StringRef stringifyInt8Kernel(Int8Kernel kernel) {
  switch (kernel) {
  case Int8Kernel::None:
    return "none";
  case Int8Kernel::AVX2:
    return "avx2";
  case Int8Kernel::AVXVNNI:
    return "avxvnni";
  case Int8Kernel::AVX512VNNI:
    return "avx512vnni";
  }
  return "none";
}

/// The kernel spelled `name`, if any.
inline std::optional<Int8Kernel> symbolizeInt8Kernel(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Int8Kernel>>(name)
      .Case("none", Int8Kernel::None)
      .Case("avx2", Int8Kernel::AVX2)
      .Case("avxvnni", Int8Kernel::AVXVNNI)
      .Case("avx512vnni", Int8Kernel::AVX512VNNI)
      .Default(std::nullopt);
}

/// The values of an option that picks a kernel (the pass's and the
/// pipeline's `int8-dot`), so that every option accepts the same spellings.
inline llvm::cl::ValuesClass int8KernelOptionValues() {
  return llvm::cl::values(
      clEnumValN(Int8Kernel::None, "none", "f32 activations"),
      clEnumValN(Int8Kernel::AVX2, "avx2", "vpsignb, vpmaddubsw, vpmaddwd"),
      clEnumValN(Int8Kernel::AVXVNNI, "avxvnni", "{vex} vpdpbusd (256 bits)"),
      clEnumValN(Int8Kernel::AVX512VNNI, "avx512vnni", "vpdpbusd (512 bits)"));
}

} // namespace seqc

#endif // SEQC_SUPPORT_INT8KERNEL_H
