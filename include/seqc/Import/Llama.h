//===- Llama.h - LLaMA checkpoints to seq-dialect modules -------*- C++ -*-===//
//
// Imports LLaMA-architecture decoders (Hugging Face LlamaForCausalLM:
// safetensors + config.json) and builds them into seq-dialect modules whose
// attention goes through a `!seq.kv_cache` per layer, kept in the model's
// state buffer.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_LLAMA_H
#define SEQC_IMPORT_LLAMA_H

#include "seqc/Import/Checkpoint.h"
#include "seqc/Import/Importer.h"
#include "seqc/Import/WeightBlob.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>

namespace seqc {

struct LlamaConfig {
  int64_t layers = 0, embd = 0, ffn = 0, vocab = 0;
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  int64_t maxPositions = 0;
  double rmsEps = 1e-5, ropeTheta = 10000.0;
  bool tiedEmbeddings = false;
  /// Rotary pairs (2i, 2i+1) instead of (i, i + d/2): GGUF files store q
  /// and k permuted for that pairing (llama.cpp's convention).
  bool interleavedRope = false;
  DType dtype = DType::F32;
  /// The GGML block type of the checkpoint's matrices ("q4_K"), if any.
  std::string blockType;
  /// seqc_prefill's token count (an import option): 0 for any.
  int64_t prefillTokens = 0;

  /// "LLaMA: 4 layers, width 128, 4 heads (2 KV) of 32, ffn 352, vocab 256,
  /// f32".
  std::string describe() const;
};

/// True when `path` names a LLaMA model: a directory with config.json, or a
/// safetensors file with a config.json beside it whose architecture is llama.
bool isLlamaModel(llvm::StringRef path);

/// Opens the model at `path` (directory or its model.safetensors) and reads
/// config.json; errors name the file and the missing or invalid field.
llvm::Expected<LlamaConfig> readLlamaConfig(llvm::StringRef path);
/// The same on the text of a config.json (`name` names it in messages):
/// the entry point of the fuzz harnesses.
llvm::Expected<LlamaConfig> parseLlamaConfig(llvm::StringRef name,
                                             llvm::StringRef text);

/// The safetensors file of the model at `path`.
std::string llamaWeightsPath(llvm::StringRef path);

/// The configuration of a GGUF checkpoint (architecture llama) from its
/// metadata; renames its tensors to the Hugging Face names.
llvm::Expected<LlamaConfig> llamaConfigFromGguf(Checkpoint &ckpt);

struct LlamaModel {
  LlamaConfig config;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  WeightBlob weights;
  /// KV cache capacity in tokens.
  int64_t context = 0;
};

/// Builds the model with full-precision KV caches of `context` tokens (0:
/// the config's max_position_embeddings) holding `kvElement` (f32 or f16);
/// `seq-compress-kv-cache` compresses them afterwards.
///
/// With `rotationSeed`, QuaRot's rotations are folded into the weights
/// before they are stored (and quantized): the RMSNorm scales into the
/// projections that read the normalized stream, a random orthogonal
/// Q = diag(±1)·H/√C (signs from the seed) into every weight that reads or
/// writes the residual stream (the embedding's rows and W_q/W_k/W_v,
/// W_gate/W_up, head: W·Q; W_o, W_down: Qᵀ·W), and the normalized Hadamard
/// matrix of the head size into W_v (values leave it rotated) and W_o (which
/// undoes it). The model computes the same function; the module records what
/// was folded as `seq.folded_rotations` (["residual", "values"]). An error when
/// the width or the head size has no Hadamard matrix. The blob's bytes go to
/// `sink` tensor by tensor (WeightBlob). With `sel` propagating tokens, the
/// prefill runs the layers after `sel.tspLayer` on the tokens it selects
/// (seqc_prefill only: seqc_prefill_all, whose every token has logits, runs
/// them all); with `sel` budgets, the caches hold every query head's keys
/// and values, and each prefill ends by choosing each layer's rows.
llvm::Expected<LlamaModel>
buildLlama(mlir::MLIRContext *ctx, Checkpoint &ckpt, const LlamaConfig &config,
           WeightFormat format, int64_t context, bool f16Cache,
           std::optional<uint64_t> rotationSeed = std::nullopt,
           WeightSink *sink = nullptr, const PrefillSelection &sel = {});

} // namespace seqc

#endif // SEQC_IMPORT_LLAMA_H
