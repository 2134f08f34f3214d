//===- Target.h - the interface every target implements ---------*- C++ -*-===//
//
// A target turns the model-level module (after the model pipeline) into the
// executable of an artifact: it adds its lowering to a pass manager, then
// serializes the lowered module. The CPU target lowers to the LLVM dialect
// and links model.so; a GPU target would outline kernels and embed their
// binaries; each lives in its own folder of lib/Target and registers here.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TARGET_TARGET_H
#define SEQC_TARGET_TARGET_H

#include "seqc/Artifact/Artifact.h"
#include "seqc/Target/CPUTarget.h"
#include "seqc/Target/CUDATarget.h"
#include "seqc/Target/NeuroTarget.h"
#include "seqc/Target/VulkanTarget.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>

namespace mlir {
class DialectRegistry;
class ModuleOp;
class OpPassManager;
} // namespace mlir

namespace seqc {

/// Reports the stages of a long compile ("linking model.so").
using ProgressFn = std::function<void(const llvm::Twine &)>;

class TargetBackend {
public:
  virtual ~TargetBackend() = default;

  /// The --target name.
  virtual llvm::StringRef getName() const = 0;
  /// Files of the executable this target writes into an artifact.
  virtual llvm::ArrayRef<llvm::StringRef> getExecutableFiles() const = 0;
  /// Manifest entries of this target.
  virtual TargetDescription describe() const = 0;
  /// Dialect translations and interfaces serialize() needs.
  virtual void registerDialects(mlir::DialectRegistry &registry) const {}
  /// Lowers the model-level module to what serialize() translates.
  virtual void buildPipeline(mlir::OpPassManager &pm) const = 0;
  /// What buildPipeline's passes do, for the progress line.
  virtual llvm::StringRef getLoweringDescription() const {
    return "lowering to the LLVM dialect";
  }
  /// Intermediate forms --emit may ask for instead of an artifact (the CPU:
  /// llvm, obj).
  virtual llvm::ArrayRef<llvm::StringRef> getIntermediateFormats() const {
    return {};
  }
  /// Serializes the lowered module with `manifest` embedded: the executable
  /// into the artifact, or, when `intermediate` names one of
  /// getIntermediateFormats(), that form to `path`. A target that compiles
  /// kernel modules only (compilesModels() false) keeps this refusal.
  virtual llvm::Error serialize(mlir::ModuleOp module, const Manifest &manifest,
                                const ArtifactWriter &artifact,
                                const ProgressFn &progress) {
    return llvm::createStringError(
        "the " + getName() +
        " target compiles kernel modules only; whole models need its model "
        "driver, which is not there yet");
  }
  /// Whether the target compiles whole models (checkpoints); a target that
  /// does not compiles kernel modules only.
  virtual bool compilesModels() const { return true; }
  /// Compiles a kernel module (functions of loops on memrefs, from a .mlir
  /// file) into an artifact of kernels.
  virtual llvm::Error compileKernels(mlir::ModuleOp module,
                                     const ArtifactWriter &artifact,
                                     const ProgressFn &progress) {
    return llvm::createStringError(
        "the " + getName() +
        " target compiles models, not kernel modules (.mlir)");
  }
  virtual llvm::Error emitIntermediate(mlir::ModuleOp module,
                                       const Manifest &manifest,
                                       llvm::StringRef format,
                                       llvm::StringRef path,
                                       const ProgressFn &progress) {
    return llvm::createStringError("--emit=" + format + ": the " + getName() +
                                   " target does not write that form");
  }
  /// Adds to `manifest` what only the lowering learns (run after
  /// buildPipeline's passes, before serialize()).
  virtual void completeManifest(Manifest &manifest) const {}
  /// The token count the model's seqc_prefill entry is built for: 0 for
  /// any (the CPU's loops take the count at run time); N > 0 for targets
  /// whose entries are static schedules (a prompt runs in chunks of N).
  virtual int64_t prefillTokens() const { return 0; }
};

/// Options of every target, one struct each; a target reads its own.
struct TargetOptions {
  /// The model's weight format (targets choose kernels by it).
  WeightFormat weights = WeightFormat::F32;
  CPUTargetOptions cpu;
  NeuroTargetOptions neuro;
  VulkanTargetOptions vulkan;
  CUDATargetOptions cuda;
  /// GPU targets: the tokens of one seqc_prefill schedule (0: prompts run
  /// token by token through seqc_step; -1: the target's default).
  int64_t gpuPrefillTokens = -1;
};

/// One registered target.
struct TargetInfo {
  llvm::StringRef name, summary;
  llvm::Expected<std::unique_ptr<TargetBackend>> (*create)(
      const TargetOptions &options);
};

/// The registered targets.
llvm::ArrayRef<TargetInfo> targets();

/// The target named `name`, checked against its options (a bad --cpu is
/// reported here, before any long stage).
llvm::Expected<std::unique_ptr<TargetBackend>>
createTarget(llvm::StringRef name, const TargetOptions &options);

} // namespace seqc

#endif // SEQC_TARGET_TARGET_H
