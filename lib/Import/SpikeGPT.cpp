//===- SpikeGPT.cpp - SpikeGPT checkpoints to seq-dialect modules ---------===//
//
// SpikeGPT is imported by the RWKV-4 builder (RWKV.cpp) with a hook: this
// file checks the checkpoint against the official layout, decides what the
// options leave to the checkpoint (the binary embedding), and builds the
// spiking residual (buildSpikingResidual) the builder calls where RWKV-4
// adds a block half's output.
//
//===----------------------------------------------------------------------===//

#include "SpikeGPTBlock.h"
#include "seqc/Import/Importer.h"
#include "seqc/Import/RWKV.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdio>
#include <set>

using namespace seqc;
using namespace mlir;
using llvm::StringRef;

/// A float as people write it: 2, 0.5, 1e-05.
static std::string num(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

llvm::Error SpikeGPTOptions::validate() const {
  if (!(tau > 0))
    return llvm::createStringError("--lif-tau must be positive, got " +
                                   num(tau));
  if (!(vThreshold > vReset))
    return llvm::createStringError(
        "--lif-threshold must exceed --lif-reset, got " + num(vThreshold) +
        " and " + num(vReset));
  if (rescaleEvery < 0)
    return llvm::createStringError("--rescale-every must be 0 (off) or "
                                   "positive, got " +
                                   std::to_string(rescaleEvery));
  if (layers < 0)
    return llvm::createStringError("--layers must be positive, got " +
                                   std::to_string(layers));
  return llvm::Error::success();
}

std::string SpikeGPTOptions::describeLIF() const {
  return llvm::formatv(
      "LIF tau {0}, threshold {1}, reset {2} ({3}{4}), "
      "fire {5}",
      num(tau), num(vThreshold), num(vReset), hardReset ? "hard" : "soft",
      decayInput ? "" : ", input not decayed", fireGE ? ">=" : ">");
}

//===----------------------------------------------------------------------===//
// The spiking residual
//===----------------------------------------------------------------------===//

import::SpikingResidual import::buildSpikingResidual(OpBuilder &b, Location loc,
                                                     Value x, Value out,
                                                     Value membrane,
                                                     Value counts,
                                                     const SpikeGPTOptions &o) {
  auto lif = seq::LIFOp::create(
      b, loc, out.getType(), membrane.getType(), out, membrane,
      b.getF32FloatAttr(o.tau), b.getF32FloatAttr(o.vThreshold),
      b.getF32FloatAttr(o.vReset),
      seq::ResetModeAttr::get(b.getContext(), o.hardReset
                                                  ? seq::ResetMode::Hard
                                                  : seq::ResetMode::Soft),
      b.getBoolAttr(o.decayInput),
      seq::FireCmpAttr::get(b.getContext(),
                            o.fireGE ? seq::FireCmp::GE : seq::FireCmp::GT));
  Value spikes = lif.getSpikes();
  MLIRContext *ctx = b.getContext();
  auto parallel = utils::IteratorType::parallel;

  // x + spikes, elementwise over [T, C].
  Value sum = tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, x),
                                      b.getF32Type());
  AffineMap id = b.getMultiDimIdentityMap(2);
  Value next =
      linalg::GenericOp::create(
          b, loc, TypeRange{sum.getType()}, ValueRange{x, spikes},
          ValueRange{sum}, SmallVector<AffineMap>(3, id),
          SmallVector<utils::IteratorType>(2, parallel),
          [](OpBuilder &nb, Location nl, ValueRange a) {
            linalg::YieldOp::create(
                nb, nl, arith::AddFOp::create(nb, nl, a[0], a[1]).getResult());
          })
          .getResult(0);

  // counts[c] += sum over t of spikes[t, c] (loops c, t).
  AffineExpr c = b.getAffineDimExpr(0), t = b.getAffineDimExpr(1);
  Value counted =
      linalg::GenericOp::create(
          b, loc, TypeRange{counts.getType()}, ValueRange{spikes},
          ValueRange{counts},
          SmallVector<AffineMap>{AffineMap::get(2, 0, {t, c}, ctx),
                                 AffineMap::get(2, 0, {c}, ctx)},
          SmallVector<utils::IteratorType>{parallel,
                                           utils::IteratorType::reduction},
          [](OpBuilder &nb, Location nl, ValueRange a) {
            linalg::YieldOp::create(
                nb, nl, arith::AddFOp::create(nb, nl, a[1], a[0]).getResult());
          })
          .getResult(0);
  return {next, lif.getNewV(), counted};
}

//===----------------------------------------------------------------------===//
// The checkpoint
//===----------------------------------------------------------------------===//

namespace {

/// Every tensor of the official layout (SpikeGPT's model.py with
/// RWKV_HEAD_QK_DIM = 0 and no ffnPre) with its shape; leading 1s of a
/// stored shape are ignored ([1, 1, C] time-mix vectors read as [C]).
std::vector<std::pair<std::string, std::vector<int64_t>>>
officialTensors(const RWKVConfig &cfg) {
  int64_t C = cfg.embd, F = cfg.ffn, V = cfg.vocab;
  std::vector<std::pair<std::string, std::vector<int64_t>>> all = {
      {"emb.weight", {V, C}},
      {"blocks.0.ln0.weight", {C}},
      {"blocks.0.ln0.bias", {C}}};
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = "blocks." + std::to_string(l) + ".";
    for (const char *n :
         {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.time_decay",
          "att.time_first", "att.time_mix_k", "att.time_mix_v",
          "att.time_mix_r", "ffn.time_mix_k", "ffn.time_mix_r"})
      all.push_back({p + n, {C}});
    for (const char *n :
         {"att.key.weight", "att.value.weight", "att.receptance.weight",
          "att.output.weight", "ffn.receptance.weight"})
      all.push_back({p + n, {C, C}});
    all.push_back({p + "ffn.key.weight", {F, C}});
    all.push_back({p + "ffn.value.weight", {C, F}});
  }
  all.push_back({"ln_out.weight", {C}});
  all.push_back({"ln_out.bias", {C}});
  all.push_back({"head.weight", {V, C}});
  return all;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape)
    dims.push_back(std::to_string(d));
  return "[" + llvm::join(dims, ", ") + "]";
}

/// Checks the tensor names and shapes against the official layout: the
/// first missing, misshapen or unknown tensor is the error, named with the
/// shape it should have.
llvm::Error checkLayout(const Checkpoint &ckpt, const RWKVConfig &cfg) {
  auto fail = [&](const llvm::Twine &what) {
    return llvm::createStringError(ckpt.path() + ": SpikeGPT checkpoint " +
                                   what);
  };
  std::set<std::string> known;
  for (const auto &[name, shape] : officialTensors(cfg)) {
    known.insert(name);
    const Tensor *t = ckpt.find(name);
    if (!t)
      return fail("is missing tensor '" + name + "' (expected " +
                  shapeText(shape) + ")");
    std::vector<int64_t> have = t->shape;
    while (have.size() > shape.size() && have.front() == 1)
      have.erase(have.begin());
    if (have != shape)
      return fail("tensor '" + name + "' is " + t->describe() + ", expected " +
                  shapeText(shape) +
                  llvm::formatv(" (width {0}, ffn {1}, vocab {2} from "
                                "emb.weight and blocks.0.ffn.key.weight)",
                                cfg.embd, cfg.ffn, cfg.vocab)
                      .str());
  }
  for (const std::string &name : ckpt.names())
    if (!known.count(name))
      return fail("has tensor '" + name +
                  "', which the RNN-mode model does not use (pos_emb, "
                  "head_q/head_k and ffnPre are not supported)");
  return llvm::Error::success();
}

llvm::Expected<ImportedModel> importSpikeGPT(MLIRContext *ctx, StringRef path,
                                             const ImportOptions &options) {
  if (options.rotationSeed)
    return llvm::createStringError(
        "--rotate-weights applies to LLaMA models (" + path + " is not one)");
  SpikeGPTOptions o = options.spikegpt;
  if (llvm::Error e = o.validate())
    return std::move(e);
  auto ckpt = Checkpoint::open(path);
  if (!ckpt)
    return ckpt.takeError();
  auto cfg = detectRWKV(**ckpt);
  if (!cfg)
    return cfg.takeError();
  cfg->prefillTokens = options.prefillTokens;
  if (cfg->version != 4)
    return llvm::createStringError(
        path +
        ": --arch=spikegpt: SpikeGPT checkpoints have RWKV-4's "
        "tensors (blocks.0.att.time_first), this one is RWKV-" +
        llvm::Twine(cfg->version) + "'s");
  if (o.layers && o.layers != cfg->layers) {
    // Name the first tensor of the layer count asked for that is not there
    // (or, with fewer asked for, the first one too many).
    int64_t l = std::min(o.layers, cfg->layers);
    return llvm::createStringError(
        llvm::formatv("{0}: --layers={1}, but the SpikeGPT checkpoint has "
                      "{2} layers (blocks.0 .. blocks.{3}): {4} "
                      "'blocks.{5}.ln1.weight' (expected [{6}])",
                      path, o.layers, cfg->layers, cfg->layers - 1,
                      o.layers > cfg->layers ? "it is missing tensor"
                                             : "it has tensor",
                      l, cfg->embd)
            .str());
  }
  if (llvm::Error e = checkLayout(**ckpt, *cfg))
    return std::move(e);
  if (!o.binaryEmbedding)
    o.binaryEmbedding = cfg->vocab == 77;
  std::string stateFormat;
  if (llvm::Error e = applyStateOptions(ctx, *cfg, options, stateFormat))
    return std::move(e);

  auto built =
      buildRWKV(ctx, **ckpt, *cfg, options.weights, &o, options.weightSink);
  if (!built)
    return built.takeError();
  ImportedModel m;
  m.arch = "spikegpt";
  m.description = llvm::formatv(
      "SpikeGPT: {0} layers, width {1}, ffn {2}, vocab {3}, {4}; {5}; binary "
      "embedding {6}; rescale {7}",
      cfg->layers, cfg->embd, cfg->ffn, cfg->vocab, dtypeName(cfg->dtype),
      o.describeLIF(), *o.binaryEmbedding ? "on" : "off",
      o.rescaleEvery ? "every " + std::to_string(o.rescaleEvery) + " layers"
                     : std::string("off"));
  m.vocab = cfg->vocab;
  m.embd = cfg->embd;
  m.layers = cfg->layers;
  m.module = std::move(built->module);
  m.weights = std::move(built->weights);
  m.stateShape = built->stateShape;
  m.stateFormat = stateFormat;
  // A quantized WKV state takes fewer rows before the neurons' rows.
  int64_t shift = kSpikeGPTRows - m.stateShape[1];
  m.spikeCounters = {{"att", kSpikeCountAtt - shift},
                     {"ffn", kSpikeCountFfn - shift}};
  return std::move(m);
}

} // namespace

const Architecture &seqc::getSpikeGPTArchitecture() {
  // Never claims a path: a SpikeGPT checkpoint has exactly RWKV-4's tensors,
  // so only the user can tell (--arch=spikegpt); without it the checkpoint is
  // RWKV-4's.
  static const Architecture arch = {
      "spikegpt",
      "SpikeGPT, RWKV-4 with LIF neurons (only by --arch): official .pth or "
      "safetensors names",
      [](StringRef) { return false; }, importSpikeGPT};
  return arch;
}
