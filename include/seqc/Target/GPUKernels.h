//===- GPUKernels.h - what the GPU targets share about kernels --*- C++ -*-===//
//
// The Vulkan and CUDA targets compile the same kernel modules (functions of
// loops on memrefs) through the same mapping (seqc/Pipelines/GPUPipeline.h)
// and write the same kind of artifact: kernels.bin, a first line naming
// the format and the manifest's size, the manifest with one kernel.NAME
// entry per kernel, then the kernels' code (seqc/artifact.h). This is what
// they share: refusing what is not a kernel module, reading each host
// function's launch (grid, block, the buffers in the kernel's argument
// order, each with the function argument it is and how the kernel uses
// it), and laying out the file.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TARGET_GPUKERNELS_H
#define SEQC_TARGET_GPUKERNELS_H

#include "seqc/Artifact/Artifact.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace seqc {

/// Refuses a module that is not a kernel module for `target`: one holding
/// seq ops (a whole model, which needs the target-neutral lowering) or
/// already holding GPU kernels.
llvm::Error checkKernelModule(mlir::ModuleOp module, llvm::StringRef target);

/// One host function of a kernel module after the GPU mapping: the one
/// kernel it launches.
struct KernelLaunch {
  std::string function;
  mlir::gpu::LaunchFuncOp launch;
  mlir::gpu::GPUModuleOp gpuModule;
  mlir::gpu::GPUFuncOp kernel;
  llvm::SmallVector<int64_t, 3> grid, block;
  /// Per kernel argument, in the kernel's order: "TYPE:COUNT:ACCESS:ARG"
  /// (element type, element count, r/w/rw, the function argument it is).
  llvm::SmallVector<std::string> bindings;
};

/// The launches of every defined function of `module` (after the GPU
/// mapping; the gpu.func of each must still be there): exactly one per
/// function, constant sizes, buffers that are function arguments.
llvm::Expected<llvm::SmallVector<KernelLaunch>>
collectKernelLaunches(mlir::ModuleOp module);

/// A kernel table binding, "TYPE:COUNT:ACCESS:ARG": the element type of
/// `kernelArg` (a memref argument of a gpu.func), `count` elements, how the
/// kernel uses it (r, w, rw) and `arg`; empty when the runtime does not
/// bind elements of that type.
std::string describeBinding(mlir::BlockArgument kernelArg, uint64_t count,
                            unsigned arg);

/// One dispatch of a model entry, read from seq-gpu-schedule's attributes
/// (before the target converts the kernel).
struct ScheduledDispatch {
  std::string gpuModule;
  mlir::gpu::GPUFuncOp kernel;
  llvm::SmallVector<int64_t, 3> grid, block;
  /// Per kernel argument: the kernel table's binding ("TYPE:COUNT:ACCESS:I")
  /// and the schedule's ("BUFFER@OFFSET+BYTES").
  llvm::SmallVector<std::string> bindings, refs;
};

/// A model entry's schedule.
struct EntrySchedule {
  std::string name;
  /// The entry's buffers in order (weights, tokens, state, logits).
  llvm::SmallVector<llvm::StringRef> args;
  int64_t scratch = 0;
  std::vector<ScheduledDispatch> dispatches;
};

/// The schedules seq-gpu-schedule left on `module`'s entries, each binding
/// checked against `maxBindingBytes` (errors name `target` and its limit's
/// `limitName`).
llvm::Expected<std::vector<EntrySchedule>>
collectSchedules(mlir::ModuleOp module, llvm::StringRef target,
                 int64_t maxBindingBytes, llvm::StringRef limitName);

/// The schedule.ENTRY line of `entry` (seqc/artifact.h), `kernels[i]` being
/// the kernel table's name of dispatch i.
std::string scheduleLine(const EntrySchedule &entry,
                         llvm::ArrayRef<std::string> kernels);

/// A model artifact's kernel table: one kernel per gpu.module the schedules
/// dispatch (seq-gpu-schedule keeps each distinct kernel once), named k0,
/// k1, ... in the order of their first dispatch, and one schedule.ENTRY
/// line per entry.
struct ModelKernels {
  llvm::SmallVector<std::string> names;
  /// kernel.NAME and schedule.ENTRY manifest lines.
  llvm::SmallVector<std::pair<std::string, std::string>> entries, lines;
  size_t dispatches = 0;
  /// Adds the kernel entries, then the schedules, to `table`.
  void addTo(Manifest &table) const;
};

/// Builds the table of `schedules`: `entryOf` is called once per kernel,
/// with its first dispatch and its name, and gives its kernel.NAME value
/// (having appended its code where the target keeps it).
llvm::Expected<ModelKernels> tableModelKernels(
    std::vector<EntrySchedule> &schedules,
    llvm::function_ref<llvm::Expected<std::string>(ScheduledDispatch &,
                                                   llvm::StringRef)>
        entryOf);

/// "1,2,3".
std::string joinInts(llvm::ArrayRef<int64_t> values);

/// kernels.bin: "MAGIC <manifest bytes>\n", the manifest text, NUL padding
/// to a multiple of 16 bytes, then `code`.
std::string kernelsFile(llvm::StringRef magic, const Manifest &manifest,
                        llvm::StringRef code);

} // namespace seqc

#endif // SEQC_TARGET_GPUKERNELS_H
