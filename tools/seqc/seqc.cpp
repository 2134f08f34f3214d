//===- seqc.cpp - the seqc ahead-of-time compiler driver ------------------===//
//
//   seqc import MODEL [-o model.mlir]
//       Detects the architecture and prints the seq-dialect module.
//   seqc compile MODEL --target=cpu [--weights=fp32|fp16|int8] -o OUT
//       [--emit=artifact|mlir|llvm|obj] [--cpu=NAME] [--tokenizer=...]
//       Builds a deployable artifact: a directory with model.so (C ABI
//       entry points), weights.bin (mapped by the runtime, never copied) and
//       manifest.json; or one inspection file with --emit.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/RWKV.h"
#include "seqc/InitAll.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <chrono>

using namespace llvm;

namespace {

cl::SubCommand importCmd("import",
                         "Print a checkpoint as a seq-dialect module");
cl::SubCommand compileCmd("compile", "Compile a checkpoint ahead of time");

cl::opt<std::string> importInput(cl::Positional, cl::desc("MODEL"),
                                 cl::Required, cl::sub(importCmd));
cl::opt<std::string> importOutput("o", cl::desc("Output file (default: -)"),
                                  cl::value_desc("file"), cl::init("-"),
                                  cl::sub(importCmd));

cl::opt<std::string> compileInput(cl::Positional, cl::desc("MODEL"),
                                  cl::Required, cl::sub(compileCmd));
cl::opt<std::string> compileOutput("o",
                                   cl::desc("Output artifact directory "
                                            "(or file with --emit)"),
                                   cl::value_desc("path"), cl::Required,
                                   cl::sub(compileCmd));
cl::opt<std::string> target("target", cl::desc("Target (cpu)"), cl::init("cpu"),
                            cl::sub(compileCmd));
enum class Emit { Artifact, MLIR, LLVM, Obj };
cl::opt<Emit>
    emit("emit", cl::desc("What to write"), cl::init(Emit::Artifact),
         cl::values(clEnumValN(Emit::Artifact, "artifact",
                               "deployable directory (default)"),
                    clEnumValN(Emit::MLIR, "mlir", "seq-dialect module"),
                    clEnumValN(Emit::LLVM, "llvm", "optimized LLVM IR"),
                    clEnumValN(Emit::Obj, "obj", "object file")),
         cl::sub(compileCmd));
cl::opt<seqc::WeightFormat> weights(
    "weights", cl::desc("Precision of the weight matrices"),
    cl::init(seqc::WeightFormat::F32),
    cl::values(clEnumValN(seqc::WeightFormat::F32, "fp32", "32-bit floats"),
               clEnumValN(seqc::WeightFormat::F16, "fp16",
                          "16-bit floats (computed in f32)"),
               clEnumValN(seqc::WeightFormat::Int8, "int8",
                          "8-bit integers, one f32 scale per output row")),
    cl::sub(compileCmd));
cl::opt<std::string> cpu("cpu",
                         cl::desc("CPU to tune for (default: this machine's; "
                                  "'generic' for portable code)"),
                         cl::init("native"), cl::sub(compileCmd));
cl::opt<std::string>
    tokenizer("tokenizer",
              cl::desc("Tokenizer recorded in the manifest: bytes, world or "
                       "neox, or none (default: from the vocabulary size)"),
              cl::init(""), cl::sub(compileCmd));

auto startTime = std::chrono::steady_clock::now();

void progress(const Twine &msg) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           startTime)
                 .count();
  errs() << formatv("seqc: [{0,5:f1}s] ", s) << msg << "\n";
}

int fail(const Twine &msg) {
  WithColor::error(errs(), "seqc") << msg << "\n";
  return 1;
}

int fail(Error err) {
  std::string msg = toString(std::move(err));
  return fail(msg);
}

/// Writes `contents` to `path` through a temporary file and a rename, so a
/// failure never leaves a half-written file behind.
Error writeFileAtomic(StringRef path, StringRef contents) {
  SmallString<256> tmp(path);
  tmp += ".tmp";
  std::error_code ec;
  {
    raw_fd_ostream os(tmp, ec, sys::fs::OF_None);
    if (ec)
      return createStringError(path + ": cannot write: " + ec.message());
    os << contents;
    os.close();
    if (os.has_error())
      return createStringError(path +
                               ": write failed: " + os.error().message());
  }
  if ((ec = sys::fs::rename(tmp, path)))
    return createStringError(path + ": cannot write: " + ec.message());
  return Error::success();
}

uint64_t fnv1a(ArrayRef<uint8_t> bytes) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : bytes)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

Expected<std::unique_ptr<TargetMachine>> makeTargetMachine() {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  Triple triple(sys::getProcessTriple());
  std::string err;
  const Target *t = TargetRegistry::lookupTarget(triple, err);
  if (!t)
    return createStringError("no LLVM target for " + triple.str() + ": " + err);
  std::string cpuName =
      cpu == "native" ? sys::getHostCPUName().str() : cpu.getValue();
  std::unique_ptr<MCSubtargetInfo> sti(
      t->createMCSubtargetInfo(triple, cpuName, ""));
  if (!sti || !sti->isCPUStringValid(cpuName))
    return createStringError("--cpu=" + cpuName +
                             ": not a CPU that LLVM knows "
                             "for " +
                             triple.str() +
                             " (try 'generic', 'x86-64-v3' or 'native')");
  std::string features;
  if (cpu == "native") {
    SubtargetFeatures f;
    for (const auto &kv : sys::getHostCPUFeatures())
      f.AddFeature(kv.getKey(), kv.getValue());
    features = f.getString();
  }
  TargetOptions options;
  std::unique_ptr<TargetMachine> tm(
      t->createTargetMachine(triple, cpuName, features, options, Reloc::PIC_,
                             std::nullopt, CodeGenOptLevel::Aggressive));
  if (!tm)
    return createStringError("cannot create a target machine for " + cpuName);
  return tm;
}

std::string manifestText(const seqc::RWKVModel &model, StringRef tok,
                         uint64_t weightsId, StringRef cpuName) {
  const seqc::RWKVConfig &c = model.config;
  std::string s;
  raw_string_ostream os(s);
  os << "seqc_artifact 1\n";
  os << "model rwkv" << c.version << "\n";
  os << "description " << c.describe() << "\n";
  os << "vocab " << c.vocab << "\n";
  os << "state_shape";
  for (int64_t d : model.stateShape)
    os << " " << d;
  os << "\n";
  os << "weights_format "
     << (weights == seqc::WeightFormat::F16    ? "fp16"
         : weights == seqc::WeightFormat::Int8 ? "int8"
                                               : "fp32")
     << "\n";
  os << "weights_bytes " << model.weights.bytes.size() << "\n";
  // What one decoded token reads: everything but the embedding table, of
  // which it reads one row.
  uint64_t embBytes = 0;
  for (const seqc::WeightBlob::Entry &e : model.weights.entries)
    if (e.name == "emb")
      embBytes = e.shape[0] * e.shape[1] * seqc::dtypeSize(e.dtype);
  os << "token_read_bytes "
     << model.weights.bytes.size() - embBytes + c.embd * 4 << "\n";
  os << formatv("weights_id {0:x16}\n", weightsId);
  os << "tokenizer " << tok << "\n";
  os << "cpu " << cpuName << "\n";
  return s;
}

/// The manifest as JSON, for people and tools (the runtime reads the copy
/// embedded in model.so).
std::string manifestJson(StringRef text) {
  std::string s = "{\n";
  SmallVector<StringRef> lines;
  text.trim().split(lines, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    auto [key, value] = lines[i].split(' ');
    SmallVector<StringRef> parts;
    value.split(parts, ' ');
    bool numeric = all_of(parts, [](StringRef p) {
      uint64_t n;
      return !p.getAsInteger(10, n);
    });
    std::string v;
    if (numeric && parts.size() > 1)
      v = "[" + join(parts, ", ") + "]";
    else if (numeric)
      v = value.str();
    else
      v = "\"" + value.str() + "\"";
    s +=
        formatv("  \"{0}\": {1}{2}\n", key, v, i + 1 < lines.size() ? "," : "");
  }
  return s + "}\n";
}

int runImport() {
  auto ckpt = seqc::Checkpoint::open(importInput);
  if (!ckpt)
    return fail(ckpt.takeError());
  auto cfg = seqc::detectRWKV(**ckpt);
  if (!cfg)
    return fail(cfg.takeError());
  mlir::MLIRContext ctx;
  auto model = seqc::buildRWKV(&ctx, **ckpt, *cfg, seqc::WeightFormat::F32);
  if (!model)
    return fail(model.takeError());
  std::string text;
  raw_string_ostream os(text);
  os << "// " << cfg->describe() << "\n";
  model->module->print(os);
  if (importOutput == "-") {
    outs() << text;
    return 0;
  }
  if (Error e = writeFileAtomic(importOutput, text))
    return fail(std::move(e));
  return 0;
}

int runCompile() {
  if (target != "cpu")
    return fail("--target=" + target + ": only the cpu target exists so far");
  std::string outPath = compileOutput;
  // Check the destination before any long work.
  if (emit == Emit::Artifact && sys::fs::exists(outPath)) {
    if (!sys::fs::is_directory(outPath))
      return fail(outPath + ": exists and is not a directory");
    std::error_code ec;
    bool hasOther = false;
    for (sys::fs::directory_iterator it(outPath, ec), end; it != end && !ec;
         it.increment(ec)) {
      StringRef name = sys::path::filename(it->path());
      if (name != "model.so" && name != "weights.bin" &&
          name != "manifest.json")
        hasOther = true;
    }
    if (hasOther)
      return fail(outPath + ": directory holds files that are not a seqc "
                            "artifact; refusing to write into it");
  }

  // The target first: a bad --cpu is reported before any long stage.
  auto tm = makeTargetMachine();
  if (!tm)
    return fail(tm.takeError());

  progress("reading " + compileInput);
  auto ckpt = seqc::Checkpoint::open(compileInput);
  if (!ckpt)
    return fail(ckpt.takeError());
  auto cfg = seqc::detectRWKV(**ckpt);
  if (!cfg)
    return fail(cfg.takeError());
  progress(cfg->describe());
  std::string tok = tokenizer;
  if (tok.empty())
    tok = cfg->vocab <= 256                            ? "bytes"
          : cfg->vocab == 65536                        ? "world"
          : cfg->vocab >= 50277 && cfg->vocab <= 50432 ? "neox"
                                                       : "none";
  if (tok != "bytes" && tok != "world" && tok != "neox" && tok != "none")
    return fail("--tokenizer=" + tok + ": expected bytes, world, neox or none");

  mlir::DialectRegistry registry;
  seqc::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  auto model = seqc::buildRWKV(&ctx, **ckpt, *cfg, weights);
  if (!model)
    return fail(model.takeError());
  if (emit == Emit::MLIR) {
    std::string text;
    raw_string_ostream os(text);
    model->module->print(os);
    if (Error e = writeFileAtomic(outPath, text))
      return fail(std::move(e));
    return 0;
  }

  progress("lowering to the LLVM dialect");
  seqc::registerAllPasses();
  mlir::PassManager pm(&ctx);
  seqc::buildCPUPipeline(pm);
  if (failed(pm.run(*model->module)))
    return fail("lowering failed (see the diagnostics above)");

  uint64_t weightsId = fnv1a(model->weights.bytes);
  std::string manifest =
      manifestText(*model, tok, weightsId, (*tm)->getTargetCPU());
  {
    // The manifest travels inside model.so as a NUL-terminated string.
    mlir::OpBuilder b(&ctx);
    b.setInsertionPointToEnd(model->module->getBody());
    auto i8 = b.getI8Type();
    std::string value = manifest + '\0';
    mlir::LLVM::GlobalOp::create(
        b, model->module->getLoc(),
        mlir::LLVM::LLVMArrayType::get(i8, value.size()), /*isConstant=*/true,
        mlir::LLVM::Linkage::External, "seqc_manifest", b.getStringAttr(value));
  }

  progress("translating to LLVM IR and optimizing (-O3, " +
           (*tm)->getTargetCPU() + ")");
  LLVMContext llvmCtx;
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(*model->module, llvmCtx, "seqc_model");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  llvmModule->setDataLayout((*tm)->createDataLayout());
  llvmModule->setTargetTriple((*tm)->getTargetTriple());
  auto optimize = mlir::makeOptimizingTransformer(3, 0, tm->get());
  if (Error e = optimize(llvmModule.get()))
    return fail(std::move(e));
  if (emit == Emit::LLVM) {
    std::string text;
    raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    if (Error e = writeFileAtomic(outPath, text))
      return fail(std::move(e));
    return 0;
  }

  progress("generating machine code");
  SmallString<0> object;
  {
    raw_svector_ostream os(object);
    legacy::PassManager codegen;
    if ((*tm)->addPassesToEmitFile(codegen, os, nullptr,
                                   CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    codegen.run(*llvmModule);
  }
  if (emit == Emit::Obj) {
    if (Error e = writeFileAtomic(outPath, object))
      return fail(std::move(e));
    return 0;
  }

  if (std::error_code ec = sys::fs::create_directories(outPath))
    return fail(outPath + ": cannot create directory: " + ec.message());
  SmallString<256> objPath(outPath), soPath(outPath), wPath(outPath),
      mPath(outPath);
  sys::path::append(objPath, "model.o.tmp");
  sys::path::append(soPath, "model.so");
  sys::path::append(wPath, "weights.bin");
  sys::path::append(mPath, "manifest.json");
  if (Error e = writeFileAtomic(objPath, object))
    return fail(std::move(e));

  progress("linking model.so");
  auto linker = sys::findProgramByName("cc");
  if (!linker)
    return fail("no C compiler driver 'cc' on PATH to link model.so");
  SmallString<256> soTmp(soPath);
  soTmp += ".tmp";
  SmallVector<StringRef> args = {*linker, "-shared", "-o",
                                 soTmp,   objPath,   "-lm"};
  std::string errMsg;
  int rc = sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0, &errMsg);
  sys::fs::remove(objPath);
  if (rc != 0)
    return fail("linking model.so failed (" + *linker + " exited with " +
                Twine(rc) + ") " + errMsg);
  if (std::error_code ec = sys::fs::rename(soTmp, soPath))
    return fail(soPath + ": " + ec.message());

  progress(formatv("writing weights.bin ({0:f1} MiB)",
                   model->weights.bytes.size() / 1048576.0)
               .str());
  // weights.bin: a 4096-byte header (magic, id, size), then the blob, so that
  // the blob starts page-aligned when mapped.
  std::string weightsFile(4096, '\0');
  std::string header =
      formatv("SEQCWTS1 {0:x16} {1}\n", weightsId, model->weights.bytes.size());
  weightsFile.replace(0, header.size(), header);
  weightsFile.append(
      reinterpret_cast<const char *>(model->weights.bytes.data()),
      model->weights.bytes.size());
  if (Error e = writeFileAtomic(wPath, weightsFile))
    return fail(std::move(e));
  if (Error e = writeFileAtomic(mPath, manifestJson(manifest)))
    return fail(std::move(e));
  progress("wrote " + outPath + "/{model.so, weights.bin, manifest.json}");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "seqc: ahead-of-time compiler for sequence "
                              "models\n");
  if (importCmd)
    return runImport();
  if (compileCmd)
    return runCompile();
  errs() << "seqc: expected a subcommand: import or compile (see --help)\n";
  return 1;
}
