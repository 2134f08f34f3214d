//===- RWKVDetect.cpp - RWKV versions and sizes from tensor names ---------===//

#include "seqc/Import/RWKV.h"

#include "llvm/Support/FormatVariadic.h"

using namespace seqc;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Detection
//===----------------------------------------------------------------------===//

std::string RWKVConfig::describe() const {
  std::string s = llvm::formatv("RWKV-{0}: {1} layers, width {2}, ffn {3}, "
                                "vocab {4}",
                                version, layers, embd, ffn, vocab);
  if (heads)
    s += llvm::formatv(", {0} heads of {1}", heads, headSize);
  for (const auto &[name, rank] : loraRanks)
    s += llvm::formatv(", {0} rank {1}", name, rank);
  return s + ", " + dtypeName(dtype).str();
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

/// "<file>: RWKV-N checkpoint is missing tensor '<name>'".
static llvm::Error missingTensor(const Checkpoint &ckpt, StringRef arch,
                                 StringRef name) {
  return llvm::createStringError(ckpt.path() + ": " + arch +
                                 " checkpoint is missing tensor '" + name +
                                 "'");
}

llvm::Expected<RWKVConfig> seqc::detectRWKV(Checkpoint &ckpt) {
  renameHuggingFace(ckpt);
  RWKVConfig cfg;
  if (ckpt.find("blocks.0.att.w0") || ckpt.find("blocks.0.att.k_k"))
    cfg.version = 7;
  else if (ckpt.find("blocks.0.att.time_maa_x"))
    cfg.version = 6;
  else if (ckpt.find("blocks.0.att.time_faaaa"))
    cfg.version = 5;
  else if (ckpt.find("blocks.0.att.time_first"))
    cfg.version = 4;
  else
    return llvm::createStringError(
        ckpt.path() +
        ": unknown architecture: no RWKV-4/5/6/7 signature tensor "
        "(blocks.0.att.time_first, time_faaaa, time_maa_x or w0); the first "
        "tensor is '" +
        ckpt.names().front() + "'");
  // Detection reads only the tensors that carry hyperparameters; every
  // tensor's shape is checked when the weights are read (buildRWKV).
  std::string arch = "RWKV-" + std::to_string(cfg.version);
  auto find = [&](StringRef name) -> llvm::Expected<const Tensor *> {
    if (const Tensor *t = ckpt.find(name))
      return t;
    return missingTensor(ckpt, arch, name);
  };

  auto emb = find("emb.weight");
  if (!emb)
    return emb.takeError();
  if ((*emb)->shape.size() != 2)
    return llvm::createStringError(ckpt.path() + ": emb.weight is " +
                                   (*emb)->describe() +
                                   ", expected [vocab, "
                                   "width]");
  cfg.vocab = (*emb)->shape[0];
  cfg.embd = (*emb)->shape[1];
  cfg.dtype = (*emb)->dtype;
  // Layers: blocks.0 .. blocks.N-1, all present.
  int64_t maxLayer = -1;
  for (const std::string &name : ckpt.names()) {
    StringRef n = name;
    if (!n.consume_front("blocks."))
      continue;
    int64_t layer;
    if (!n.take_until([](char c) { return c == '.'; }).getAsInteger(10, layer))
      maxLayer = std::max(maxLayer, layer);
  }
  cfg.layers = maxLayer + 1;
  if (cfg.layers == 0)
    return llvm::createStringError(ckpt.path() + ": no blocks.N tensors");
  auto ffnKey = find("blocks.0.ffn.key.weight");
  if (!ffnKey)
    return ffnKey.takeError();
  cfg.ffn = (*ffnKey)->shape.empty() ? 0 : (*ffnKey)->shape[0];

  if (cfg.version == 4)
    return cfg;

  // RWKV-5/6/7: heads from the per-head bonus / key-normalization tensor.
  const char *headTensor =
      cfg.version == 7 ? "blocks.0.att.r_k" : "blocks.0.att.time_faaaa";
  auto ht = find(headTensor);
  if (!ht)
    return ht.takeError();
  if ((*ht)->shape.size() != 2 || (*ht)->shape[0] * (*ht)->shape[1] != cfg.embd)
    return llvm::createStringError(ckpt.path() + ": " + headTensor + " is " +
                                   (*ht)->describe() +
                                   ", expected [heads, head_size] with "
                                   "heads * head_size = " +
                                   llvm::Twine(cfg.embd));
  cfg.heads = (*ht)->shape[0];
  cfg.headSize = (*ht)->shape[1];
  auto rank = [&](const char *label, const char *name, int idx,
                  int64_t divide) -> llvm::Error {
    auto t = find(name);
    if (!t)
      return t.takeError();
    if ((*t)->shape.size() != 2)
      return llvm::createStringError(ckpt.path() + ": " + name + " is " +
                                     (*t)->describe() + ", expected a matrix");
    cfg.loraRanks.push_back({label, (*t)->shape[idx] / divide});
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
