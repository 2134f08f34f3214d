//===- SeqAttrs.td - seq dialect enums and attributes -----*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQATTRS_TD
#define SEQC_DIALECT_SEQ_SEQATTRS_TD

include "dialects/Seq/IR/SeqDialect.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/TensorEncoding.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Seq_ResetMode : I32EnumAttr<"ResetMode", "membrane reset after a spike", [
    I32EnumAttrCase<"Hard", 0, "hard">,
    I32EnumAttrCase<"Soft", 1, "soft">]> {
  let cppNamespace = "::mlir::seq";
  let genSpecializedAttr = 0;
}
def Seq_ResetModeAttr : EnumAttr<Seq_Dialect, Seq_ResetMode, "reset"> {
  let assemblyFormat = "`<` $value `>`";
  let summary = "membrane reset: `hard` sets v to v_reset, `soft` subtracts v_threshold";
}

def Seq_FireCmp : I32EnumAttr<"FireCmp", "comparison that decides a spike", [
    I32EnumAttrCase<"GE", 0, "ge">,
    I32EnumAttrCase<"GT", 1, "gt">]> {
  let cppNamespace = "::mlir::seq";
  let genSpecializedAttr = 0;
}
def Seq_FireCmpAttr : EnumAttr<Seq_Dialect, Seq_FireCmp, "fire"> {
  let assemblyFormat = "`<` $value `>`";
  let summary = "spike when `ge`: h >= threshold (SpikeGPT, SpikingJelly) or `gt`: h > threshold (NIR, Lava, snnTorch)";
}

def Seq_QuantMode : I32EnumAttr<"QuantMode", "quantization grid", [
    I32EnumAttrCase<"Symmetric", 0, "symmetric">,
    I32EnumAttrCase<"Asymmetric", 1, "asymmetric">]> {
  let cppNamespace = "::mlir::seq";
  let genSpecializedAttr = 0;
}

def Seq_RopeStyle : I32EnumAttr<"RopeStyle", "pairing of rotated channels", [
    I32EnumAttrCase<"Half", 0, "half">,
    I32EnumAttrCase<"Interleaved", 1, "interleaved">]> {
  let cppNamespace = "::mlir::seq";
  let genSpecializedAttr = 0;
}
def Seq_RopeStyleAttr : EnumAttr<Seq_Dialect, Seq_RopeStyle, "rope_style"> {
  let assemblyFormat = "`<` $value `>`";
  let summary = "`half` pairs channel i with i + d/2 (LLaMA, GPT-NeoX); `interleaved` pairs 2i with 2i+1 (GPT-J, RoFormer)";
}

def Seq_ScorePool : I32EnumAttr<"ScorePool", "pooling of token scores along the sequence", [
    I32EnumAttrCase<"Avg", 0, "avg">,
    I32EnumAttrCase<"Max", 1, "max">]> {
  let cppNamespace = "::mlir::seq";
  let genSpecializedAttr = 0;
}
def Seq_ScorePoolAttr : EnumAttr<Seq_Dialect, Seq_ScorePool, "pool"> {
  let assemblyFormat = "`<` $value `>`";
  let summary = "`avg` (zero padding counted, as avg_pool1d) or `max` (-inf padding)";
}

def Seq_EvictPolicy : I32EnumAttr<"EvictPolicy", "KV-cache eviction policy", [
    I32EnumAttrCase<"Window", 0, "window">,
    I32EnumAttrCase<"H2O", 1, "h2o">,
    I32EnumAttrCase<"RoCo", 2, "roco">]> {
  let cppNamespace = "::mlir::seq";
  let genSpecializedAttr = 0;
}
def Seq_EvictPolicyAttr : EnumAttr<Seq_Dialect, Seq_EvictPolicy, "evict"> {
  let assemblyFormat = "`<` $value `>`";
  let summary = "which tokens a full KV cache keeps: `window`, `h2o` or `roco`";
}

//===----------------------------------------------------------------------===//
// Quantization encoding
//===----------------------------------------------------------------------===//

def Seq_QuantEncodingAttr : AttrDef<Seq_Dialect, "QuantEncoding",
    [DeclareAttrInterfaceMethods<VerifiableTensorEncoding>]> {
  let mnemonic = "quant";
  let summary = "group-wise integer quantization: bit width, group size, axis, grid";
  let description = [{
    Describes how a tensor of real numbers is stored as `bits`-bit integer
    codes. Elements are split into groups of `group` consecutive elements
    along dimension `axis`; each group has its own scale `s` (stored as
    `scale`, f32 unless stated) and, for the asymmetric grid, its own zero
    point `z`:

    - symmetric: `q = clamp(round(x / s), -(2^(b-1) - 1), 2^(b-1) - 1)`,
      `s = max|x| / (2^(b-1) - 1)`, `x' = s * q` (codes are signed);
    - asymmetric: `q = clamp(round((x - m) / s), 0, 2^b - 1)`,
      `s = (max x - min x) / (2^b - 1)`, `m = min x`, `x' = s * q + m`
      (codes are unsigned; the zero point is stored as the real minimum `m`).

    A group whose range is zero gets `s = 1` and quantizes exactly. Rounding is
    to the nearest integer, ties away from zero.

    Used as the encoding of a builtin tensor whose element type is the
    signless integer `i<bits>`: `tensor<64x128xi4, #seq.quant<...>>` holds the
    codes, and its storage (packed codes, scales, zero points) is laid out by
    the lowering. `bits` is 2, 3, 4 or 8; `group` must divide the size of
    dimension `axis`.

    In a `!seq.kv_cache` type the axis refers to a head's `[tokens, head_dim]`
    view: `axis = 0` groups tokens (per-channel quantization, as KIVI does for
    keys) and `axis = 1` groups channels (per-token, as KIVI does for values).

    Syntax:
    ```
    #seq.quant<bits = 4, group = 32, axis = 1, asymmetric>
    #seq.quant<bits = 2, group = 64, axis = 0, symmetric, scale = f16>
    ```
  }];
  let parameters = (ins
    "unsigned":$bits,
    "int64_t":$group,
    "int64_t":$axis,
    "::mlir::seq::QuantMode":$mode,
    "::mlir::Type":$scaleType
  );
  let builders = [
    AttrBuilder<(ins "unsigned":$bits, "int64_t":$group, "int64_t":$axis,
                     "::mlir::seq::QuantMode":$mode)>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Largest code magnitude of the symmetric grid, or largest code of the
    /// asymmetric grid.
    int64_t getMaxCode() const;
    /// Smallest code of the grid.
    int64_t getMinCode() const;
    /// Number of groups of a tensor of the given shape (all dims static).
    int64_t getNumGroups(::llvm::ArrayRef<int64_t> shape) const;
  }];
}

//===----------------------------------------------------------------------===//
// Cached key forms
//===----------------------------------------------------------------------===//

def Seq_KeyFormAttr : AttrDef<Seq_Dialect, "KeyForm"> {
  let mnemonic = "key_form";
  let summary = "the form in which a KV cache stores its keys";
  let description = [{
    A `!seq.kv_cache` parameter (`key_form = ...`) for caches whose keys
    are stored in another form than the attention's dot products use, so
    that `seq.kv_attention` reads each cached key back, token by token:

    - `rotation_heads = G`: each group of `G` consecutive KV heads is stored
      rotated together, `[k_g0 .. k_g(G-1)] · Hᵀ` with `H` the normalized
      Hadamard matrix of order `G * head_dim` (as `seq.hadamard` builds
      it); the attention rotates the group's dequantized row back (`· H`).
      RotateKV's pre-RoPE grouped-head rotation (`seq-fuse-hadamard
      key-rotation=pre-rope`).
    - `rope_theta` (with `rope_style`, default `half`, and `rotary_dim`,
      default the whole head, as `seq.rope`'s attributes): the keys are
      stored before the rotary embedding; the attention applies it at the
      token's position. Positions are cache indices, so the cache must keep
      every token where it was appended (no eviction).
    - `latent_heads = N`: the cache stores per token one row of low-rank
      latents of the keys and values of `N` KV heads (`seq-low-rank-kv`,
      EliteKV); the attention's `latent_basis` operand rebuilds them, and
      `N` groups the query heads in place of the cache's one head.

    The parts combine (a latent of keys before RoPE, a rotated group of
    keys before RoPE), except a rotation of a latent. With any of them, a
    cache keeps its tokens by position, not by attention, and per-channel
    key groups are dequantized in full (their scale cannot be folded into
    the query).

    Syntax:
    ```
    #seq.key_form<rotation_heads = 2, rope_theta = 1.000000e+04 : f32>
    #seq.key_form<rope_theta = 5.000000e+05 : f32, rope_style = interleaved, rotary_dim = 32, latent_heads = 8>
    ```
  }];
  let parameters = (ins
    DefaultValuedParameter<"int64_t", "0">:$rotation_heads,
    OptionalParameter<"::mlir::FloatAttr">:$rope_theta,
    DefaultValuedParameter<"::mlir::seq::RopeStyle",
                           "::mlir::seq::RopeStyle::Half">:$rope_style,
    DefaultValuedParameter<"int64_t", "0">:$rotary_dim,
    DefaultValuedParameter<"int64_t", "0">:$latent_heads
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether the keys are stored before RoPE.
    bool hasRope() const { return bool(getRopeTheta()); }
    /// Whether the cache stores low-rank latents.
    bool isLatent() const { return getLatentHeads() > 0; }
    /// RoPE's rotated channels of heads of `headDim` channels.
    int64_t getRotaryDimOr(int64_t headDim) const {
      return getRotaryDim() ? getRotaryDim() : headDim;
    }
  }];
}

//===----------------------------------------------------------------------===//
// KV calibration
//===----------------------------------------------------------------------===//

def Seq_KVCalibrationAttr : AttrDef<Seq_Dialect, "KVCalibration"> {
  let mnemonic = "kv_calibration";
  let summary = "per-layer statistics of a model's keys and values";
  let description = [{
    What `seqc-run calibrate` measured over text, attached to a module as
    `seq.kv_calibration` by `seqc compile --kv-calibration` and read by the
    passes that need statistics:

    - `key_absmax` `[L, H, D]` f32: the largest |key| of each layer, KV head
      and channel, after RoPE (seq-balance-kv, seq-fuse-hadamard's channel
      reordering);
    - `kv_covariance` `[L, N, N]` f32 with `N = 2 x H x D`: the second moment
      of each token's keys before RoPE and values, concatenated
      (seq-low-rank-kv, which drops it once its bases are in the module).

    Both are optional; the verifier checks element types, ranks, finite
    values (non-negative for `key_absmax`), square covariances and that both
    describe the same number of layers. A layer's slice is found through the
    slot of its cache's `seq.kv_load`.

    Syntax:
    ```
    #seq.kv_calibration<key_absmax = dense<1.0> : tensor<2x1x8xf32>>
    ```
  }];
  let parameters = (ins
    OptionalParameter<"::mlir::DenseFPElementsAttr">:$key_absmax,
    OptionalParameter<"::mlir::DenseFPElementsAttr">:$kv_covariance
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name of the module attribute that holds it.
    static constexpr ::llvm::StringLiteral kAttrName = "seq.kv_calibration";
    /// `op`'s calibration (a module's), or null.
    static KVCalibrationAttr getFrom(::mlir::Operation *op) {
      return op->getAttrOfType<KVCalibrationAttr>(kAttrName);
    }
  }];
}

//===----------------------------------------------------------------------===//
// Weight table
//===----------------------------------------------------------------------===//

def Seq_WeightEntryAttr : AttrDef<Seq_Dialect, "WeightEntry"> {
  let mnemonic = "weight_entry";
  let summary = "where a tensor lies in the weight file, and its type";
  let description = [{
    One tensor of the weight file: its byte offset from the start of the
    file's data and its type (a static shape of f32, f16 or i8). The offset
    is a multiple of the element size, so that a view of the mapped file at
    it is aligned.

    Syntax:
    ```
    #seq.weight_entry<4096, tensor<128x128xf32>>
    ```
  }];
  let parameters = (ins "uint64_t":$offset, "::mlir::RankedTensorType":$type);
  let assemblyFormat = "`<` $offset `,` $type `>`";
  let genVerifyDecl = 1;
}

def Seq_WeightTableAttr : AttrDef<Seq_Dialect, "WeightTable"> {
  let mnemonic = "weight_table";
  let summary = "the layout of a model's weight file";
  let description = [{
    The importer's record of the weight file it wrote, attached to the
    module as `seq.weights`: every tensor by name (`entries`, a dictionary
    of `#seq.weight_entry`), and the prefix of the names that belong to a
    layer (`layer_root`: the weights named `<layer_root><l>.` are layer
    `l`'s). `seq.weight` references resolve through it; the bytes stay in
    the file.

    Syntax:
    ```
    #seq.weight_table<layer_root = "blocks.", entries = {
        emb = #seq.weight_entry<0, tensor<256x128xf32>>,
        "blocks.0.att.key" = #seq.weight_entry<131072, tensor<128x128xf32>>}>
    ```
  }];
  let parameters = (ins StringRefParameter<"prefix of layer weights">:$layer_root,
                        "::mlir::DictionaryAttr":$entries);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name of the module attribute that holds it.
    static constexpr ::llvm::StringLiteral kAttrName = "seq.weights";
    /// `op`'s table (a module's), or null.
    static WeightTableAttr getFrom(::mlir::Operation *op) {
      return op->getAttrOfType<WeightTableAttr>(kAttrName);
    }
    /// The entry `name`, or null.
    WeightEntryAttr lookup(::llvm::StringRef name) const {
      return ::llvm::dyn_cast_or_null<WeightEntryAttr>(getEntries().get(name));
    }
    /// The full name of `name` relative to layer `layer`.
    std::string layerName(int64_t layer, ::llvm::StringRef name) const {
      return (getLayerRoot() + ::llvm::Twine(layer) + "." + name).str();
    }
    /// The layer a full name belongs to, if any.
    std::optional<int64_t> layerOf(::llvm::StringRef name) const;
  }];
}

#endif // SEQC_DIALECT_SEQ_SEQATTRS_TD
