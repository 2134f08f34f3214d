//===- seqc.cpp - the seqc ahead-of-time compiler driver ------------------===//
//
//   seqc import MODEL [-o model.mlir]
//       Detects the architecture and prints the seq-dialect module.
//   seqc compile MODEL --target=cpu [--weights=fp32|fp16|int8] -o OUT
//       [--emit=artifact|mlir|llvm|obj] [--cpu=NAME] [--tokenizer=...]
//       [--int8-dot=auto|none|avx2|avxvnni|avx512vnni] [--activation-block=N]
//       [--context=N] [--kv-bits=16|8|4|3|2 --kv-group=G --kv-window=W ...]
//       Builds a deployable artifact: a directory with model.so (C ABI
//       entry points), weights.bin (mapped by the runtime, never copied) and
//       manifest.json; or one inspection file with --emit.
//
//===----------------------------------------------------------------------===//

#include "dialects/Seq/IR/SeqKVLayout.h"
#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Import/Llama.h"
#include "seqc/Import/RWKV.h"
#include "seqc/InitAll.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
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
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
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
cl::OptionCategory rotationCat("Rotation (attention models)");
cl::opt<bool> rotateWeights(
    "rotate-weights",
    cl::desc("Fold QuaRot's rotations into the weights before they are "
             "stored: the RMSNorm scales, a random Hadamard rotation of the "
             "residual stream, and a Hadamard rotation of each head's values "
             "(the model computes the same function; int8 weights and "
             "quantized value caches see no outlier channels)"),
    cl::init(false), cl::cat(rotationCat), cl::sub(importCmd),
    cl::sub(compileCmd));
cl::opt<uint64_t> rotationSeed(
    "rotation-seed", cl::desc("Seed of the residual rotation's random signs"),
    cl::init(0), cl::cat(rotationCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<std::string> int8Dot(
    "int8-dot",
    cl::desc("Kernel of the int8 weights' products: auto (the best the "
             "target CPU has), none (f32 activations), avx2, avxvnni or "
             "avx512vnni (integer dot products over int8-quantized "
             "activations)"),
    cl::init("auto"), cl::sub(compileCmd));
cl::opt<int64_t> activationBlock(
    "activation-block",
    cl::desc("Activation channels sharing one int8 scale in the integer "
             "kernels (a multiple of 4)"),
    cl::init(32), cl::sub(compileCmd));
cl::opt<std::string> cpu("cpu",
                         cl::desc("CPU to tune for (default: this machine's; "
                                  "'generic' for portable code)"),
                         cl::init("native"), cl::sub(compileCmd));
cl::opt<std::string>
    tokenizer("tokenizer",
              cl::desc("Tokenizer recorded in the manifest: bytes, world or "
                       "neox, or none (default: from the vocabulary size)"),
              cl::init(""), cl::sub(compileCmd));

// Attention models (LLaMA): the KV cache.
cl::OptionCategory kvCat("KV cache (attention models)");
cl::opt<int64_t> context("context",
                         cl::desc("KV cache capacity in tokens (default: the "
                                  "config's max_position_embeddings)"),
                         cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<unsigned> kvBits("kv-bits",
                         cl::desc("Bits per cached key and value: 16 (full "
                                  "precision, the default), 8, 4, 3 or 2"),
                         cl::init(16), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<unsigned> keyBits("key-bits",
                          cl::desc("Bits per key (default: --kv-bits)"),
                          cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<unsigned> valueBits("value-bits",
                            cl::desc("Bits per value (default: --kv-bits)"),
                            cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> kvGroup("kv-group", cl::desc("Quantization group size"),
                         cl::init(32), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> kvWindow("kv-window",
                          cl::desc("Most recent tokens kept at full precision"),
                          cl::init(32), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> kvSinks("kv-sinks",
                         cl::desc("Leading tokens kept at full precision"),
                         cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<bool> kvPerTokenKeys("kv-per-token-keys",
                             cl::desc("Group keys per token instead of per "
                                      "channel (KIVI groups keys per channel)"),
                             cl::init(false), cl::cat(kvCat),
                             cl::sub(compileCmd));
cl::opt<bool>
    kvSymmetric("kv-symmetric",
                cl::desc("Symmetric quantization grid (no zero point)"),
                cl::init(false), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<std::string>
    kvEvict("kv-evict",
            cl::desc("Keep at most --kv-budget tokens per KV head: window "
                     "(the --kv-sinks first and the most recent), h2o "
                     "(sinks, --kv-recent most recent and the most attended) "
                     "or roco (the same by mean attention). With h2o or roco "
                     "and --kv-bits below 16 the other tokens are quantized "
                     "to --kv-bits instead of dropped (mixed precision, "
                     "MiKV)"),
            cl::init(""), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> kvBudget("kv-budget",
                          cl::desc("Tokens per KV head an evicting cache "
                                   "keeps (at full precision)"),
                          cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> kvRecent("kv-recent",
                          cl::desc("Tokens h2o and roco protect: the most "
                                   "recent ones (roco: at most 10 by "
                                   "recency, the rest by attention "
                                   "variance)"),
                          cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<bool> rotateKV("rotate-kv",
                       cl::desc("Rotate queries, keys and values by Hadamard "
                                "matrices around the KV caches "
                                "(seq-fuse-hadamard; the model computes the "
                                "same function)"),
                       cl::init(false), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<std::string> rotateKVKeys(
    "rotate-kv-keys",
    cl::desc("With --rotate-kv, where keys are rotated: post-rope (with the "
             "queries, per head; the default) or pre-rope (RotateKV: before "
             "RoPE, --rotate-kv-heads KV heads together; the cache holds "
             "keys before RoPE, rotated back and RoPE-d when read)"),
    cl::init("post-rope"), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> rotateKVHeads(
    "rotate-kv-heads",
    cl::desc("KV heads that share one key rotation with "
             "--rotate-kv-keys=pre-rope (a Hadamard matrix of order heads x "
             "head_dim)"),
    cl::init(1), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> rotateKVBlock(
    "rotate-kv-block",
    cl::desc("With --rotate-kv (post-rope), rotate queries and keys by "
             "Hadamard blocks of this many channels instead of the whole "
             "head"),
    cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<std::string> kvCalibration(
    "kv-calibration",
    cl::desc("Calibration statistics (`seqc-run calibrate` writes them) for "
             "--kv-balance, --kv-rank (written with --covariance) and, with "
             "--rotate-kv (post-rope), reordering query and key channels "
             "before their rotation: each head's channels dealt to the "
             "Hadamard blocks in zigzag order of their largest magnitude"),
    cl::init(""), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<double> kvBalance(
    "kv-balance",
    cl::desc("With --kv-calibration, divide key channels and multiply the "
             "queries' by (largest |key| / its RMS over the head)^ALPHA "
             "before the cache (seq-balance-kv, MiKV's outlier balancing; "
             "ALPHA in [0, 1])"),
    cl::init(-1.0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t> kvRank(
    "kv-rank",
    cl::desc("With --kv-calibration, cache per token RANK coordinates of its "
             "keys (before RoPE) and values in the principal directions of "
             "the calibration's joint K/V covariance (seq-low-rank-kv, "
             "EliteKV's joint low-rank projection; RANK even, at most 2 x KV "
             "heads x head_dim; --kv-bits then quantizes the latent)"),
    cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<bool> kvF16("kv-f16",
                    cl::desc("Keep full-precision cache entries in f16 "
                             "instead of f32"),
                    cl::init(false), cl::cat(kvCat), cl::sub(compileCmd));

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

/// The x86 extensions the target machine may use that the runtime checks
/// before it runs the code (comma-separated, as in the manifest).
std::string usedCpuFeatures(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  std::string list;
  for (StringRef f : {
#define SEQC_CPU_FEATURE(name) #name,
#include "runtime/include/seqc/cpu_features.def"
       })
    if (sti->checkFeatures(("+" + f).str()))
      list += (list.empty() ? "" : ",") + f.str();
  return list;
}

/// The integer kernel --int8-dot asks for on the target: auto picks the
/// widest one the target has; a named one it lacks is an error.
Expected<std::string> int8Kernel(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  auto has = [&](StringRef features) { return sti->checkFeatures(features); };
  struct Kernel {
    StringRef name, features;
  };
  const Kernel kernels[] = {{"avx512vnni", "+avx512vnni,+avx512bw"},
                            {"avxvnni", "+avxvnni"},
                            {"avx2", "+avx2"}};
  if (int8Dot == "none")
    return std::string("none");
  for (const Kernel &k : kernels) {
    if (int8Dot == "auto" && has(k.features))
      return k.name.str();
    if (int8Dot == k.name) {
      if (!has(k.features))
        return createStringError("--int8-dot=" + int8Dot + ": the target CPU " +
                                 tm.getTargetCPU() + " lacks " + k.features);
      return k.name.str();
    }
  }
  if (int8Dot == "auto")
    return std::string("none");
  return createStringError(
      "--int8-dot=" + int8Dot +
      ": expected auto, none, avx2, avxvnni or avx512vnni");
}

/// What the driver needs of an imported model, whatever its architecture.
struct Model {
  std::string arch, description;
  int64_t vocab = 0, embd = 0, layers = 0;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  seqc::WeightBlob weights;
  /// RWKV: the f32 state's shape. Attention models: empty (the state is the
  /// layers' KV caches, sized after compression).
  std::vector<int64_t> stateShape;
  int64_t context = 0;
};

Expected<Model> importModel(mlir::MLIRContext *ctx, StringRef path,
                            seqc::WeightFormat format) {
  Model m;
  auto fill = [&](std::string arch, const auto &cfg, auto &built) {
    m.arch = std::move(arch);
    m.description = cfg.describe();
    m.vocab = cfg.vocab;
    m.embd = cfg.embd;
    m.layers = cfg.layers;
    m.module = std::move(built.module);
    m.weights = std::move(built.weights);
  };
  if (seqc::isLlamaModel(path)) {
    bool gguf = path.ends_with(".gguf");
    auto ckpt = seqc::Checkpoint::open(gguf ? path.str()
                                            : seqc::llamaWeightsPath(path));
    if (!ckpt)
      return ckpt.takeError();
    auto cfg =
        gguf ? seqc::llamaConfigFromGguf(**ckpt) : seqc::readLlamaConfig(path);
    if (!cfg)
      return cfg.takeError();
    if (const seqc::Tensor *t =
            (*ckpt)->find("model.layers.0.self_attn.q_proj.weight")) {
      cfg->dtype = t->dtype;
      if (t->blocks)
        cfg->blockType = t->blocks->name;
    }
    std::optional<uint64_t> seed;
    if (rotateWeights)
      seed = rotationSeed;
    auto built =
        seqc::buildLlama(ctx, **ckpt, *cfg, format, context, kvF16, seed);
    if (!built)
      return built.takeError();
    fill("llama", *cfg, *built);
    m.context = built->context;
    return std::move(m);
  }
  if (rotateWeights)
    return createStringError("--rotate-weights applies to LLaMA models (" +
                             path + " is not one)");
  auto ckpt = seqc::Checkpoint::open(path);
  if (!ckpt)
    return ckpt.takeError();
  auto cfg = seqc::detectRWKV(**ckpt);
  if (!cfg)
    return cfg.takeError();
  auto built = seqc::buildRWKV(ctx, **ckpt, *cfg, format);
  if (!built)
    return built.takeError();
  fill("rwkv" + std::to_string(cfg->version), *cfg, *built);
  m.stateShape = built->stateShape;
  return std::move(m);
}

/// Runs a textual pass pipeline on the model; `what` names it in errors.
Error runPipeline(mlir::MLIRContext *ctx, Model &m, StringRef pipeline,
                  StringRef what) {
  mlir::PassManager pm(ctx);
  if (failed(mlir::parsePassPipeline(pipeline, pm)))
    return createStringError("invalid " + what + " options: " + pipeline);
  if (failed(pm.run(*m.module)))
    return createStringError(what + " failed (see the diagnostics above)");
  return Error::success();
}

/// Reads --kv-calibration (seqc-run calibrate's JSON) and attaches it to
/// the module as seq.kv_calibration = {key_absmax = dense<[L, H, D]>}.
Error attachCalibration(mlir::MLIRContext *ctx, Model &m) {
  std::string path = kvCalibration;
  auto fail = [&](const Twine &why) {
    return createStringError(path + ": " + why);
  };
  auto buf = MemoryBuffer::getFile(path);
  if (!buf)
    return fail("cannot read: " + buf.getError().message());
  Expected<json::Value> parsed = json::parse((*buf)->getBuffer());
  if (!parsed)
    return fail("not valid JSON: " + toString(parsed.takeError()));
  const json::Object *o = parsed->getAsObject();
  if (!o || o->getInteger("seqc_kv_calibration") != 1)
    return fail("not a key calibration written by seqc-run calibrate (no "
                "\"seqc_kv_calibration\": 1)");
  mlir::seq::KVCacheType type;
  m.module->walk(
      [&](mlir::seq::KVLoadOp op) { type = op.getCache().getType(); });
  int64_t L = m.layers, H = type.getHeads(), D = type.getHeadDim();
  std::optional<int64_t> l = o->getInteger("layers"),
                         h = o->getInteger("kv_heads"),
                         d = o->getInteger("head_dim");
  if (!l || !h || !d || *l != L || *h != H || *d != D)
    return fail(formatv("statistics of {0} layers x {1} KV heads x {2} "
                        "channels; this model has {3} x {4} x {5}",
                        l.value_or(0), h.value_or(0), d.value_or(0), L, H, D)
                    .str());
  const json::Array *values = o->getArray("key_absmax");
  if (!values || (int64_t)values->size() != L * H * D)
    return fail("key_absmax must list " + Twine(L * H * D) + " numbers");
  SmallVector<float> absmax;
  for (const json::Value &v : *values) {
    std::optional<double> x = v.getAsNumber();
    if (!x || !std::isfinite(*x) || *x < 0)
      return fail("key_absmax holds a value that is not a finite "
                  "non-negative number");
    absmax.push_back((float)*x);
  }
  mlir::Builder b(ctx);
  auto attr = mlir::DenseFPElementsAttr::get(
      mlir::RankedTensorType::get({L, H, D}, b.getF32Type()),
      ArrayRef<float>(absmax));
  SmallVector<mlir::NamedAttribute> entries = {
      b.getNamedAttr("key_absmax", attr)};
  // The joint second moment of [keys before RoPE; values] (--kv-rank only:
  // it is L x N x N numbers).
  const json::Array *cov =
      kvRank.getNumOccurrences() ? o->getArray("kv_covariance") : nullptr;
  if (cov) {
    int64_t N = 2 * H * D;
    if ((int64_t)cov->size() != L * N * N)
      return fail("kv_covariance must list " + Twine(L * N * N) + " numbers");
    SmallVector<float> values;
    values.reserve(L * N * N);
    for (const json::Value &v : *cov) {
      std::optional<double> x = v.getAsNumber();
      if (!x || !std::isfinite(*x))
        return fail("kv_covariance holds a value that is not a finite number");
      values.push_back((float)*x);
    }
    entries.push_back(b.getNamedAttr(
        "kv_covariance",
        mlir::DenseFPElementsAttr::get(
            mlir::RankedTensorType::get({L, N, N}, b.getF32Type()),
            ArrayRef<float>(values))));
  }
  m.module->getOperation()->setAttr("seq.kv_calibration",
                                    b.getDictionaryAttr(entries));
  return Error::success();
}

/// Runs seq-fuse-hadamard and seq-compress-kv-cache as the --rotate-kv and
/// --kv-* options ask (nothing at 16 bits without rotation).
Error compressCaches(mlir::MLIRContext *ctx, Model &m) {
  unsigned kb = keyBits ? keyBits : kvBits, vb = valueBits ? valueBits : kvBits;
  bool preRope = rotateKVKeys == "pre-rope";
  if (!preRope && rotateKVKeys != "post-rope")
    return createStringError("--rotate-kv-keys must be post-rope or "
                             "pre-rope, got '" +
                             rotateKVKeys + "'");
  if (!rotateKV && (preRope || rotateKVHeads.getNumOccurrences()))
    return createStringError("--rotate-kv-keys and --rotate-kv-heads need "
                             "--rotate-kv");
  if (rotateKVHeads < 1 || (!preRope && rotateKVHeads != 1))
    return createStringError("--rotate-kv-heads must be positive, and 1 "
                             "unless --rotate-kv-keys=pre-rope (got " +
                             Twine(rotateKVHeads) + ")");
  bool balance = kvBalance.getNumOccurrences() > 0;
  if (balance && kvCalibration.empty())
    return createStringError("--kv-balance needs --kv-calibration");
  if (balance && !(kvBalance >= 0.0 && kvBalance <= 1.0))
    return createStringError("--kv-balance must be in [0, 1], got " +
                             std::to_string(kvBalance.getValue()));
  if (balance && preRope)
    return createStringError("--kv-balance scales keys after RoPE; it "
                             "cannot be combined with "
                             "--rotate-kv-keys=pre-rope");
  if (rotateKVBlock != 0 && (!rotateKV || preRope))
    return createStringError("--rotate-kv-block applies to --rotate-kv with "
                             "post-RoPE keys");
  if (rotateKVBlock < 0)
    return createStringError("--rotate-kv-block must be positive");
  bool lowRank = kvRank.getNumOccurrences() > 0;
  if (lowRank) {
    if (kvCalibration.empty())
      return createStringError("--kv-rank needs --kv-calibration (the joint "
                               "K/V covariance seqc-run calibrate measures)");
    if (kvRank <= 0 || kvRank % 2 != 0)
      return createStringError("--kv-rank must be positive and even, got " +
                               Twine(kvRank));
    if ((kb != 16 || vb != 16) && kvRank % 16 != 0)
      return createStringError(
          "--kv-rank " + Twine(kvRank) +
          " with --kv-bits: the latent's key and value rows (" +
          Twine(kvRank / 2) +
          " channels each) are bit-packed by 8 channels; use a multiple "
          "of 16");
    if (rotateKV || balance || !kvEvict.empty())
      return createStringError("--kv-rank caches a latent of keys and "
                               "values; it cannot be combined with "
                               "--rotate-kv, --kv-balance or --kv-evict");
  }
  if (!kvCalibration.empty() && !balance && !lowRank && (!rotateKV || preRope))
    return createStringError("--kv-calibration is read by --kv-balance, "
                             "--kv-rank and by --rotate-kv with post-RoPE "
                             "keys (channel reordering)");
  if (!kvCalibration.empty()) {
    if (m.arch != "llama")
      return createStringError("--kv-calibration applies to attention "
                               "models; " +
                               m.arch + " has no KV cache");
    if (Error e = attachCalibration(ctx, m))
      return e;
  }
  if (balance)
    if (Error e = runPipeline(
            ctx, m, formatv("seq-balance-kv{{alpha={0}}", kvBalance).str(),
            "seq-balance-kv"))
      return e;
  if (lowRank) {
    mlir::Operation *op = m.module->getOperation();
    auto dict = op->getAttrOfType<mlir::DictionaryAttr>("seq.kv_calibration");
    if (!dict || !dict.get("kv_covariance"))
      return createStringError(kvCalibration +
                               ": has no kv_covariance (seqc-run calibrate "
                               "--covariance writes it); --kv-rank needs it");
    progress(formatv("low-rank KV cache: rank {0}", kvRank));
    if (Error e = runPipeline(
            ctx, m, formatv("seq-low-rank-kv{{rank={0}}", kvRank).str(),
            "seq-low-rank-kv"))
      return e;
    // Consumed: the bases are in the module now.
    mlir::NamedAttrList rest(dict);
    rest.erase("kv_covariance");
    op->setAttr("seq.kv_calibration", rest.getDictionary(ctx));
  }
  if (preRope && !kvEvict.empty())
    return createStringError("--rotate-kv-keys=pre-rope caches keys before "
                             "RoPE and needs every token at its position; "
                             "it cannot be combined with --kv-evict");
  if (rotateKV) {
    if (m.arch != "llama")
      return createStringError("--rotate-kv applies to attention models; " +
                               m.arch + " has no KV cache");
    if (Error e = runPipeline(
            ctx, m,
            formatv("seq-fuse-hadamard{{key-rotation={0} key-group-heads={1} "
                    "key-block={2} reorder-keys={3}}",
                    rotateKVKeys, rotateKVHeads, rotateKVBlock,
                    kvCalibration.empty() || preRope ? "false" : "true")
                .str(),
            "seq-fuse-hadamard"))
      return e;
  }
  if (!kvEvict.empty()) {
    if (m.arch != "llama")
      return createStringError("--kv-evict applies to attention models; " +
                               m.arch + " has no KV cache");
    if (kb != 16 || vb != 16) {
      if (kvEvict == "window")
        return createStringError(
            "--kv-evict window with --kv-bits: a window cache drops what "
            "leaves it; quantizing instead is --kv-bits with --kv-window, "
            "or --kv-evict h2o|roco with --kv-bits (mixed precision)");
      if (kb == 16 || vb == 16)
        return createStringError("--key-bits and --value-bits: quantize "
                                 "both or neither (got " +
                                 Twine(kb) + " and " + Twine(vb) + ")");
      return runPipeline(
          ctx, m,
          formatv("seq-mixed-precision-kv{{policy={0} budget={1} sinks={2} "
                  "recent={3} key-bits={4} value-bits={5} group-size={6} "
                  "symmetric={7}}",
                  kvEvict, kvBudget, kvSinks, kvRecent, kb, vb, kvGroup,
                  kvSymmetric ? "true" : "false")
              .str(),
          "KV cache mixed precision");
    }
    return runPipeline(
        ctx, m,
        formatv("seq-evict-kv{{policy={0} budget={1} sinks={2} recent={3}}",
                kvEvict, kvBudget, kvSinks, kvRecent)
            .str(),
        "KV cache eviction");
  }
  if (kb == 16 && vb == 16)
    return Error::success();
  if (kb == 16 || vb == 16)
    return createStringError("--key-bits and --value-bits: quantize both or "
                             "neither (got " +
                             Twine(kb) + " and " + Twine(vb) + ")");
  if (m.arch != "llama")
    return createStringError("--kv-bits applies to attention models; " +
                             m.arch + " has no KV cache");
  std::string opts = formatv("key-bits={0} value-bits={1} group-size={2} "
                             "sinks={3} window={4} per-token-keys={5} "
                             "symmetric={6}",
                             kb, vb, kvGroup, kvSinks, kvWindow,
                             kvPerTokenKeys ? "true" : "false",
                             kvSymmetric ? "true" : "false");
  return runPipeline(ctx, m, "seq-compress-kv-cache{" + opts + "}",
                     "KV cache compression");
}

/// Manifest lines of an attention model's state: its KV caches.
Expected<std::string> kvManifest(Model &m) {
  mlir::seq::KVCacheType type;
  m.module->walk(
      [&](mlir::seq::KVLoadOp op) { type = op.getCache().getType(); });
  if (!type)
    return createStringError("internal error: no KV cache in the module");
  seqc::KVCacheDesc desc = mlir::seq::getKVCacheDesc(type);
  seqc::KVLayout layout;
  std::string error;
  if (!seqc::computeKVLayout(desc, layout, error))
    return createStringError("KV cache " + error);
  std::string typeText;
  raw_string_ostream ts(typeText);
  ts << mlir::Type(type);
  std::string s;
  raw_string_ostream os(s);
  os << "context " << m.context << "\n";
  os << "state_bytes " << layout.bytes * m.layers << "\n";
  os << "kv_cache " << typeText << "\n";
  // The layout's input: the runtime rebuilds the layout from it.
  os << "kv_desc " << seqc::serializeKVCacheDesc(desc) << "\n";
  // One cache per layer, slot l at l * kv_slot_bytes of the state (layout:
  // seqc/Support/KVLayout.h).
  os << "kv_layers " << m.layers << "\nkv_slot_bytes " << layout.bytes << "\n";
  os << "kv_rotation "
     << (!rotateKV ? std::string("none") : rotateKVKeys.getValue()) << "\n";
  if (kvRank.getNumOccurrences())
    os << "kv_rank " << kvRank << "\n";
  // The model's RoPE (seqc-run calibrate undoes it on cached keys).
  mlir::seq::RopeOp rope;
  m.module->walk([&](mlir::seq::RopeOp op) { rope = op; });
  if (rope) {
    int64_t headDim =
        cast<mlir::RankedTensorType>(rope.getInput().getType()).getDimSize(2);
    os << formatv("rope_theta {0:e9}\nrope_style {1}\nrope_rotary_dim {2}\n",
                  rope.getTheta().convertToFloat(),
                  mlir::seq::stringifyRopeStyle(rope.getStyle()),
                  rope.getRotaryDim().value_or(headDim));
  } else {
    os << "rope_style none\n";
  }
  os << formatv(
      "kv_bytes_per_token {0}\n",
      (int64_t)std::llround(type.getBytesPerQuantizedToken() * m.layers));
  if (type.isScored())
    os << (type.isCompressed() ? "kv_tokens_full_precision "
                               : "kv_tokens_kept ")
       << type.getBudget() << "\n";
  else if (!type.isCompressed() && type.getWindow() > 0)
    os << "kv_tokens_kept " << type.getSinks() + type.getWindow() << "\n";
  os << "kv_bytes_per_full_token " << type.getBytesPerFullToken() * m.layers
     << "\n";
  return s;
}

std::string manifestText(const Model &model, StringRef stateLines,
                         StringRef tok, uint64_t weightsId, StringRef cpuName,
                         StringRef cpuFeatures,
                         const seqc::CPUPipelineOptions &pipeline) {
  std::string s;
  raw_string_ostream os(s);
  // Format 2: every entry updates its state in place (one state buffer).
  os << "seqc_artifact 2\n";
  os << "model " << model.arch << "\n";
  os << "description " << model.description << "\n";
  os << "vocab " << model.vocab << "\n";
  if (!model.stateShape.empty()) {
    os << "state_shape";
    for (int64_t d : model.stateShape)
      os << " " << d;
    os << "\n";
  }
  os << stateLines;
  os << "weights_format "
     << (weights == seqc::WeightFormat::F16    ? "fp16"
         : weights == seqc::WeightFormat::Int8 ? "int8"
                                               : "fp32")
     << "\n";
  // The int8 products' kernel: integer dot products over activations
  // quantized per block (their rounding is part of the model's numerics).
  if (pipeline.int8Dot != "none")
    os << "int8_dot " << pipeline.int8Dot << "\nactivation_block "
       << pipeline.activationBlock << "\n";
  if (rotateWeights)
    os << "weights_rotation quarot " << rotationSeed << "\n";
  os << "weights_bytes " << model.weights.bytes.size() << "\n";
  // What one decoded token reads: everything but the embedding table, of
  // which it reads one row.
  uint64_t embBytes = 0;
  for (const seqc::WeightBlob::Entry &e : model.weights.entries)
    if (e.name == "emb" || e.name == "embed")
      embBytes = e.shape[0] * e.shape[1] * seqc::dtypeSize(e.dtype);
  os << "token_read_bytes "
     << model.weights.bytes.size() - embBytes + model.embd * 4 << "\n";
  os << formatv("weights_id {0:x16}\n", weightsId);
  os << "tokenizer " << tok << "\n";
  os << "cpu " << cpuName << "\n";
  if (!cpuFeatures.empty())
    os << "cpu_features " << cpuFeatures << "\n";
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
  mlir::MLIRContext ctx;
  auto model = importModel(&ctx, importInput, seqc::WeightFormat::F32);
  if (!model)
    return fail(model.takeError());
  std::string text;
  raw_string_ostream os(text);
  os << "// " << model->description << "\n";
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
  seqc::CPUPipelineOptions pipeline;
  auto kernel = int8Kernel(**tm);
  if (!kernel)
    return fail(kernel.takeError());
  if (weights == seqc::WeightFormat::Int8)
    pipeline.int8Dot = *kernel;
  if (activationBlock <= 0 || activationBlock % 4)
    return fail("--activation-block=" + std::to_string(activationBlock) +
                ": expected a positive multiple of 4");
  pipeline.activationBlock = activationBlock;

  progress("reading " + compileInput);
  mlir::DialectRegistry registry;
  seqc::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  seqc::registerAllPasses();
  auto model = importModel(&ctx, compileInput, weights);
  if (!model)
    return fail(model.takeError());
  progress(model->description);
  std::string tok = tokenizer;
  if (tok.empty())
    tok = model->vocab <= 256                              ? "bytes"
          : model->vocab == 65536                          ? "world"
          : model->vocab >= 50277 && model->vocab <= 50432 ? "neox"
                                                           : "none";
  if (tok != "bytes" && tok != "world" && tok != "neox" && tok != "none")
    return fail("--tokenizer=" + tok + ": expected bytes, world, neox or none");
  if (Error e = compressCaches(&ctx, *model))
    return fail(std::move(e));
  std::string stateLines;
  if (model->arch == "llama") {
    auto kv = kvManifest(*model);
    if (!kv)
      return fail(kv.takeError());
    stateLines = *kv;
  }
  if (emit == Emit::MLIR) {
    std::string text;
    raw_string_ostream os(text);
    model->module->print(os);
    if (Error e = writeFileAtomic(outPath, text))
      return fail(std::move(e));
    return 0;
  }

  progress("lowering to the LLVM dialect");
  mlir::PassManager pm(&ctx);
  seqc::buildCPUPipeline(pm, pipeline);
  if (failed(pm.run(*model->module)))
    return fail("lowering failed (see the diagnostics above)");

  uint64_t weightsId = fnv1a(model->weights.bytes);
  std::string manifest =
      manifestText(*model, stateLines, tok, weightsId, (*tm)->getTargetCPU(),
                   usedCpuFeatures(**tm), pipeline);
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
