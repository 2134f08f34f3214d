//===- RWKVDetect.cpp - RWKV version and hyperparameters of a checkpoint --===//
//
// The version comes from signature tensors, as the official `rwkv` package
// decides it: ln_x makes a 5.x, a gate makes it 5.1 or later, a per-channel
// time_decay [H, N] makes it 5.2; time_maa makes a 6 and w0 / k_k a 7; none
// of these but time_first makes a 4. The hyperparameters come from tensor
// shapes, and everything that sizes memory later is checked here against
// what the file holds: the layers must be numbered 0 .. L-1 with none
// missing (so L is at most the tensor count), and every size must be at
// least 1 and be a dimension of a tensor that is in the file.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/RWKV.h"

#include "seqc/Support/CheckedMath.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <set>

using namespace seqc;
using llvm::StringRef;

std::string RWKVConfig::describe() const {
  std::string s = llvm::formatv("{0}: {1} layers, width {2}, ffn {3}, "
                                "vocab {4}",
                                name(), layers, embd, ffn, vocab);
  if (heads)
    s += llvm::formatv(", {0} heads of {1}", heads, headSize);
  for (const auto &[name, rank] : loraRanks)
    s += llvm::formatv(", {0} rank {1}", name, rank);
  if (perspectives)
    s += llvm::formatv(", {0} temporal perspective{1}", perspectives,
                       perspectives == 1 ? "" : "s");
  return s + ", " + dtypeName(dtype).str();
}

std::string RWKVConfig::name() const {
  // 5.2 was the first RWKV-5 seqc read and keeps the plain name.
  if (version == 5 && minor != 2)
    return "RWKV-5." + std::to_string(minor);
  return "RWKV-" + std::to_string(version);
}

/// Hugging Face names (RwkvForCausalLM and its successors) to official ones.
static void renameHuggingFace(Checkpoint &ckpt) {
  std::vector<std::string> names(ckpt.names().begin(), ckpt.names().end());
  for (const std::string &name : names) {
    StringRef n = name;
    if (!n.starts_with("rwkv.") && n != "head.weight")
      continue;
    std::string to = n.starts_with("rwkv.") ? n.drop_front(5).str() : name;
    auto replace = [&](StringRef from, StringRef with) {
      size_t pos = to.find(from.str());
      if (pos != std::string::npos)
        to.replace(pos, from.size(), with.str());
    };
    replace("embeddings.weight", "emb.weight");
    replace(".pre_ln.", ".ln0.");
    replace(".attention.", ".att.");
    replace(".feed_forward.", ".ffn.");
    replace("time_mix_key", "time_mix_k");
    replace("time_mix_value", "time_mix_v");
    replace("time_mix_receptance", "time_mix_r");
    ckpt.rename(name, to);
  }
}

/// The shape without leading 1s ([1, 1, C] -> [C]), as the reader sees it.
static std::vector<int64_t> squeezed(const Tensor &t) {
  std::vector<int64_t> s = t.shape;
  while (s.size() > 1 && s.front() == 1)
    s.erase(s.begin());
  return s;
}

/// What an error says was recognized: the layer-0 signature tensors present
/// with their shapes ("blocks.0.att.time_first [4] f32, ...").
static std::string recognized(const Checkpoint &ckpt) {
  static const char *signatures[] = {
      "time_first", "time_faaaa", "time_decay", "ln_x.weight", "gate.weight",
      "time_mix_g", "time_maa_x", "w0",         "k_k",         "r_k"};
  std::string s;
  for (const char *sig : signatures)
    if (const Tensor *t = ckpt.find(std::string("blocks.0.att.") + sig))
      s += (s.empty() ? "" : ", ") + t->name + " " + t->describe();
  return s.empty() ? "no RWKV signature tensor" : s;
}

static llvm::Error missingTensor(const Checkpoint &ckpt, StringRef arch,
                                 StringRef name) {
  return llvm::createStringError(ckpt.path() + ": " + arch +
                                 " checkpoint is missing tensor '" + name +
                                 "'");
}

/// Layers 0 .. L-1 from the `blocks.N.` names, all present.
static llvm::Expected<int64_t> countLayers(const Checkpoint &ckpt) {
  std::set<int64_t> layers;
  for (const std::string &name : ckpt.names()) {
    StringRef n = name;
    int64_t layer;
    if (n.consume_front("blocks.") &&
        !n.take_until([](char c) { return c == '.'; }).getAsInteger(10, layer))
      layers.insert(layer);
  }
  if (layers.empty())
    return llvm::createStringError(ckpt.path() + ": no blocks.N tensors");
  // A set of distinct numbers starting at 0 is 0 .. L-1 exactly when its
  // largest is L-1; otherwise name the first gap.
  int64_t expect = 0;
  for (int64_t l : layers) {
    if (l != expect)
      return llvm::createStringError(
          ckpt.path() +
          llvm::formatv(": the checkpoint has tensors of layer {0} but none "
                        "of layer {1} (layers must be blocks.0 .. "
                        "blocks.N-1, all present)",
                        *layers.rbegin(), expect)
              .str());
    ++expect;
  }
  return expect;
}

/// The version from the signature tensors (0: none).
static void detectVersion(const Checkpoint &ckpt, RWKVConfig &cfg) {
  auto has = [&](StringRef n) {
    return ckpt.find(("blocks.0.att." + n).str()) != nullptr;
  };
  if (has("w0") || has("k_k"))
    cfg.version = 7;
  else if (has("time_maa_x"))
    cfg.version = 6;
  else if (has("ln_x.weight") || has("time_faaaa")) {
    cfg.version = 5;
    const Tensor *decay = ckpt.find("blocks.0.att.time_decay");
    std::vector<int64_t> d = decay ? squeezed(*decay) : std::vector<int64_t>{};
    cfg.minor = d.size() == 2 && d[1] > 1 ? 2 : has("gate.weight") ? 1 : 0;
  } else if (has("time_first"))
    cfg.version = 4;
}

llvm::Expected<RWKVConfig> seqc::detectRWKV(Checkpoint &ckpt) {
  renameHuggingFace(ckpt);
  RWKVConfig cfg;
  detectVersion(ckpt, cfg);
  if (!cfg.version)
    return llvm::createStringError(
        ckpt.path() +
        ": unknown architecture: no RWKV-4/5/6/7 signature tensor "
        "(blocks.0.att.time_first, ln_x, time_faaaa, time_maa_x or w0); the "
        "checkpoint holds " +
        llvm::Twine(ckpt.names().size()) + " tensors, the first '" +
        ckpt.names().front() + "'");
  std::string arch = cfg.name();
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(ckpt.path() + ": " + msg);
  };
  auto find = [&](StringRef name) -> llvm::Expected<const Tensor *> {
    if (const Tensor *t = ckpt.find(name))
      return t;
    return missingTensor(ckpt, arch, name);
  };
  // Every size must be a positive dimension of a tensor in the file.
  auto positive = [&](const Tensor &t) -> llvm::Error {
    for (int64_t d : t.shape)
      if (d <= 0)
        return fail(t.name + " is " + t.describe() +
                    ": an empty dimension (no model has one)");
    return llvm::Error::success();
  };

  auto emb = find("emb.weight");
  if (!emb)
    return emb.takeError();
  if ((*emb)->shape.size() != 2)
    return fail("emb.weight is " + (*emb)->describe() +
                ", expected [vocab, width]");
  if (llvm::Error e = positive(**emb))
    return std::move(e);
  cfg.vocab = (*emb)->shape[0];
  cfg.embd = (*emb)->shape[1];
  cfg.dtype = (*emb)->dtype;
  auto layers = countLayers(ckpt);
  if (!layers)
    return layers.takeError();
  cfg.layers = *layers;
  auto ffnKey = find("blocks.0.ffn.key.weight");
  if (!ffnKey)
    return ffnKey.takeError();
  if ((*ffnKey)->shape.size() != 2)
    return fail("blocks.0.ffn.key.weight is " + (*ffnKey)->describe() +
                ", expected [ffn, width]");
  if (llvm::Error e = positive(**ffnKey))
    return std::move(e);
  cfg.ffn = (*ffnKey)->shape[0];

  if (cfg.version == 4) {
    if (ckpt.find("blocks.0.att.time_first") &&
        squeezed(*ckpt.find("blocks.0.att.time_first")) !=
            std::vector<int64_t>{cfg.embd})
      return fail("no known RWKV layout: blocks.0.att.time_first is " +
                  ckpt.find("blocks.0.att.time_first")->describe() +
                  ", but RWKV-4 has it [width] = [" + llvm::Twine(cfg.embd) +
                  "] and RWKV-5 adds ln_x; recognized: " + recognized(ckpt));
    // Multiple temporal perspectives: the combiner convert3.weight [P, C]
    // gives P; the time_mix tensors' shapes [P, 1, 1, C] are checked as
    // they are read (buildRWKV).
    const Tensor *wc = ckpt.find("convert3.weight");
    if (wc) {
      if (wc->shape.size() != 2 || wc->shape[1] != cfg.embd || wc->shape[0] < 1)
        return fail("convert3.weight (the combiner of the temporal "
                    "perspectives) is " +
                    wc->describe() + ", expected [perspectives, width] = [P, " +
                    llvm::Twine(cfg.embd) + "]");
      cfg.perspectives = wc->shape[0];
    } else if (const Tensor *mix = ckpt.find("blocks.0.att.time_mix_k")) {
      if (mix->shape.size() == 4 && mix->shape[0] != 1)
        return fail("blocks.0.att.time_mix_k is " + mix->describe() +
                    ": mixing coefficients of " + llvm::Twine(mix->shape[0]) +
                    " temporal perspectives [P, 1, 1, width] need their "
                    "combiner convert3.weight [P, width] = [" +
                    llvm::Twine(mix->shape[0]) + ", " + llvm::Twine(cfg.embd) +
                    "], which the checkpoint lacks (a stock RWKV-4 has "
                    "time_mix [1, 1, width])");
    }
    return cfg;
  }
  if (const Tensor *wc = ckpt.find("convert3.weight"))
    return fail("convert3.weight " + wc->describe() +
                " is the combiner of temporal perspectives, which seqc "
                "reads for RWKV-4 only; this checkpoint is " +
                llvm::Twine(arch));

  // RWKV-5/6/7: heads from a per-head tensor: RWKV-5.0/5.1's time_decay
  // [H], the bonus time_faaaa [H, N], RWKV-7's r_k [H, N].
  const char *headTensor = cfg.version == 7 ? "blocks.0.att.r_k"
                           : cfg.version == 5 && cfg.minor < 2
                               ? "blocks.0.att.time_decay"
                               : "blocks.0.att.time_faaaa";
  auto ht = find(headTensor);
  if (!ht)
    return ht.takeError();
  std::vector<int64_t> hs = squeezed(**ht);
  if (cfg.version == 5 && cfg.minor < 2) {
    if (hs.size() != 1 || hs[0] <= 0 || cfg.embd % hs[0] != 0)
      return fail("no known RWKV-5 layout: " + llvm::Twine(headTensor) +
                  " is " + (*ht)->describe() +
                  ", expected [heads] dividing the width " +
                  llvm::Twine(cfg.embd) +
                  " (RWKV-5.0/5.1) or [heads, head_size] (RWKV-5.2); "
                  "recognized: " +
                  recognized(ckpt));
    hs = {hs[0], cfg.embd / hs[0]};
    // The bonus: time_faaaa is used as stored, time_first (5.0's name) as
    // exp(time_first), as the official package does.
    if (!ckpt.find("blocks.0.att.time_faaaa") &&
        !ckpt.find("blocks.0.att.time_first"))
      return fail(arch +
                  " checkpoint has neither blocks.0.att.time_first nor "
                  "time_faaaa; recognized: " +
                  recognized(ckpt));
    cfg.expTimeFirst = !ckpt.find("blocks.0.att.time_faaaa");
  } else {
    std::optional<int64_t> prod =
        hs.size() == 2 ? checkedMul(hs[0], hs[1]) : std::nullopt;
    if (!prod || *prod != cfg.embd || hs[0] <= 0 || hs[1] <= 0)
      return fail(llvm::Twine(headTensor) + " is " + (*ht)->describe() +
                  ", expected [heads, head_size] with "
                  "heads * head_size = " +
                  llvm::Twine(cfg.embd));
  }
  cfg.heads = hs[0];
  cfg.headSize = hs[1];
  auto rank = [&](const char *label, const char *name, int idx,
                  int64_t divide) -> llvm::Error {
    auto t = find(name);
    if (!t)
      return t.takeError();
    if ((*t)->shape.size() != 2)
      return fail(llvm::Twine(name) + " is " + (*t)->describe() +
                  ", expected a matrix");
    if (llvm::Error e = positive(**t))
      return e;
    cfg.loraRanks.push_back({label, (*t)->shape[idx] / divide});
    if (cfg.loraRanks.back().second <= 0)
      return fail(llvm::Twine(name) + " is " + (*t)->describe() +
                  ": a LoRA rank of 0");
    return llvm::Error::success();
  };
  llvm::Error e = llvm::Error::success();
  if (cfg.version == 6) {
    if ((e = rank("mix", "blocks.0.att.time_maa_w1", 1, 5)))
      return std::move(e);
    if ((e = rank("decay", "blocks.0.att.time_decay_w1", 1, 1)))
      return std::move(e);
  } else if (cfg.version == 7) {
    if ((e = rank("decay", "blocks.0.att.w1", 1, 1)))
      return std::move(e);
    if ((e = rank("a", "blocks.0.att.a1", 1, 1)))
      return std::move(e);
    if (cfg.layers > 1 && (e = rank("value", "blocks.1.att.v1", 1, 1)))
      return std::move(e);
    if ((e = rank("gate", "blocks.0.att.g1", 1, 1)))
      return std::move(e);
  }
  return cfg;
}
