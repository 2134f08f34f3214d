//===- Llama.cpp - LLaMA checkpoints to seq-dialect modules ---------------===//
//
// Hugging Face LlamaForCausalLM: config.json for the hyperparameters,
// safetensors for the weights (names model.layers.N.self_attn.q_proj.weight,
// ...). The attention of each layer goes through seq.rope, seq.kv_append and
// seq.kv_attention on the layer's cache, loaded from and stored to the
// model's state buffer (seq.kv_load / seq.kv_store), so that
// seq-compress-kv-cache can change how the caches are stored without
// touching anything else.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/Llama.h"
#include "ModelBuilder.h"
#include "PrefillSelection.h"
#include "QuaRot.h"
#include "seqc/Import/Importer.h"
#include "seqc/Import/RWKV.h"
#include "seqc/Support/CheckedMath.h"
#include "seqc/Support/JsonDepth.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Verifier.h"
#include "seqc/Support/Hadamard.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <map>

using namespace seqc;
using namespace seqc::import;
using namespace mlir;
using llvm::StringRef;

std::string LlamaConfig::describe() const {
  return llvm::formatv("LLaMA: {0} layers, width {1}, {2} heads ({3} KV) of "
                       "{4}, ffn {5}, vocab {6}, {7}",
                       layers, embd, heads, kvHeads, headDim, ffn, vocab,
                       blockType.empty() ? dtypeName(dtype).str() : blockType)
      .str();
}

/// config.json of the model at `path` (a directory or a file in it).
static std::string configPath(StringRef path) {
  llvm::SmallString<256> p(path);
  if (!llvm::sys::fs::is_directory(path))
    llvm::sys::path::remove_filename(p);
  llvm::sys::path::append(p, "config.json");
  return std::string(p);
}

std::string seqc::llamaWeightsPath(StringRef path) {
  if (!llvm::sys::fs::is_directory(path))
    return path.str();
  llvm::SmallString<256> p(path);
  llvm::sys::path::append(p, "model.safetensors");
  return std::string(p);
}

bool seqc::isLlamaModel(StringRef path) {
  if (path.ends_with(".gguf")) {
    // A GGUF file names its architecture: LLaMA takes every one but
    // llama.cpp's RWKV layouts (and says which it cannot read).
    auto ckpt = Checkpoint::open(path);
    if (!ckpt) {
      llvm::consumeError(ckpt.takeError());
      return true; // the LLaMA importer reports it
    }
    const std::string *arch = (*ckpt)->metadata("general.architecture");
    return !arch || !isRWKVGgufArchitecture(*arch);
  }
  if (!llvm::sys::fs::is_directory(path) && !path.ends_with(".safetensors"))
    return false;
  auto buf = llvm::MemoryBuffer::getFile(configPath(path));
  if (!buf)
    return llvm::sys::fs::is_directory(path); // a directory: report its error
  return (*buf)->getBuffer().contains("\"llama\"") ||
         (*buf)->getBuffer().contains("LlamaForCausalLM");
}

/// The integer hyperparameters, read by `integer(key, out, required)` under
/// each format's key names: layers, width, ffn, heads, KV heads, head size,
/// positions (the last three optional, with LLaMA's defaults).
using IntegerReader =
    llvm::function_ref<llvm::Error(StringRef, int64_t &, bool)>;
static llvm::Error
readIntegers(LlamaConfig &c, IntegerReader integer, ArrayRef<StringRef> keys,
             llvm::function_ref<llvm::Error(const llvm::Twine &)> fail) {
  int64_t *required[] = {&c.layers, &c.embd, &c.ffn, &c.heads};
  for (int i = 0; i < 4; ++i)
    if (auto e = integer(keys[i], *required[i], true))
      return e;
  c.kvHeads = c.heads;
  // Without a head size, the width is split evenly among the heads (0: it
  // cannot be, which only a given head size resolves).
  c.headDim = c.embd % c.heads == 0 ? c.embd / c.heads : 0;
  c.maxPositions = 2048;
  int64_t *optional[] = {&c.kvHeads, &c.headDim, &c.maxPositions};
  for (int i = 0; i < 3; ++i)
    if (auto e = integer(keys[4 + i], *optional[i], false))
      return e;
  if (c.headDim == 0)
    return fail(keys[1] + " (" + llvm::Twine(c.embd) +
                ") is not a multiple of " + keys[3] + " (" +
                llvm::Twine(c.heads) + ") and there is no " + keys[5]);
  return llvm::Error::success();
}

llvm::Expected<LlamaConfig> seqc::readLlamaConfig(StringRef path) {
  std::string cfgPath = configPath(path);
  auto buf = llvm::MemoryBuffer::getFile(cfgPath);
  if (!buf)
    return llvm::createStringError(
        cfgPath + ": cannot read: " + buf.getError().message());
  return parseLlamaConfig(cfgPath, (*buf)->getBuffer());
}

llvm::Expected<LlamaConfig> seqc::parseLlamaConfig(StringRef cfgPath,
                                                   StringRef text) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(cfgPath + ": " + msg);
  };
  std::string deep;
  if (!checkJsonDepth(text.data(), text.size(), deep))
    return fail(deep);
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  if (!json)
    return fail("not valid JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *o = json->getAsObject();
  if (!o)
    return fail("not a JSON object");
  if (auto type = o->getString("model_type"); type && *type != "llama")
    return fail("model_type is \"" + *type + "\", not \"llama\"");
  LlamaConfig c;
  auto integer = [&](StringRef key, int64_t &out,
                     bool required) -> llvm::Error {
    std::optional<int64_t> v = o->getInteger(key);
    if (!v) {
      if (!required)
        return llvm::Error::success();
      return fail("missing or non-integer \"" + key + "\"");
    }
    if (*v <= 0)
      return fail("\"" + key + "\" must be positive, got " + llvm::Twine(*v));
    out = *v;
    return llvm::Error::success();
  };
  if (auto e =
          readIntegers(c, integer,
                       {"num_hidden_layers", "hidden_size", "intermediate_size",
                        "num_attention_heads", "num_key_value_heads",
                        "head_dim", "max_position_embeddings"},
                       fail))
    return std::move(e);
  if (auto e = integer("vocab_size", c.vocab, true))
    return std::move(e);
  if (std::optional<double> v = o->getNumber("rms_norm_eps"))
    c.rmsEps = *v;
  if (std::optional<double> v = o->getNumber("rope_theta"))
    c.ropeTheta = *v;
  if (std::optional<bool> v = o->getBoolean("tie_word_embeddings"))
    c.tiedEmbeddings = *v;
  if (const llvm::json::Value *scaling = o->get("rope_scaling");
      scaling && scaling->kind() != llvm::json::Value::Null)
    return fail("rope_scaling is not supported yet");
  if (c.heads % c.kvHeads != 0)
    return fail(llvm::formatv("num_attention_heads ({0}) is not a multiple of "
                              "num_key_value_heads ({1})",
                              c.heads, c.kvHeads)
                    .str());
  if (c.headDim % 2 != 0)
    return fail("head_dim " + llvm::Twine(c.headDim) +
                " is odd (rotary embedding pairs channels)");
  if (auto act = o->getString("hidden_act"); act && *act != "silu")
    return fail("hidden_act \"" + *act + "\" is not supported (silu is)");
  return c;
}

llvm::Expected<LlamaConfig> seqc::llamaConfigFromGguf(Checkpoint &ckpt) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(ckpt.path() + ": GGUF: " + msg);
  };
  const std::string *arch = ckpt.metadata("general.architecture");
  if (!arch)
    return fail("no general.architecture");
  if (*arch != "llama")
    return fail("architecture '" + *arch + "' is not supported (llama is)");
  LlamaConfig c;
  auto integer = [&](StringRef key, int64_t &out,
                     bool required) -> llvm::Error {
    const std::string *v = ckpt.metadata(("llama." + key).str());
    if (!v)
      return required ? fail("missing llama." + key) : llvm::Error::success();
    if (StringRef(*v).getAsInteger(10, out) || out <= 0)
      return fail("llama." + key + " is " + *v + ", not a positive integer");
    return llvm::Error::success();
  };
  if (auto e = readIntegers(c, integer,
                            {"block_count", "embedding_length",
                             "feed_forward_length", "attention.head_count",
                             "attention.head_count_kv", "rope.dimension_count",
                             "context_length"},
                            fail))
    return std::move(e);
  if (const std::string *v = ckpt.metadata("llama.rope.freq_base"))
    c.ropeTheta = std::strtod(v->c_str(), nullptr);
  if (const std::string *v =
          ckpt.metadata("llama.attention.layer_norm_rms_epsilon"))
    c.rmsEps = std::strtod(v->c_str(), nullptr);
  if (c.heads % c.kvHeads != 0 || c.headDim % 2 != 0)
    return fail("inconsistent head counts or head size");
  c.interleavedRope = true;
  // Each layer has several tensors: a block count beyond the tensor count
  // is an edited number, not a model (and would make the loop below long).
  if ((uint64_t)c.layers > ckpt.names().size())
    return fail("llama.block_count is " + llvm::Twine(c.layers) +
                ", but the file holds only " +
                llvm::Twine(ckpt.names().size()) + " tensors");
  // llama.cpp names -> Hugging Face names.
  std::vector<std::pair<std::string, std::string>> renames = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  const char *perLayer[][2] = {{"attn_norm", "input_layernorm"},
                               {"attn_q", "self_attn.q_proj"},
                               {"attn_k", "self_attn.k_proj"},
                               {"attn_v", "self_attn.v_proj"},
                               {"attn_output", "self_attn.o_proj"},
                               {"ffn_norm", "post_attention_layernorm"},
                               {"ffn_gate", "mlp.gate_proj"},
                               {"ffn_up", "mlp.up_proj"},
                               {"ffn_down", "mlp.down_proj"}};
  for (int64_t l = 0; l < c.layers; ++l)
    for (auto &[from, to] : perLayer)
      renames.push_back(
          {llvm::formatv("blk.{0}.{1}.weight", l, from).str(),
           llvm::formatv("model.layers.{0}.{1}.weight", l, to).str()});
  for (auto &[from, to] : renames)
    if (ckpt.find(from))
      ckpt.rename(from, to);
  const Tensor *emb = ckpt.find("model.embed_tokens.weight");
  if (!emb || emb->shape.size() != 2)
    return fail("missing tensor 'token_embd.weight'");
  c.vocab = emb->shape[0];
  return c;
}

/// Checks the hyperparameters against the tensors before anything is sized
/// from them: a config is a few numbers anyone can edit, the tensors are
/// what the file holds. Every layer must be present, the embedding must
/// have the config's shape, and the products the importer forms must be
/// dimensions that fit in the file.
static llvm::Error checkAgainstTensors(const Checkpoint &ckpt,
                                       const LlamaConfig &c, StringRef source) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(source + ": " + msg);
  };
  if ((uint64_t)c.layers > ckpt.names().size())
    return fail(llvm::formatv("{0} layers, but {1} holds only {2} tensors",
                              c.layers, ckpt.path(), ckpt.names().size())
                    .str());
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string q =
        llvm::formatv("model.layers.{0}.self_attn.q_proj.weight", l);
    if (!ckpt.find(q))
      return fail(llvm::formatv("{0} layers, but {1} has no layer {2} "
                                "(no tensor '{3}')",
                                c.layers, ckpt.path(), l, q)
                      .str());
  }
  const Tensor *emb = ckpt.find("model.embed_tokens.weight");
  if (!emb)
    return fail(ckpt.path() + " is missing tensor 'model.embed_tokens.weight'");
  if (emb->shape != std::vector<int64_t>{c.vocab, c.embd})
    return fail(llvm::formatv("vocabulary {0} and width {1}, but "
                              "model.embed_tokens.weight is {2}",
                              c.vocab, c.embd, emb->describe())
                    .str());
  uint64_t fileSize = ckpt.contents().size();
  std::optional<int64_t> q = checkedMul(c.heads, c.headDim),
                         kv = checkedMul(c.kvHeads, c.headDim);
  for (auto [what, v] :
       {std::pair<const char *, std::optional<int64_t>>{"heads * head_dim", q},
        {"key-value heads * head_dim", kv},
        {"the intermediate size", c.ffn}})
    if (!v || (uint64_t)*v > fileSize)
      return fail(llvm::Twine(what) +
                  " is larger than the file: no tensor can have it");
  return llvm::Error::success();
}

namespace {

class LlamaBuilder : public ModelBuilder {
public:
  LlamaBuilder(MLIRContext *ctx, const LlamaConfig &cfg, const WeightBlob &blob,
               int64_t context, bool f16Cache, const PrefillSelection &sel)
      : ModelBuilder(ctx, blob, "layers.", cfg.layers), cfg(cfg), sel(sel) {
    // DynamicKV keeps a cache per query head.
    cacheType = seq::KVCacheType::get(sel.budgets() ? cfg.heads : cfg.kvHeads,
                                      cfg.headDim, context,
                                      f16Cache ? (Type)b.getF16Type() : f32);
  }

  OwningOpRef<ModuleOp> build() {
    return buildModule("llama", 0, cfg.prefillTokens);
  }

private:
  const LlamaConfig &cfg;
  const PrefillSelection &sel;
  seq::KVCacheType cacheType;
  /// How a layer function meets prefill-time selection: not at all, as
  /// the selecting layer of token-selective propagation (it also returns
  /// the tokens' score and positions), after it (it takes the carried
  /// tokens' positions and how many of the prompt's were left out), or as a
  /// layer DynamicKV scores (it also returns its scores per query head).
  enum class Layer { Plain, Selecting, Carried, Scoring };
  std::map<std::pair<int64_t, Layer>, func::FuncOp> layerFuncs;

  MemRefType bytesType() {
    return MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
  }

  /// The state is the layers' caches; zero bytes are empty caches.
  void buildInitState() override {
    func::FuncOp fn = startFunc("seqc_init_state", {bytesType()});
    Value zero = arith::ConstantIntOp::create(b, loc, b.getI8Type(), 0);
    linalg::FillOp::create(b, loc, ValueRange{zero},
                           ValueRange{fn.getArgument(0)});
    endFunc(fn);
  }

  seq::RopeStyleAttr ropeStyle() {
    return seq::RopeStyleAttr::get(ctx, cfg.interleavedRope
                                            ? seq::RopeStyle::Interleaved
                                            : seq::RopeStyle::Half);
  }

  /// x * rsqrt(mean(x^2) + eps) * w, per row.
  Value rmsNorm(Value x, StringRef name) {
    Value sq = rowSum(x, Value(),
                      [](OpBuilder &nb, Location nl, Value v, Value) -> Value {
                        return arith::MulFOp::create(nb, nl, v, v);
                      });
    float invC = 1.0f / cfg.embd, eps = (float)cfg.rmsEps;
    return rowwise(
        x, {sq}, {weight(name)},
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value ms = arith::MulFOp::create(nb, nl, a[1], cst(nb, nl, invC));
          Value inv = math::RsqrtOp::create(
              nb, nl, arith::AddFOp::create(nb, nl, ms, cst(nb, nl, eps)));
          Value v = arith::MulFOp::create(nb, nl, a[0], inv);
          return arith::MulFOp::create(nb, nl, v, a[2]);
        });
  }

  /// (layer, x [T, C], state, slot) -> x'; Selecting: -> (x', score
  /// [T - window], positions [T]); Carried: (layer, x, positions, skipped,
  /// state, slot) -> x'.
  func::FuncOp layerFunc(int64_t tokens, Layer kind = Layer::Plain) {
    auto found = layerFuncs.find({tokens, kind});
    if (found != layerFuncs.end())
      return found->second;
    auto xType = RankedTensorType::get({tokens, cfg.embd}, f32);
    auto posType = RankedTensorType::get({tokens}, b.getIndexType());
    SmallVector<Type> args = {b.getIndexType(), xType};
    if (kind == Layer::Carried)
      args.append({posType, b.getIndexType()});
    args.append({bytesType(), b.getIndexType()});
    SmallVector<Type> results = {xType};
    if (kind == Layer::Selecting)
      results.append(
          {RankedTensorType::get({ShapedType::kDynamic}, f32), posType});
    if (kind == Layer::Scoring)
      results.push_back(
          RankedTensorType::get({cfg.heads, ShapedType::kDynamic}, f32));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(b.getInsertionBlock()->getParentOp());
    auto fn = func::FuncOp::create(
        b, loc,
        "seqc_layer_t" +
            (ShapedType::isDynamic(tokens) ? "n" : std::to_string(tokens)) +
            (kind == Layer::Selecting ? "_selecting"
             : kind == Layer::Carried ? "_carried"
             : kind == Layer::Scoring ? "_scoring"
                                      : ""),
        FunctionType::get(ctx, args, results));
    fn.setPrivate();
    b.setInsertionPointToStart(fn.addEntryBlock());
    LayerScope scope(*this, fn, 0);
    unsigned at = kind == Layer::Carried ? 4 : 2;
    Value x = fn.getArgument(1), state = fn.getArgument(at),
          slot = fn.getArgument(at + 1);

    // Attention.
    Value h = rmsNorm(x, "layers.0.attn_norm");
    Value q = splitHeads(linear(h, "layers.0.wq"), cfg.heads, cfg.headDim);
    Value k = splitHeads(linear(h, "layers.0.wk"), cfg.kvHeads, cfg.headDim);
    Value v = splitHeads(linear(h, "layers.0.wv"), cfg.kvHeads, cfg.headDim);
    Value cache = seq::KVLoadOp::create(b, loc, cacheType, state, slot);
    Value positions =
        kind == Layer::Carried ? fn.getArgument(2) : tokenPositions(cache, x);
    auto theta = b.getF32FloatAttr((float)cfg.ropeTheta);
    q = seq::RopeOp::create(b, loc, q.getType(), q, positions, theta,
                            IntegerAttr(), ropeStyle());
    k = seq::RopeOp::create(b, loc, k.getType(), k, positions, theta,
                            IntegerAttr(), ropeStyle());
    int64_t groups = cacheType.getHeads() / cfg.kvHeads;
    Value appended =
        seq::KVAppendOp::create(b, loc, cache, repeatHeads(b, loc, k, groups),
                                repeatHeads(b, loc, v, groups));
    auto attention = seq::KVAttentionOp::create(
        b, loc, TypeRange{q.getType(), cacheType}, q, appended,
        /*latent_basis=*/Value(), /*causal=*/true,
        /*scale=*/FloatAttr());
    Value after = attention.getNewCache();
    if (kind == Layer::Carried) // The tokens left out pass by.
      after = seq::KVAdvanceOp::create(b, loc, after, fn.getArgument(3));
    seq::KVStoreOp::create(b, loc, after, state, slot);
    SmallVector<Value> extra;
    if (kind == Layer::Selecting)
      extra = {tokenScore(b, loc, q, k, sel), positions};
    if (kind == Layer::Scoring)
      extra = {headScores(b, loc, q, k, sel)};
    Value o = linear(joinHeads(attention.getOutput()), "layers.0.wo");
    x = add(x, o);

    // SwiGLU MLP.
    Value h2 = rmsNorm(x, "layers.0.mlp_norm");
    Value gate = linear(h2, "layers.0.w_gate");
    Value up = linear(h2, "layers.0.w_up");
    Value act =
        elementwise({gate, up}, [](OpBuilder &nb, Location nl, ValueRange a) {
          return arith::MulFOp::create(nb, nl, silu(nb, nl, a[0]), a[1])
              .getResult();
        });
    x = add(x, linear(act, "layers.0.w_down"));
    extra.insert(extra.begin(), x);
    func::ReturnOp::create(b, loc, extra);
    layerFuncs[{tokens, kind}] = fn;
    return fn;
  }

  /// Positions len .. len + T - 1 of the T tokens of x after `cache`.
  Value tokenPositions(Value cache, Value x) {
    Value pos0 = seq::KVLengthOp::create(b, loc, cache);
    Value posInit = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{dim(x, 0)}, b.getIndexType());
    return linalg::GenericOp::create(
               b, loc, TypeRange{posInit.getType()}, ValueRange{},
               ValueRange{posInit},
               SmallVector<AffineMap>{b.getMultiDimIdentityMap(1)},
               SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location nl, ValueRange) {
                 Value t = linalg::IndexOp::create(nb, nl, 0);
                 linalg::YieldOp::create(
                     nb, nl,
                     arith::AddIOp::create(nb, nl, pos0, t).getResult());
               })
        .getResult(0);
  }

  void buildForward(StringRef name, int64_t tokens, bool allLogits) override {
    Type i32 = b.getI32Type();
    auto tokensType = MemRefType::get({tokens}, i32);
    auto logitsType =
        MemRefType::get({allLogits ? ShapedType::kDynamic : 1, cfg.vocab}, f32);
    func::FuncOp fn = startFunc(name, {tokensType, bytesType(), logitsType});
    Value toks = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get({tokens}, i32), fn.getArgument(0),
        /*restrict=*/true);
    Value x = embedTokens(toks, "embed");
    // Token-selective propagation shortens the prompt's later layers; not
    // when every token's logits are asked for.
    bool select = sel.propagates() && tokens != 1 && !allLogits;
    bool budgets = sel.budgets() && tokens != 1;
    Value positions, skipped;
    SmallVector<Value> scores;
    Value state = fn.getArgument(1);
    for (int64_t l = 0; l < cfg.layers; ++l) {
      // The layer names its weights and its cache's slot.
      Value li = arith::ConstantIndexOp::create(b, loc, l);
      if (budgets) {
        auto call =
            func::CallOp::create(b, loc, layerFunc(tokens, Layer::Scoring),
                                 ValueRange{li, x, state, li});
        x = call.getResult(0);
        scores.push_back(call.getResult(1));
      } else if (!select || l < sel.tspLayer) {
        x = func::CallOp::create(b, loc, layerFunc(tokens),
                                 ValueRange{li, x, state, li})
                .getResult(0);
      } else if (l == sel.tspLayer) {
        auto call =
            func::CallOp::create(b, loc, layerFunc(tokens, Layer::Selecting),
                                 ValueRange{li, x, state, li});
        Value n = tensor::DimOp::create(b, loc, call.getResult(0), 0);
        std::tie(x, positions) =
            propagateTokens(b, loc, call.getResult(0), call.getResult(2),
                            call.getResult(1), sel);
        skipped = arith::SubIOp::create(b, loc, n,
                                        tensor::DimOp::create(b, loc, x, 0));
      } else {
        x = func::CallOp::create(
                b, loc, layerFunc(tokens, Layer::Carried),
                ValueRange{li, x, positions, skipped, state, li})
                .getResult(0);
      }
    }
    // DynamicKV: every layer's rows, once all have been scored.
    if (budgets)
      chooseLayerRows(b, loc, scores, state, cacheType, sel);
    if (!allLogits)
      x = lastRow(x);
    Value logits = linear(rmsNorm(x, "norm"), "head");
    store(logits, fn.getArgument(2));
    endFunc(fn);
  }
};

} // namespace

llvm::Expected<LlamaModel>
seqc::buildLlama(MLIRContext *ctx, Checkpoint &ckpt, const LlamaConfig &cfg,
                 WeightFormat format, int64_t context, bool f16Cache,
                 std::optional<uint64_t> rotationSeed, WeightSink *sink,
                 const PrefillSelection &sel) {
  ctx->loadDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                   func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                   memref::MemRefDialect, scf::SCFDialect, seq::SeqDialect,
                   tensor::TensorDialect>();
  if (sel.propagates() && sel.budgets())
    return llvm::createStringError(
        "--kv-tsp-layer is FastKV's; DynamicKV (--kv-select=dynamickv) runs "
        "every layer on every token");
  if (sel.propagates() && sel.tspLayer >= cfg.layers - 1)
    return llvm::createStringError(llvm::formatv(
        "--kv-tsp-layer {0}: tokens are selected after a layer before the "
        "last (this model has {1} layers, 0 .. {2})",
        sel.tspLayer, cfg.layers, cfg.layers - 1));
  LlamaModel model;
  model.config = cfg;
  model.weights.sink = sink;
  model.context = context > 0 ? context : cfg.maxPositions;
  int64_t C = cfg.embd, F = cfg.ffn, V = cfg.vocab, D = cfg.headDim;
  if (llvm::Error e =
          checkQ4Widths(format, "LLaMA",
                        {{"hidden_size", C},
                         {"num_attention_heads * head_dim", cfg.heads * D},
                         {"intermediate_size", F}}))
    return std::move(e);
  if (llvm::Error e = checkWeightSource(format, ckpt))
    return std::move(e);
  std::optional<QuaRot> rot;
  if (rotationSeed) {
    auto r = QuaRot::get(cfg, *rotationSeed);
    if (!r)
      return r.takeError();
    rot.emplace(std::move(*r));
  }
  TensorReader reader{ckpt, "LLaMA"};
  auto get = [&](const std::string &name, std::vector<int64_t> shape) {
    return reader.get(name, std::move(shape));
  };
  // With the RMSNorm scales folded into the next projections.
  std::vector<float> ones(C, 1.0f);
  BlobWriter blob(model.weights);
  // A matrix read from the checkpoint's tensor `from`: stored as the
  // format says for that tensor, and, where the rotation leaves it as it
  // is, from the file's tensor (a GGUF block type the format keeps then
  // keeps its blocks).
  auto matrix = [&](const std::string &to, std::vector<int64_t> shape,
                    const std::vector<float> &values, const std::string &from) {
    const Tensor *tensor = ckpt.find(from);
    blob.add(to, std::move(shape), values, matrixDType(format, tensor),
             rot ? nullptr : tensor);
  };
  // The table stays f32: a token reads one row of it.
  std::vector<float> embed = get("model.embed_tokens.weight", {V, C});
  if (rot && !reader.failed())
    rot->readsResidual(embed, nullptr);
  blob.add("embed", {V, C}, embed, DType::F32);
  std::vector<float>().swap(embed); // Written: freed.
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string from = "model.layers." + std::to_string(l) + ".";
    std::string to = "layers." + std::to_string(l) + ".";
    std::vector<float> attnNorm = get(from + "input_layernorm.weight", {C});
    std::vector<float> wq =
        get(from + "self_attn.q_proj.weight", {cfg.heads * D, C});
    std::vector<float> wk =
        get(from + "self_attn.k_proj.weight", {cfg.kvHeads * D, C});
    std::vector<float> wv =
        get(from + "self_attn.v_proj.weight", {cfg.kvHeads * D, C});
    std::vector<float> wo =
        get(from + "self_attn.o_proj.weight", {C, cfg.heads * D});
    std::vector<float> mlpNorm =
        get(from + "post_attention_layernorm.weight", {C});
    std::vector<float> gate = get(from + "mlp.gate_proj.weight", {F, C});
    std::vector<float> up = get(from + "mlp.up_proj.weight", {F, C});
    std::vector<float> down = get(from + "mlp.down_proj.weight", {C, F});
    if (reader.failed()) // Stop at the first error.
      break;
    if (rot) {
      for (std::vector<float> *w : {&wq, &wk, &wv})
        rot->readsResidual(*w, &attnNorm);
      rot->rotatesValues(wv);
      rot->unrotatesValues(wo);
      rot->writesResidual(wo);
      rot->readsResidual(gate, &mlpNorm);
      rot->readsResidual(up, &mlpNorm);
      rot->writesResidual(down);
      attnNorm = mlpNorm = ones;
    }
    blob.add(to + "attn_norm", {C}, attnNorm, DType::F32);
    matrix(to + "wq", {cfg.heads * D, C}, wq, from + "self_attn.q_proj.weight");
    matrix(to + "wk", {cfg.kvHeads * D, C}, wk,
           from + "self_attn.k_proj.weight");
    matrix(to + "wv", {cfg.kvHeads * D, C}, wv,
           from + "self_attn.v_proj.weight");
    matrix(to + "wo", {C, cfg.heads * D}, wo, from + "self_attn.o_proj.weight");
    blob.add(to + "mlp_norm", {C}, mlpNorm, DType::F32);
    matrix(to + "w_gate", {F, C}, gate, from + "mlp.gate_proj.weight");
    matrix(to + "w_up", {F, C}, up, from + "mlp.up_proj.weight");
    matrix(to + "w_down", {C, F}, down, from + "mlp.down_proj.weight");
  }
  std::vector<float> norm = get("model.norm.weight", {C});
  bool tied = cfg.tiedEmbeddings || !ckpt.find("lm_head.weight");
  std::string headName = tied ? "model.embed_tokens.weight" : "lm_head.weight";
  std::vector<float> head = get(headName, {V, C});
  if (rot && !reader.failed()) {
    rot->readsResidual(head, &norm);
    norm = ones;
  }
  blob.add("norm", {C}, norm, DType::F32);
  matrix("head", {V, C}, head, headName);
  std::vector<float>().swap(head);
  if (reader.err)
    return std::move(reader.err);
  if (llvm::Error e = blob.takeError())
    return std::move(e);
  model.weights.pad(64);

  LlamaBuilder builder(ctx, cfg, model.weights, model.context, f16Cache, sel);
  model.module = builder.build();
  if (!model.module)
    return llvm::createStringError(
        "internal error: the layers' weights are not laid out uniformly");
  if (rot) {
    Builder b(ctx);
    mlir::seq::SeqDialect::FoldedRotationsAttrHelper(ctx).setAttr(
        model.module->getOperation(),
        b.getStrArrayAttr({"residual", "values"}));
  }
  if (failed(verify(*model.module)))
    return llvm::createStringError(
        "internal error: the built LLaMA module does not verify");
  return std::move(model);
}

//===----------------------------------------------------------------------===//
// Registry entry
//===----------------------------------------------------------------------===//

static llvm::Expected<seqc::ImportedModel>
importLlama(MLIRContext *ctx, llvm::StringRef path,
            const seqc::ImportOptions &options) {
  using namespace seqc;
  if (options.stateBits || options.stateRotate)
    return llvm::createStringError(
        std::string(options.stateBits ? "--state" : "--state-rotate") +
        " applies to recurrent models (RWKV, SpikeGPT); " + path +
        " is a LLaMA model, whose state is its KV caches (see --kv-bits)");
  bool gguf = path.ends_with(".gguf");
  auto ckpt = Checkpoint::open(gguf ? path.str() : llamaWeightsPath(path));
  if (!ckpt)
    return ckpt.takeError();
  auto cfg = gguf ? llamaConfigFromGguf(**ckpt) : readLlamaConfig(path);
  if (!cfg)
    return cfg.takeError();
  if (llvm::Error e = checkAgainstTensors(**ckpt, *cfg,
                                          gguf ? path.str() + ": GGUF metadata"
                                               : configPath(path)))
    return std::move(e);
  // The KV caches are sized by the context, a number from the config or the
  // command line: their bytes must be countable (2^48, far beyond any
  // machine, leaves the runtime's sums room).
  int64_t context = options.context > 0 ? options.context : cfg->maxPositions;
  std::optional<int64_t> cache =
      checkedProduct({context, cfg->layers, cfg->kvHeads, cfg->headDim, 2, 4});
  if (!cache || *cache > (int64_t(1) << 48))
    return llvm::createStringError(
        llvm::formatv("{0}: a context of {1} tokens makes KV caches of more "
                      "than 2^48 bytes; set a smaller --context",
                      path, context)
            .str());
  if (const Tensor *t =
          (*ckpt)->find("model.layers.0.self_attn.q_proj.weight")) {
    cfg->dtype = t->dtype;
    if (t->blocks)
      cfg->blockType = t->blocks->name;
  }
  cfg->prefillTokens = options.prefillTokens;
  auto built = buildLlama(ctx, **ckpt, *cfg, options.weights, options.context,
                          options.f16Cache, options.rotationSeed,
                          options.weightSink, options.selection);
  if (!built)
    return built.takeError();
  ImportedModel m = makeImportedModel("llama", *cfg, *built);
  m.context = built->context;
  return std::move(m);
}

const seqc::Architecture &seqc::getLlamaArchitecture() {
  static const Architecture arch = {
      "llama",
      "LLaMA decoders: Hugging Face safetensors + config.json, or GGUF",
      isLlamaModel, importLlama};
  return arch;
}
