//===- CPUTarget.cpp - the CPU (LLVM) target ------------------------------===//
//
// The lowered module becomes model.so: the manifest is embedded as a
// NUL-terminated global `seqc_manifest`, the module is translated to LLVM
// IR, optimized at -O3 for the target machine, emitted as an object and
// linked by the system's C compiler driver (`cc -shared`), with the C files
// another target wrote into the artifact (CPUTargetOptions::cSources),
// compiled by the same driver.
//
//===----------------------------------------------------------------------===//

#include "TargetMachine.h"

#include "seqc/Pipelines/CPUPipeline.h"
#include "seqc/Target/Target.h"

#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {

class CPUTarget : public seqc::TargetBackend {
public:
  CPUTarget(std::unique_ptr<TargetMachine> tm,
            seqc::CPUPipelineOptions pipeline, unsigned vectorWidth,
            std::vector<std::string> cSources)
      : tm(std::move(tm)), pipeline(std::move(pipeline)),
        vectorWidth(vectorWidth), cSources(std::move(cSources)) {}

  StringRef getName() const override { return "cpu"; }

  ArrayRef<StringRef> getExecutableFiles() const override {
    static const StringRef files[] = {"model.so"};
    return files;
  }

  seqc::TargetDescription describe() const override {
    seqc::TargetDescription d;
    d.target = getName().str();
    // The int8 products' kernel: integer dot products over activations
    // quantized per block (their rounding is part of the model's numerics).
    if (pipeline.int8Kernel != seqc::Int8Kernel::None) {
      d.numerics.add(seqc::artifact::Key::Int8Dot,
                     seqc::stringifyInt8Kernel(pipeline.int8Kernel));
      d.numerics.add(seqc::artifact::Key::ActivationBlock,
                     Twine(pipeline.activationBlock));
    }
    d.runtime.add(seqc::artifact::Key::Cpu, tm->getTargetCPU());
    std::string features = seqc::cpu::usedCpuFeatures(*tm);
    if (!features.empty())
      d.runtime.add(seqc::artifact::Key::CpuFeatures, features);
    if (vectorWidth)
      d.runtime.add(seqc::artifact::Key::VectorWidth, Twine(vectorWidth));
    // The float prefill products' kernel (--float-prefill): the order of
    // their sums, so their last bits, depend on it.
    if (pipeline.floatLanes)
      d.runtime.add(seqc::artifact::Key::FloatPrefillLanes,
                    Twine(pipeline.floatLanes));
    return d;
  }

  void registerDialects(mlir::DialectRegistry &registry) const override {
    mlir::registerBuiltinDialectTranslation(registry);
    mlir::registerLLVMDialectTranslation(registry);
  }

  void buildPipeline(mlir::OpPassManager &pm) const override {
    seqc::buildCPUPipeline(pm, pipeline);
  }

  ArrayRef<StringRef> getIntermediateFormats() const override {
    static const StringRef formats[] = {"llvm", "obj"};
    return formats;
  }

  Error serialize(mlir::ModuleOp module, const seqc::Manifest &manifest,
                  const seqc::ArtifactWriter &artifact,
                  const seqc::ProgressFn &progress) override;
  Error emitIntermediate(mlir::ModuleOp module, const seqc::Manifest &manifest,
                         StringRef format, StringRef path,
                         const seqc::ProgressFn &progress) override;

private:
  /// The optimized LLVM IR of `module`, with the manifest embedded.
  Expected<std::unique_ptr<Module>> translate(mlir::ModuleOp module,
                                              const seqc::Manifest &manifest,
                                              LLVMContext &llvmCtx,
                                              const seqc::ProgressFn &progress);
  Expected<SmallString<0>> emitObject(Module &llvmModule,
                                      const seqc::ProgressFn &progress);

  std::unique_ptr<TargetMachine> tm;
  seqc::CPUPipelineOptions pipeline;
  /// prefer-vector-width of every function, in bits; 0: the CPU's default.
  unsigned vectorWidth;
  std::vector<std::string> cSources;
};

} // namespace

Expected<std::unique_ptr<Module>>
CPUTarget::translate(mlir::ModuleOp module, const seqc::Manifest &manifest,
                     LLVMContext &llvmCtx, const seqc::ProgressFn &progress) {
  {
    // The manifest travels inside model.so as a NUL-terminated string.
    mlir::OpBuilder b(module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    std::string value = manifest.text() + '\0';
    mlir::LLVM::GlobalOp::create(
        b, module.getLoc(),
        mlir::LLVM::LLVMArrayType::get(b.getI8Type(), value.size()),
        /*isConstant=*/true, mlir::LLVM::Linkage::External,
        seqc::artifact::kManifestSymbol, b.getStringAttr(value));
    // Beside it, binary and apart from the text, the layout the code is
    // built for: the runtime checks the (editable) manifest against it.
    auto layout = seqc::codeLayout(manifest);
    SmallVector<int64_t> words(layout.begin(), layout.end());
    auto type = mlir::LLVM::LLVMArrayType::get(b.getI64Type(), words.size());
    mlir::LLVM::GlobalOp::create(
        b, module.getLoc(), type, /*isConstant=*/true,
        mlir::LLVM::Linkage::External, seqc::artifact::kCodeLayoutSymbol,
        mlir::DenseElementsAttr::get(
            mlir::RankedTensorType::get({(int64_t)words.size()},
                                        b.getI64Type()),
            ArrayRef<int64_t>(words)));
  }
  progress("translating to LLVM IR and optimizing (-O3, " + tm->getTargetCPU() +
           ")");
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, llvmCtx, "seqc_model");
  if (!llvmModule)
    return createStringError("translation to LLVM IR failed");
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(tm->getTargetTriple());
  // LLVM's x86 tuning prefers 256-bit vectors even where AVX-512 exists;
  // the loops it vectorizes (fp16/fp32 products, elementwise code) run
  // faster at 512 bits on the AVX-512 machines measured (docs/design.md).
  if (vectorWidth)
    for (Function &f : *llvmModule)
      if (!f.isDeclaration())
        f.addFnAttr("prefer-vector-width", std::to_string(vectorWidth));
  auto optimize = mlir::makeOptimizingTransformer(3, 0, tm.get());
  if (Error e = optimize(llvmModule.get()))
    return std::move(e);
  return std::move(llvmModule);
}

Expected<SmallString<0>>
CPUTarget::emitObject(Module &llvmModule, const seqc::ProgressFn &progress) {
  progress("generating machine code");
  SmallString<0> object;
  raw_svector_ostream os(object);
  legacy::PassManager codegen;
  if (tm->addPassesToEmitFile(codegen, os, nullptr,
                              CodeGenFileType::ObjectFile))
    return createStringError("the target cannot emit object files");
  codegen.run(llvmModule);
  return std::move(object);
}

Error CPUTarget::emitIntermediate(mlir::ModuleOp module,
                                  const seqc::Manifest &manifest,
                                  StringRef format, StringRef path,
                                  const seqc::ProgressFn &progress) {
  if (format != "llvm" && format != "obj")
    return TargetBackend::emitIntermediate(module, manifest, format, path,
                                           progress);
  LLVMContext llvmCtx;
  auto llvmModule = translate(module, manifest, llvmCtx, progress);
  if (!llvmModule)
    return llvmModule.takeError();
  if (format == "llvm") {
    std::string text;
    raw_string_ostream os(text);
    (*llvmModule)->print(os, nullptr);
    return seqc::writeFileAtomic(path, text);
  }
  auto object = emitObject(**llvmModule, progress);
  if (!object)
    return object.takeError();
  return seqc::writeFileAtomic(path, *object);
}

Error CPUTarget::serialize(mlir::ModuleOp module,
                           const seqc::Manifest &manifest,
                           const seqc::ArtifactWriter &artifact,
                           const seqc::ProgressFn &progress) {
  LLVMContext llvmCtx;
  auto llvmModule = translate(module, manifest, llvmCtx, progress);
  if (!llvmModule)
    return llvmModule.takeError();
  auto object = emitObject(**llvmModule, progress);
  if (!object)
    return object.takeError();
  if (Error e = artifact.create())
    return e;
  // The object and the linked library are exclusive temporaries in the
  // artifact directory (OutputFile.h), removed on every failure path.
  std::string soPath = artifact.path("model.so");
  SmallString<256> objPath, soTmp;
  if (Error e = seqc::createTempFile(artifact.path("model.o"), objPath))
    return e;
  if (Error e = seqc::writeFileAtomic(objPath, *object)) {
    seqc::discardTempFile(objPath);
    return e;
  }

  // Temporaries removed on every path from here.
  std::vector<std::string> objects = {objPath.str().str()};
  auto discardAll = [&] {
    for (const std::string &o : objects)
      seqc::discardTempFile(o);
  };
  auto cc = sys::findProgramByName("cc");
  if (!cc) {
    discardAll();
    return createStringError("no C compiler driver 'cc' on PATH to link "
                             "model.so");
  }
  auto run = [&](ArrayRef<StringRef> args, const Twine &what) -> Error {
    std::string errMsg;
    int rc = sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &errMsg);
    if (rc == 0)
      return Error::success();
    return createStringError(what + " failed (" + *cc + " exited with " +
                             Twine(rc) + ") " + errMsg);
  };
  for (const std::string &source : cSources) {
    progress("compiling " + source);
    SmallString<256> sourceObj;
    if (Error e =
            seqc::createTempFile(artifact.path(source + ".o"), sourceObj)) {
      discardAll();
      return e;
    }
    objects.push_back(sourceObj.str().str());
    // No contraction: the C keeps the f32 operations of the MLIR it came
    // from, one per statement, and must round as the LLVM code does.
    std::string path = artifact.path(source);
    SmallVector<StringRef> args = {*cc,
                                   "-std=c99",
                                   "-O2",
                                   "-fPIC",
                                   "-ffp-contract=off",
                                   "-fno-fast-math",
                                   "-c",
                                   "-o",
                                   sourceObj,
                                   path};
    if (Error e = run(args, "compiling " + source)) {
      discardAll();
      return e;
    }
  }

  progress("linking model.so");
  if (Error e = seqc::createTempFile(soPath, soTmp)) {
    discardAll();
    return e;
  }
  SmallVector<StringRef> args = {*cc, "-shared", "-o", soTmp};
  for (const std::string &o : objects)
    args.push_back(o);
  args.push_back("-lm");
  Error linked = run(args, "linking model.so");
  discardAll();
  if (linked) {
    seqc::discardTempFile(soTmp);
    return linked;
  }
  return seqc::commitTempFile(soTmp, soPath);
}

Expected<std::unique_ptr<seqc::TargetBackend>>
seqc::createCPUTarget(const TargetOptions &options) {
  const CPUTargetOptions &o = options.cpu;
  auto tm = cpu::makeTargetMachine(o.cpu);
  if (!tm)
    return tm.takeError();
  auto kernel = cpu::chooseInt8Kernel(**tm, o.int8Dot);
  if (!kernel)
    return kernel.takeError();
  auto vectorWidth = cpu::chooseVectorWidth(**tm, o.vectorWidth);
  if (!vectorWidth)
    return vectorWidth.takeError();
  CPUPipelineOptions pipeline;
  bool grouped = isGroupFormat(options.weights);
  if (options.weights == WeightFormat::Int8 || grouped)
    pipeline.int8Kernel = *kernel;
  if (o.activationBlock <= 0 || o.activationBlock % 4)
    return createStringError(
        "--activation-block=" + std::to_string(o.activationBlock) +
        ": expected a positive multiple of 4");
  // Group products round their activations per weight group.
  if (grouped && o.activationBlock != mlir::seq::kQ4Group)
    return createStringError(
        "--activation-block=" + std::to_string(o.activationBlock) +
        ": --weights=" + stringifyWeightFormat(options.weights) +
        " quantizes the activations per group of its weights, " +
        std::to_string(mlir::seq::kQ4Group) + " channels");
  pipeline.activationBlock = o.activationBlock;
  auto floatLanes = cpu::chooseFloatLanes(**tm, *vectorWidth, o.floatPrefill);
  if (!floatLanes)
    return floatLanes.takeError();
  pipeline.floatLanes = *floatLanes;
  return std::make_unique<CPUTarget>(std::move(*tm), pipeline, *vectorWidth,
                                     o.cSources);
}
