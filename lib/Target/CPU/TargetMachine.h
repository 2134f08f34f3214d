//===- TargetMachine.h - the CPU the code is compiled for -------*- C++ -*-===//

#ifndef SEQC_LIB_TARGET_CPU_TARGETMACHINE_H
#define SEQC_LIB_TARGET_CPU_TARGETMACHINE_H

#include "seqc/Support/Int8Kernel.h"

#include "llvm/Support/Error.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace seqc::cpu {

/// The target machine for `cpu` on this process's triple ("native": this
/// machine's CPU and features), optimizing aggressively, PIC.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
makeTargetMachine(llvm::StringRef cpu);

/// The x86 extensions the target machine may use that the runtime checks
/// before it runs the code (comma-separated, as in the manifest).
std::string usedCpuFeatures(const llvm::TargetMachine &tm);

/// The integer kernel `request` (--int8-dot) names on the target: auto picks
/// the widest one the target has; a named one it lacks is an error.
llvm::Expected<Int8Kernel> chooseInt8Kernel(const llvm::TargetMachine &tm,
                                            llvm::StringRef request);

/// The vector width, in bits, that `request` (--vector-width) asks LLVM's
/// vectorizers to prefer: auto is 512 where the target has AVX-512F and 0
/// (the CPU's own preference) elsewhere; 512 without AVX-512F is an error.
llvm::Expected<unsigned> chooseVectorWidth(const llvm::TargetMachine &tm,
                                           llvm::StringRef request);

/// The f32 lanes of the panel kernel of prefill float products
/// (float-lanes) that `request` (--float-prefill) asks for: for auto and
/// panels, 16 where the vectors are 512 bits (`vectorWidth`, as
/// chooseVectorWidth returns it), else 8 where the target has AVX2 and FMA,
/// else 0 (auto) or an error (panels); 0 for tiles.
llvm::Expected<int64_t> chooseFloatLanes(const llvm::TargetMachine &tm,
                                         unsigned vectorWidth,
                                         llvm::StringRef request);

} // namespace seqc::cpu

#endif // SEQC_LIB_TARGET_CPU_TARGETMACHINE_H
