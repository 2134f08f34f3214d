//===- Manifest.cpp - what an artifact says of its model ------------------===//

#include "seqc/Artifact/Artifact.h"

#include "dialects/Seq/IR/SeqKVLayout.h"
#include "dialects/Seq/IR/SeqOps.h"
#include "seqc/Support/Checksum.h"
#include "seqc/Support/KVLayout.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace llvm;
using seqc::artifact::Key;

void seqc::Manifest::add(StringRef key, const Twine &value) {
  entries.emplace_back(key.str(), value.str());
}

void seqc::Manifest::append(const Manifest &other) {
  entries.insert(entries.end(), other.entries.begin(), other.entries.end());
}

std::optional<StringRef> seqc::Manifest::get(StringRef key) const {
  for (const auto &[k, v] : entries)
    if (k == key)
      return StringRef(v);
  return std::nullopt;
}

std::string seqc::Manifest::text() const {
  std::string s;
  for (const auto &[k, v] : entries)
    s += k + " " + v + "\n";
  return s;
}

std::string seqc::Manifest::json() const {
  std::string s = "{\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    StringRef key = entries[i].first, value = entries[i].second;
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
    s += formatv("  \"{0}\": {1}{2}\n", key, v,
                 i + 1 < entries.size() ? "," : "");
  }
  return s + "}\n";
}

StringRef seqc::defaultTokenizer(int64_t vocab) {
  // The bytes tokenizer has 256 ids; a smaller model could not take them.
  return vocab == 256                       ? "bytes"
         : vocab == 65536                   ? "world"
         : vocab >= 50277 && vocab <= 50432 ? "neox"
                                            : "none";
}

uint64_t seqc::weightsId(const WeightBlob &weights) { return weights.id; }

/// The state of an attention model: its KV caches, one per layer, each at
/// l * kv_slot_bytes of the state buffer.
static Error describeKVState(seqc::Manifest &m,
                             const seqc::ImportedModel &model,
                             const seqc::ModelDescription &d) {
  mlir::ModuleOp module = model.module.get();
  mlir::seq::KVCacheType type;
  module->walk([&](mlir::seq::KVLoadOp op) { type = op.getCache().getType(); });
  if (!type)
    return createStringError("internal error: no KV cache in the module");
  seqc::KVCacheDesc desc = mlir::seq::getKVCacheDesc(type);
  seqc::KVLayout layout;
  std::string error;
  if (!seqc::computeKVLayout(desc, layout, error))
    return createStringError("KV cache " + error);
  std::string typeText;
  raw_string_ostream(typeText) << mlir::Type(type);
  int64_t L = model.layers;
  m.add(Key::Context, Twine(model.context));
  m.add(Key::StateBytes, Twine(layout.bytes * L));
  m.add(Key::KVCache, typeText);
  // The layout's input: the runtime rebuilds the layout from it.
  m.add(Key::KVDesc, seqc::serializeKVCacheDesc(desc));
  m.add(Key::KVLayers, Twine(L));
  m.add(Key::KVSlotBytes, Twine(layout.bytes));
  m.add(Key::KVRotation, d.kvRotation);
  if (d.kvRank)
    m.add(Key::KVRank, Twine(*d.kvRank));
  if (!d.kvSelect.empty())
    m.add(Key::KVSelect, d.kvSelect);
  // The model's RoPE (seqc-run calibrate undoes it on cached keys).
  mlir::seq::RopeOp rope;
  module->walk([&](mlir::seq::RopeOp op) { rope = op; });
  if (rope) {
    int64_t headDim =
        cast<mlir::RankedTensorType>(rope.getInput().getType()).getDimSize(2);
    m.add(Key::RopeTheta, formatv("{0:e9}", rope.getTheta().convertToFloat()));
    m.add(Key::RopeStyle, mlir::seq::stringifyRopeStyle(rope.getStyle()));
    m.add(Key::RopeRotaryDim, Twine(rope.getRotaryDim().value_or(headDim)));
  } else {
    m.add(Key::RopeStyle, "none");
  }
  m.add(Key::KVBytesPerToken,
        Twine((int64_t)std::llround(type.getBytesPerQuantizedToken() * L)));
  if (type.isScored())
    m.add(type.isCompressed() ? Key::KVTokensFullPrecision : Key::KVTokensKept,
          Twine(type.getBudget()));
  else if (!type.isCompressed() && type.getWindow() > 0)
    m.add(Key::KVTokensKept, Twine(type.getSinks() + type.getWindow()));
  m.add(Key::KVBytesPerFullToken, Twine(type.getBytesPerFullToken() * L));
  return Error::success();
}

std::array<uint64_t, seqc::artifact::kCodeLayoutWords>
seqc::codeLayout(const Manifest &m) {
  auto number = [&](artifact::Key key) {
    uint64_t n = 0;
    if (auto v = m.get(key))
      (void)v->getAsInteger(10, n);
    return n;
  };
  uint64_t stateBytes = number(Key::StateBytes);
  if (auto shape = m.get(Key::StateShape)) {
    SmallVector<StringRef> dims;
    shape->split(dims, ' ');
    stateBytes = 4;
    for (StringRef d : dims) {
      uint64_t n = 0;
      (void)d.getAsInteger(10, n);
      stateBytes *= n;
    }
  }
  return {seqc::artifact::kCodeLayoutWords - 1, stateBytes, number(Key::Vocab),
          number(Key::WeightsBytes)};
}

Expected<seqc::Manifest>
seqc::describeArtifact(const ImportedModel &model, const ModelDescription &d,
                       const TargetDescription &target) {
  if (model.vocab < 1)
    return createStringError(
        formatv("the checkpoint's vocabulary has {0} tokens; a model needs "
                "at least one",
                model.vocab));
  Manifest m;
  // Format 2: every entry updates its state in place (one state buffer).
  m.add(Key::Format, Twine(seqc::artifact::kFormatVersion));
  m.add(Key::Model, model.arch);
  m.add(Key::Description, model.description);
  m.add(Key::Vocab, Twine(model.vocab));
  if (!model.stateShape.empty()) {
    SmallVector<std::string> dims;
    for (int64_t n : model.stateShape)
      dims.push_back(std::to_string(n));
    m.add(Key::StateShape, join(dims, " "));
    if (model.stateFormat != "f32")
      m.add(Key::StateFormat, model.stateFormat);
  } else if (Error e = describeKVState(m, model, d)) {
    return std::move(e);
  }
  if (!model.spikeCounters.empty()) {
    SmallVector<std::string> sites, rows;
    for (const auto &[site, row] : model.spikeCounters) {
      sites.push_back(site);
      rows.push_back(std::to_string(row));
    }
    m.add(Key::SpikeSites, join(sites, " "));
    m.add(Key::SpikeCountRows, join(rows, " "));
  }
  m.add(Key::WeightsFormat, stringifyWeightFormat(d.weights));
  m.append(target.numerics);
  if (d.weightsRotation)
    m.add(Key::WeightsRotation, "quarot " + Twine(*d.weightsRotation));
  const WeightBlob &w = model.weights;
  m.add(Key::WeightsBytes, Twine(w.size));
  // What one decoded token reads: everything but the embedding table, of
  // which it reads one row.
  uint64_t embBytes = 0;
  for (const WeightBlob::Entry &e : w.entries)
    if (e.name == "emb" || e.name == "embed")
      embBytes = e.shape[0] * e.shape[1] * dtypeSize(e.dtype);
  m.add(Key::TokenReadBytes, Twine(w.size - embBytes + model.embd * 4));
  // A token's matrix products: every matrix of the weight file but the
  // embedding table and the group formats' tables of scales and bits (a
  // q4, q5, q6, q4k, q5k or q6k entry holds two weights a byte). The few small
  // tables that are no products ([heads, head size] decays, RWKV-4
  // perspectives' [P, C]) count as if they were: C multiply-adds each,
  // noise beside a layer's matrices.
  auto isScaleTable = [&](StringRef name) {
    if (name.ends_with(".scale"))
      return true;
    for (StringRef suffix : {".min", ".d", ".dmin", ".bit4", ".bit5"})
      if (name.ends_with(suffix)) {
        const WeightBlob::Entry *codes = w.find(name.drop_back(suffix.size()));
        if (codes && holdsPackedCodes(codes->dtype))
          return true;
      }
    return false;
  };
  auto matrixMacs = [](const WeightBlob::Entry &e) {
    return (uint64_t)e.shape[0] * e.shape[1] *
           (holdsPackedCodes(e.dtype) ? 2 : 1);
  };
  uint64_t macs = 0;
  for (const WeightBlob::Entry &e : w.entries)
    if (e.shape.size() == 2 && e.name != "emb" && e.name != "embed" &&
        !isScaleTable(e.name))
      macs += matrixMacs(e);
  m.add(Key::TokenMatrixMacs, Twine(macs));
  if (const WeightBlob::Entry *head = w.find("head"))
    if (head->shape.size() == 2)
      m.add(Key::HeadMatrixMacs, Twine(matrixMacs(*head)));
  m.add(Key::WeightsId, formatv("{0:x16}", weightsId(w)));
  m.add(Key::WeightsChecksum, seqc::formatChecksum(w.checksum.digest()));
  m.add(Key::Tokenizer, d.tokenizer);
  m.add(Key::Target, target.target);
  m.append(target.runtime);
  return m;
}
