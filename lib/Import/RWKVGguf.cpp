//===- RWKVGguf.cpp - llama.cpp's RWKV-6 and RWKV-7 GGUF layouts ----------===//
//
// llama.cpp's converter (convert_hf_to_gguf.py) writes RWKV-6 and RWKV-7
// models under its own tensor names and with a few transforms of its own:
// the token-shift mixes stacked into one `time_mix_lerp_fused`, the
// low-rank matrices transposed, RWKV-6's `time_maa_w2` permuted, vectors
// squeezed, RWKV-7's `r_k` flattened and, for RWKV-6 with
// `rescale_every_n_layers` N, each block's output and channel-mix value
// matrices divided by 2^(block / N) (llama.cpp halves the residual after
// every N blocks instead). This maps such a file back onto the official
// names and shapes, undoing each transform exactly (transposes and powers of
// two lose nothing), so the RWKV importer reads the checkpoint it would read
// from the official .pth and compiles the same weights. Block-quantized
// matrices that need no transform keep their blocks; transformed tensors
// become f32.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/RWKV.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace seqc;
using llvm::StringRef;
using llvm::Twine;

bool seqc::isRWKVGgufArchitecture(StringRef arch) {
  return arch == "rwkv6" || arch == "rwkv7";
}

namespace {
/// Maps one file; every error names the file and the GGUF tensor or key.
class GgufMapper {
public:
  explicit GgufMapper(Checkpoint &ckpt) : ckpt(ckpt) {}

  llvm::Error run();

private:
  llvm::Error fail(const Twine &msg) const {
    return llvm::createStringError(ckpt.path() + ": GGUF: " + msg);
  }
  llvm::Error integer(StringRef key, int64_t &out, bool required, int64_t min);
  /// The tensor `name` with `rank` dimensions whose sizes, where `dims`
  /// gives one (>= 0), must match.
  llvm::Expected<const Tensor *> get(StringRef name,
                                     llvm::ArrayRef<int64_t> dims);
  /// `from` under the official name `to`, unchanged (blocks kept).
  llvm::Error rename(StringRef from, StringRef to) {
    if (!ckpt.find(from))
      return fail("missing tensor '" + from + "'");
    ckpt.rename(from, to);
    return llvm::Error::success();
  }
  /// `from` [C] as `to` [1, 1, C].
  llvm::Error vector(StringRef from, StringRef to);
  /// `from` [a, b] as `to` [b, a], times `scale`.
  llvm::Error transpose(StringRef from, StringRef to);
  /// `from` times `scale`, same shape.
  llvm::Error scaled(StringRef from, StringRef to, float scale);

  Checkpoint &ckpt;
  std::string arch;
  int64_t embd = 0;
};
} // namespace

llvm::Error GgufMapper::integer(StringRef key, int64_t &out, bool required,
                                int64_t min) {
  std::string full = arch + "." + key.str();
  const std::string *v = ckpt.metadata(full);
  if (!v)
    return required ? fail("missing " + full) : llvm::Error::success();
  if (StringRef(*v).getAsInteger(10, out) || out < min)
    return fail(full + " is " + *v + ", expected an integer >= " + Twine(min));
  return llvm::Error::success();
}

llvm::Expected<const Tensor *> GgufMapper::get(StringRef name,
                                               llvm::ArrayRef<int64_t> dims) {
  const Tensor *t = ckpt.find(name);
  if (!t)
    return fail("missing tensor '" + name + "'");
  bool ok = t->shape.size() == dims.size();
  for (size_t i = 0; ok && i < dims.size(); ++i)
    ok = dims[i] < 0 || t->shape[i] == dims[i];
  if (!ok) {
    std::string want = "[";
    for (size_t i = 0; i < dims.size(); ++i)
      want += (i ? ", " : "") +
              (dims[i] < 0 ? std::string("*") : std::to_string(dims[i]));
    return fail("tensor '" + name + "' is " + t->describe() + ", expected " +
                want + "]");
  }
  return t;
}

llvm::Error GgufMapper::vector(StringRef from, StringRef to) {
  auto t = get(from, {embd});
  if (!t)
    return t.takeError();
  std::vector<float> v = (*t)->toF32();
  ckpt.erase(from);
  ckpt.setOwned(to, {1, 1, embd}, std::move(v));
  return llvm::Error::success();
}

llvm::Error GgufMapper::transpose(StringRef from, StringRef to) {
  auto t = get(from, {-1, -1});
  if (!t)
    return t.takeError();
  int64_t rows = (*t)->shape[0], cols = (*t)->shape[1];
  std::vector<float> v = (*t)->toF32(), out(v.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[j * rows + i] = v[i * cols + j];
  ckpt.erase(from);
  ckpt.setOwned(to, {cols, rows}, std::move(out));
  return llvm::Error::success();
}

llvm::Error GgufMapper::scaled(StringRef from, StringRef to, float scale) {
  if (scale == 1.0f)
    return rename(from, to);
  auto t = get(from, {-1, -1});
  if (!t)
    return t.takeError();
  // Scaled when it is read: no f32 copy of the matrix is held.
  ckpt.rename(from, to);
  ckpt.scale(to, scale);
  return llvm::Error::success();
}

llvm::Error GgufMapper::run() {
  const std::string *a = ckpt.metadata("general.architecture");
  if (!a)
    return fail("no general.architecture");
  arch = *a;
  if (!isRWKVGgufArchitecture(arch))
    return fail("architecture '" + arch +
                "' is not one of the RWKV layouts seqc reads (rwkv6, rwkv7)");
  bool v7 = arch == "rwkv7";
  int64_t layers = 0, headSize = 0, rescale = 0;
  if (auto e = integer("block_count", layers, true, 1))
    return e;
  if (auto e = integer("wkv.head_size", headSize, true, 1))
    return e;
  if (!v7)
    if (auto e = integer("rescale_every_n_layers", rescale, false, 0))
      return e;
  // Each block has tens of tensors: a block count beyond the tensor count
  // is an edited number, and the loop below would be long.
  if ((uint64_t)layers > ckpt.names().size())
    return fail(arch + ".block_count is " + Twine(layers) +
                ", but the file holds only " + Twine(ckpt.names().size()) +
                " tensors");
  auto emb = get("token_embd.weight", {-1, -1});
  if (!emb)
    return emb.takeError();
  embd = (*emb)->shape[1];
  if (embd % headSize != 0)
    return fail(llvm::formatv("{0}.wkv.head_size {1} does not divide the "
                              "width {2}",
                              arch, headSize, embd)
                    .str());
  if (ckpt.find(llvm::formatv("blk.{0}.attn_norm.weight", layers).str()))
    return fail(arch + ".block_count is " + Twine(layers) +
                ", but the file has a block " + Twine(layers));

  auto renames = std::vector<std::pair<std::string, std::string>>{
      {"token_embd.weight", "emb.weight"},
      {"token_embd_norm.weight", "blocks.0.ln0.weight"},
      {"token_embd_norm.bias", "blocks.0.ln0.bias"},
      {"output_norm.weight", "ln_out.weight"},
      {"output_norm.bias", "ln_out.bias"},
      {"output.weight", "head.weight"}};
  for (auto &[from, to] : renames)
    if (auto e = rename(from, to))
      return e;

  for (int64_t l = 0; l < layers; ++l) {
    std::string p = llvm::formatv("blk.{0}.", l).str();
    std::string b = llvm::formatv("blocks.{0}.", l).str();
    std::string att = b + "att.", ffn = b + "ffn.";
    for (auto [from, to] :
         {std::pair{"attn_norm", "ln1"}, std::pair{"attn_norm_2", "ln2"},
          std::pair{"time_mix_ln", "att.ln_x"}})
      for (const char *leaf : {".weight", ".bias"})
        if (auto e = rename(p + from + leaf, b + to + leaf))
          return e;

    // The token-shift mixes, stacked [n, 1, 1, C].
    StringRef order = v7 ? "rwkvag" : "wkvrg";
    std::string fused = p + "time_mix_lerp_fused.weight";
    auto lerp = get(fused, {-1, 1, 1, embd});
    if (!lerp)
      return lerp.takeError();
    if ((*lerp)->shape[0] != (int64_t)order.size())
      return fail("tensor '" + fused + "' is " + (*lerp)->describe() +
                  ", expected [" + Twine(order.size()) + ", 1, 1, " +
                  Twine(embd) + "]" +
                  (v7 ? " (RWKV-7 without the gate is not supported)" : ""));
    std::vector<float> all = (*lerp)->toF32();
    ckpt.erase(fused);
    for (size_t i = 0; i < order.size(); ++i)
      ckpt.setOwned(att + (v7 ? "x_" : "time_maa_") + order[i], {1, 1, embd},
                    std::vector<float>(all.begin() + i * embd,
                                       all.begin() + (i + 1) * embd));

    // Block l of RWKV-6 was divided by 2^(l / N).
    float scale =
        !v7 && rescale > 0 ? std::ldexp(1.0f, (int)(l / rescale)) : 1.0f;
    if (auto e =
            scaled(p + "time_mix_output.weight", att + "output.weight", scale))
      return e;
    if (auto e =
            scaled(p + "channel_mix_value.weight", ffn + "value.weight", scale))
      return e;
    for (const char *proj : {"key", "value", "receptance"})
      if (auto e = rename(p + "time_mix_" + proj + ".weight",
                          att + proj + ".weight"))
        return e;
    if (auto e = rename(p + "channel_mix_key.weight", ffn + "key.weight"))
      return e;
    if (auto e = vector(p + "channel_mix_lerp_k.weight",
                        ffn + (v7 ? "x_k" : "time_maa_k")))
      return e;

    if (!v7) {
      if (auto e = vector(p + "time_mix_lerp_x.weight", att + "time_maa_x"))
        return e;
      if (auto e = transpose(p + "time_mix_w1.weight", att + "time_maa_w1"))
        return e;
      // time_maa_w2 [5, D, C] was permuted to [5, C, D].
      std::string w2 = p + "time_mix_w2.weight";
      auto t = get(w2, {5, embd, -1});
      if (!t)
        return t.takeError();
      int64_t d = (*t)->shape[2];
      std::vector<float> v = (*t)->toF32(), out(v.size());
      for (int64_t i = 0; i < 5; ++i)
        for (int64_t c = 0; c < embd; ++c)
          for (int64_t j = 0; j < d; ++j)
            out[(i * d + j) * embd + c] = v[(i * embd + c) * d + j];
      ckpt.erase(w2);
      ckpt.setOwned(att + "time_maa_w2", {5, d, embd}, std::move(out));
      if (auto e = vector(p + "time_mix_decay.weight", att + "time_decay"))
        return e;
      if (auto e =
              transpose(p + "time_mix_decay_w1.weight", att + "time_decay_w1"))
        return e;
      if (auto e =
              transpose(p + "time_mix_decay_w2.weight", att + "time_decay_w2"))
        return e;
      if (auto e = rename(p + "time_mix_first.weight", att + "time_faaaa"))
        return e;
      if (auto e = rename(p + "time_mix_gate.weight", att + "gate.weight"))
        return e;
      if (auto e = rename(p + "channel_mix_receptance.weight",
                          ffn + "receptance.weight"))
        return e;
      if (auto e = vector(p + "channel_mix_lerp_r.weight", ffn + "time_maa_r"))
        return e;
      continue;
    }
    // RWKV-7. Block 0's v0/v1/v2 are the converter's copies of a0/a1/a2
    // (the official code never reads block 0's): dropped.
    for (char n : StringRef("wavg")) {
      if (n == 'v' && l == 0) {
        for (const char *k : {"0", "1", "2"})
          ckpt.erase(p + "time_mix_v" + k + ".weight");
        continue;
      }
      std::string stem = p + "time_mix_" + n;
      if (n != 'g')
        if (auto e = vector(stem + "0.weight", att + n + "0"))
          return e;
      if (auto e = transpose(stem + "1.weight", att + n + "1"))
        return e;
      if (auto e = transpose(stem + "2.weight", att + n + "2"))
        return e;
    }
    if (auto e = vector(p + "time_mix_k_k.weight", att + "k_k"))
      return e;
    if (auto e = vector(p + "time_mix_k_a.weight", att + "k_a"))
      return e;
    std::string rk = p + "time_mix_r_k.weight";
    auto t = get(rk, {embd});
    if (!t)
      return t.takeError();
    std::vector<float> v = (*t)->toF32();
    ckpt.erase(rk);
    ckpt.setOwned(att + "r_k", {embd / headSize, headSize}, std::move(v));
  }
  return llvm::Error::success();
}

llvm::Error seqc::mapRWKVGguf(Checkpoint &ckpt) {
  return GgufMapper(ckpt).run();
}
