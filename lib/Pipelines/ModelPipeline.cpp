//===- ModelPipeline.cpp - the model-level pipeline -----------------------===//

#include "seqc/Pipelines/ModelPipeline.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;
using namespace mlir::seq;

static Error fail(const Twine &message) { return createStringError(message); }

Expected<std::optional<EvictPolicy>> seqc::parseKVEvict(StringRef name) {
  if (name.empty())
    return std::nullopt;
  if (std::optional<EvictPolicy> p = symbolizeEvictPolicy(name))
    return p;
  return fail("--kv-evict=" + name + ": expected window, h2o or roco");
}

Expected<seqc::KVSelectMethod> seqc::parseKVSelect(StringRef name) {
  if (name.empty())
    return seqc::KVSelectMethod::None;
  if (name == "fastkv")
    return seqc::KVSelectMethod::FastKV;
  if (name == "dynamickv")
    return seqc::KVSelectMethod::DynamicKV;
  return fail("--kv-select=" + name + ": expected fastkv or dynamickv");
}

Expected<ScorePool> seqc::parseScorePool(StringRef name) {
  if (std::optional<ScorePool> p = symbolizeScorePool(name))
    return *p;
  return fail("--kv-select-pool=" + name + ": expected avg or max");
}

Expected<KeyRotation> seqc::parseKeyRotation(StringRef name) {
  if (name == "post-rope")
    return KeyRotation::PostRope;
  if (name == "pre-rope")
    return KeyRotation::PreRope;
  return fail("--rotate-kv-keys must be post-rope or pre-rope, got '" + name +
              "'");
}

Error seqc::ModelPipelineOptions::validate() const {
  unsigned kb = kv.getKeyBits(), vb = kv.getValueBits();
  bool preRope = rotation.keys == KeyRotation::PreRope;
  int64_t groupHeads = rotation.groupHeads.value_or(1);
  if (!rotation.enabled && (preRope || rotation.groupHeads))
    return fail("--rotate-kv-keys and --rotate-kv-heads need --rotate-kv");
  if (groupHeads < 1 || (!preRope && groupHeads != 1))
    return fail("--rotate-kv-heads must be positive, and 1 unless "
                "--rotate-kv-keys=pre-rope (got " +
                Twine(groupHeads) + ")");
  if (balance && !calibration)
    return fail("--kv-balance needs --kv-calibration");
  if (balance && !(*balance >= 0.0 && *balance <= 1.0))
    return fail("--kv-balance must be in [0, 1], got " +
                std::to_string(*balance));
  if (balance && preRope)
    return fail("--kv-balance scales keys after RoPE; it cannot be combined "
                "with --rotate-kv-keys=pre-rope");
  if (rotation.block != 0 && (!rotation.enabled || preRope))
    return fail("--rotate-kv-block applies to --rotate-kv with post-RoPE "
                "keys");
  if (rotation.block < 0)
    return fail("--rotate-kv-block must be positive");
  if (rank) {
    if (!calibration)
      return fail("--kv-rank needs --kv-calibration (the joint K/V "
                  "covariance seqc-run calibrate measures)");
    if (*rank <= 0 || *rank % 2 != 0)
      return fail("--kv-rank must be positive and even, got " + Twine(*rank));
    if ((kb != 16 || vb != 16) && *rank % 16 != 0)
      return fail("--kv-rank " + Twine(*rank) +
                  " with --kv-bits: the latent's key and value rows (" +
                  Twine(*rank / 2) +
                  " channels each) are bit-packed by 8 channels; use a "
                  "multiple of 16");
    if (rotation.enabled || balance || kv.evict)
      return fail("--kv-rank caches a latent of keys and values; it cannot "
                  "be combined with --rotate-kv, --kv-balance or --kv-evict");
  }
  if (calibration && !balance && !rank && (!rotation.enabled || preRope))
    return fail("--kv-calibration is read by --kv-balance, --kv-rank and by "
                "--rotate-kv with post-RoPE keys (channel reordering)");
  if (preRope && kv.evict)
    return fail("--rotate-kv-keys=pre-rope caches keys before RoPE and needs "
                "every token at its position; it cannot be combined with "
                "--kv-evict");
  if (kv.evict && (kb != 16 || vb != 16) && *kv.evict == EvictPolicy::Window)
    return fail("--kv-evict window with --kv-bits: a window cache drops what "
                "leaves it; quantizing instead is --kv-bits with --kv-window, "
                "or --kv-evict h2o|roco with --kv-bits (mixed precision)");
  if (select.enabled()) {
    if (select.method == seqc::KVSelectMethod::DynamicKV && select.rate > 0.0)
      return fail("--kv-select=dynamickv takes --kv-select-keep (the mean "
                  "rows per layer), not --kv-select-rate");
    if (!(select.ratioMax > 0.0))
      return fail("--kv-select-ratio-max must be positive");
    if ((select.keep > 0) == (select.rate > 0.0))
      return fail("--kv-select needs one of --kv-select-keep (rows per KV "
                  "head) and --kv-select-rate (a fraction of the prompt)");
    if (select.rate < 0.0 || select.rate > 1.0)
      return fail("--kv-select-rate must be in (0, 1], got " +
                  std::to_string(select.rate));
    if (select.window <= 0 || (select.keep > 0 && select.keep <= select.window))
      return fail("--kv-select-keep (" + Twine(select.keep) +
                  ") must exceed --kv-select-window (" + Twine(select.window) +
                  "), which is always kept");
    if (select.kernel <= 0 || select.kernel % 2 == 0)
      return fail("--kv-select-kernel must be odd and positive, got " +
                  Twine(select.kernel));
    if (kv.evict || kb != 16 || vb != 16 || rank || preRope)
      return fail("--kv-select compresses plain caches once per prompt; it "
                  "cannot be combined with --kv-evict, --kv-bits, --kv-rank "
                  "or --rotate-kv-keys=pre-rope");
  } else if (select.keep || select.rate != 0.0) {
    return fail("--kv-select-keep and --kv-select-rate need --kv-select");
  }
  if ((kb == 16) != (vb == 16))
    return fail("--key-bits and --value-bits: quantize both or neither (got " +
                Twine(kb) + " and " + Twine(vb) + ")");
  return Error::success();
}

Error seqc::ModelPipelineOptions::validateFor(mlir::ModuleOp module,
                                              StringRef model) const {
  bool hasCache = false;
  module->walk([&](KVLoadOp) { hasCache = true; });
  if (hasCache)
    return Error::success();
  auto noCache = [&](StringRef flag) {
    return fail(flag + " applies to attention models; " + model +
                " has no KV cache");
  };
  if (calibration)
    return noCache("--kv-calibration");
  if (rotation.enabled)
    return noCache("--rotate-kv");
  if (kv.evict)
    return noCache("--kv-evict");
  if (select.enabled())
    return noCache("--kv-select");
  if (kv.isQuantized())
    return noCache("--kv-bits");
  return Error::success();
}

bool seqc::ModelPipelineOptions::isEmpty() const {
  return !balance && !rank && !rotation.enabled && !kv.evict &&
         !kv.isQuantized() && select.method != seqc::KVSelectMethod::FastKV;
}

void seqc::buildModelPipeline(mlir::OpPassManager &pm,
                              const ModelPipelineOptions &o) {
  if (o.balance) {
    SeqBalanceKVPassOptions p;
    p.alpha = *o.balance;
    pm.addPass(createSeqBalanceKVPass(p));
  }
  if (o.rank) {
    SeqLowRankKVPassOptions p;
    p.rank = *o.rank;
    pm.addPass(createSeqLowRankKVPass(p));
  }
  if (o.rotation.enabled) {
    bool preRope = o.rotation.keys == KeyRotation::PreRope;
    SeqFuseHadamardPassOptions p;
    p.keyRotation = o.rotation.keys;
    p.keyGroupHeads = o.rotation.groupHeads.value_or(1);
    p.keyBlock = o.rotation.block;
    p.reorderKeys = o.calibration && !preRope;
    pm.addPass(createSeqFuseHadamardPass(p));
  }
  if (o.select.method == seqc::KVSelectMethod::FastKV) {
    SeqSelectKVPassOptions p;
    p.keep = o.select.keep;
    p.rate = o.select.rate;
    p.window = o.select.window;
    p.kernel = o.select.kernel;
    p.pool = o.select.pool;
    pm.addPass(createSeqSelectKVPass(p));
  }
  const KVCacheOptions &kv = o.kv;
  if (kv.evict && kv.isQuantized()) {
    SeqMixedPrecisionKVPassOptions p;
    p.policy = *kv.evict;
    p.budget = kv.budget;
    p.sinks = kv.sinks;
    p.recent = kv.recent;
    p.keyBits = kv.getKeyBits();
    p.valueBits = kv.getValueBits();
    p.groupSize = kv.group;
    p.symmetric = kv.symmetric;
    pm.addPass(createSeqMixedPrecisionKVPass(p));
  } else if (kv.evict) {
    SeqEvictKVPassOptions p;
    p.policy = *kv.evict;
    p.budget = kv.budget;
    p.sinks = kv.sinks;
    p.recent = kv.recent;
    pm.addPass(createSeqEvictKVPass(p));
  } else if (kv.isQuantized()) {
    SeqCompressKVCachePassOptions p;
    p.keyBits = kv.getKeyBits();
    p.valueBits = kv.getValueBits();
    p.groupSize = kv.group;
    p.sinks = kv.sinks;
    p.window = kv.window;
    p.perTokenKeys = kv.perTokenKeys;
    p.symmetric = kv.symmetric;
    pm.addPass(createSeqCompressKVCachePass(p));
  }
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

namespace {
/// seq-model-pipeline's textual options: seqc compile's flags without the
/// leading dashes.
struct ModelPipelineCLOptions
    : public mlir::PassPipelineOptions<ModelPipelineCLOptions> {
  Option<unsigned> kvBits{*this, "kv-bits",
                          cl::desc("Bits per cached key and value"),
                          cl::init(16)};
  Option<unsigned> keyBits{*this, "key-bits", cl::desc("Bits per key"),
                           cl::init(0)};
  Option<unsigned> valueBits{*this, "value-bits", cl::desc("Bits per value"),
                             cl::init(0)};
  Option<int64_t> kvGroup{*this, "kv-group",
                          cl::desc("Quantization group size"), cl::init(32)};
  Option<int64_t> kvWindow{*this, "kv-window",
                           cl::desc("Most recent tokens at full precision"),
                           cl::init(32)};
  Option<int64_t> kvSinks{*this, "kv-sinks",
                          cl::desc("Leading tokens at full precision"),
                          cl::init(0)};
  Option<bool> kvPerTokenKeys{*this, "kv-per-token-keys",
                              cl::desc("Group keys per token"),
                              cl::init(false)};
  Option<bool> kvSymmetric{*this, "kv-symmetric",
                           cl::desc("Symmetric quantization grid"),
                           cl::init(false)};
  Option<std::string> kvEvict{*this, "kv-evict",
                              cl::desc("window, h2o or roco (empty: none)"),
                              cl::init("")};
  Option<int64_t> kvBudget{*this, "kv-budget",
                           cl::desc("Tokens per KV head an evicting cache "
                                    "keeps"),
                           cl::init(0)};
  Option<int64_t> kvRecent{*this, "kv-recent",
                           cl::desc("Most recent tokens h2o and roco keep"),
                           cl::init(0)};
  Option<std::string> kvSelect{*this, "kv-select",
                               cl::desc("fastkv (empty: none)"), cl::init("")};
  Option<int64_t> kvSelectKeep{*this, "kv-select-keep",
                               cl::desc("Rows per KV head a prompt keeps"),
                               cl::init(0)};
  Option<double> kvSelectRate{*this, "kv-select-rate",
                              cl::desc("Fraction of a prompt kept"),
                              cl::init(0.0)};
  Option<int64_t> kvSelectWindow{*this, "kv-select-window",
                                 cl::desc("Observation window"), cl::init(8)};
  Option<int64_t> kvSelectKernel{*this, "kv-select-kernel",
                                 cl::desc("Score pooling kernel"), cl::init(7)};
  Option<std::string> kvSelectPool{*this, "kv-select-pool",
                                   cl::desc("Score pooling: avg or max"),
                                   cl::init("max")};
  Option<bool> rotateKV{*this, "rotate-kv",
                        cl::desc("Hadamard rotation around the KV caches"),
                        cl::init(false)};
  Option<std::string> rotateKVKeys{
      *this, "rotate-kv-keys",
      cl::desc("Where keys are rotated: post-rope or pre-rope"),
      cl::init("post-rope")};
  Option<int64_t> rotateKVHeads{*this, "rotate-kv-heads",
                                cl::desc("KV heads sharing a key rotation"),
                                cl::init(0)};
  Option<int64_t> rotateKVBlock{*this, "rotate-kv-block",
                                cl::desc("Hadamard block of post-RoPE keys"),
                                cl::init(0)};
  Option<double> kvBalance{*this, "kv-balance",
                           cl::desc("Outlier balancing alpha (negative: off)"),
                           cl::init(-1.0)};
  Option<int64_t> kvRank{*this, "kv-rank",
                         cl::desc("Rank of the low-rank latent (0: off)"),
                         cl::init(0)};
  Option<bool> calibration{*this, "calibration",
                           cl::desc("The module carries seq.kv_calibration"),
                           cl::init(false)};

  Expected<seqc::ModelPipelineOptions> get() const {
    seqc::ModelPipelineOptions o;
    o.kv.bits = kvBits;
    o.kv.keyBits = keyBits;
    o.kv.valueBits = valueBits;
    o.kv.group = kvGroup;
    o.kv.window = kvWindow;
    o.kv.sinks = kvSinks;
    o.kv.perTokenKeys = kvPerTokenKeys;
    o.kv.symmetric = kvSymmetric;
    auto evict = seqc::parseKVEvict(kvEvict);
    if (!evict)
      return evict.takeError();
    o.kv.evict = *evict;
    o.kv.budget = kvBudget;
    o.kv.recent = kvRecent;
    auto select = seqc::parseKVSelect(kvSelect);
    if (!select)
      return select.takeError();
    o.select.method = *select;
    o.select.keep = kvSelectKeep;
    o.select.rate = kvSelectRate;
    o.select.window = kvSelectWindow;
    o.select.kernel = kvSelectKernel;
    auto pool = seqc::parseScorePool(kvSelectPool);
    if (!pool)
      return pool.takeError();
    o.select.pool = *pool;
    o.rotation.enabled = rotateKV;
    auto keys = seqc::parseKeyRotation(rotateKVKeys);
    if (!keys)
      return keys.takeError();
    o.rotation.keys = *keys;
    if (rotateKVHeads != 0)
      o.rotation.groupHeads = rotateKVHeads;
    o.rotation.block = rotateKVBlock;
    if (kvBalance >= 0)
      o.balance = kvBalance;
    if (kvRank != 0)
      o.rank = kvRank;
    o.calibration = calibration;
    if (Error e = o.validate())
      return std::move(e);
    return o;
  }
};
} // namespace

void seqc::addSeqLoweringPasses(mlir::OpPassManager &pm, bool parallelKVHeads) {
  // Models with temporal perspectives: one head projection of the
  // perspectives' mixture (exact: the head is linear).
  pm.addPass(createSeqPerspectiveHeadOncePass());
  // seq -> tensors, linalg and loops.
  pm.addPass(createConvertSeqToLinalgPass());
  pm.addPass(createConvertSeqHadamardToLoopsPass());
  ConvertSeqKVToLoopsPassOptions kv;
  kv.parallelHeads = parallelKVHeads;
  pm.addPass(createConvertSeqKVToLoopsPass(kv));
}

void seqc::addBufferizationPasses(mlir::OpPassManager &pm) {
  // Results stored into a caller's buffer are computed there.
  pm.addPass(mlir::bufferization::createEmptyTensorEliminationPass());
  mlir::bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  pm.addPass(mlir::bufferization::createOneShotBufferizePass(bufferize));
  // A function result that is its argument's buffer (a layer's state,
  // updated in place) is dropped: callers use their own buffer, and the copy
  // back into it folds away.
  pm.addPass(mlir::bufferization::createDropEquivalentBufferResultsPass());
}

void seqc::registerModelPipeline() {
  mlir::registerPassPipeline(
      "seq-model-pipeline",
      "The model-level KV-cache transformations of seqc compile (balance, "
      "low rank, Hadamard rotation, prefill-time selection, eviction, "
      "quantization), with options "
      "named like its flags",
      [](mlir::OpPassManager &pm, StringRef text,
         function_ref<mlir::LogicalResult(const Twine &)> errorHandler) {
        auto cl = ModelPipelineCLOptions::createFromString(text);
        if (!cl)
          return errorHandler("seq-model-pipeline: invalid options '" + text +
                              "'");
        Expected<ModelPipelineOptions> options = cl->get();
        if (!options)
          return errorHandler("seq-model-pipeline: " +
                              toString(options.takeError()));
        buildModelPipeline(pm, *options);
        return mlir::success();
      },
      [](function_ref<void(const mlir::detail::PassOptions &)> print) {
        print(ModelPipelineCLOptions());
      });
}
