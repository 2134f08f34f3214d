//===- RWKV.h - RWKV checkpoints to seq-dialect modules ---------*- C++ -*-===//
//
// Detects the RWKV version and hyperparameters of a checkpoint from its tensor
// names and shapes (official names, or the Hugging Face `rwkv.blocks.N...`
// layout, which is renamed to the official one), and builds a module with
// the model's entry points over a weight blob:
//
//   func.func @seqc_init_state(%state: memref<L x R x C x f32>)
//   func.func @seqc_step(%weights: memref<?xi8>, %tokens: memref<1xi32>,
//                        %state (read and written in place),
//                        %logits: memref<1xVxf32>)
//   func.func @seqc_prefill(..., %tokens: memref<?xi32>, ...,
//                           %logits: memref<1xVxf32>)   (last token)
//   func.func @seqc_prefill_all(..., %logits: memref<?xVxf32>)  (every token)
//
// The weights are never constants of the module: each is a memref.view of
// the blob at a fixed offset, so the runtime can map the blob from disk.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_RWKV_H
#define SEQC_IMPORT_RWKV_H

#include "seqc/Import/Checkpoint.h"
#include "seqc/Import/SpikeGPT.h"
#include "seqc/Import/WeightBlob.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace seqc {

struct ImportOptions;

struct RWKVConfig {
  int version = 0; // 4, 5, 6 or 7.
  /// RWKV-5: 0 (per-head decay, no gate), 1 (per-head decay, gate) or 2
  /// (per-channel decay, gate).
  int minor = 0;
  int64_t layers = 0, embd = 0, ffn = 0, vocab = 0;
  int64_t heads = 0, headSize = 0; // RWKV-5 and later.
  /// RWKV-5.0/5.1: the bonus is stored as time_first and used as its exp
  /// (the official package's rule when there is no time_faaaa).
  bool expTimeFirst = false;
  /// The epsilon of ln_x, the per-head GroupNorm of RWKV-5 and later (an
  /// import option: the official code uses 64e-5, some third-party
  /// checkpoints were trained with 1e-5).
  float lnXEps = 64e-5f;
  /// LoRA ranks (RWKV-6: mix, decay; RWKV-7: decay, a, value, gate).
  std::vector<std::pair<std::string, int64_t>> loraRanks;
  /// The checkpoint's element type (of its largest tensors).
  DType dtype = DType::F32;
  /// RWKV-4 with multiple temporal perspectives (arXiv 2402.02625): P > 0
  /// when the checkpoint has the combiner convert3.weight [P, C] (and
  /// time_mix tensors [P, 1, 1, C]); 0 for stock RWKV-4 and later versions.
  int64_t perspectives = 0;
  /// The WKV state kept quantized between tokens (an import option): codes
  /// of `stateBits` bits (0: the f32 state) in groups of `stateGroup`.
  unsigned stateBits = 0;
  int64_t stateGroup = 32;
  /// RWKV-5/6/7 with a quantized state: each head's values rotated by a
  /// Hadamard matrix in the state (an import option).
  bool stateRotate = false;
  /// seqc_prefill's token count (an import option): 0 for any.
  int64_t prefillTokens = 0;

  /// One line: "RWKV-4: 4 layers, width 128, ffn 512, vocab 256, f32".
  std::string describe() const;
  /// "RWKV-4", "RWKV-5.0", "RWKV-5.1", "RWKV-5" (5.2), "RWKV-6", "RWKV-7".
  std::string name() const;
};

/// Renames a Hugging Face layout to the official names, then detects the
/// version and hyperparameters from the tensors that carry them (every
/// layer present, every size a positive dimension of a tensor in the file);
/// buildRWKV checks the other tensors' shapes. Errors name the tensor, and
/// a layout that matches no version lists the signature tensors it has.
llvm::Expected<RWKVConfig> detectRWKV(Checkpoint &ckpt);

/// Whether `arch` (a GGUF general.architecture) is one of llama.cpp's RWKV
/// layouts that mapRWKVGguf reads: rwkv6, rwkv7.
bool isRWKVGgufArchitecture(llvm::StringRef arch);
/// Maps a GGUF file of llama.cpp's RWKV-6 / RWKV-7 layout onto the official
/// tensor names and shapes, undoing the converter's transforms (including
/// RWKV-6's per-block rescaling), so that detectRWKV and buildRWKV read it
/// as the official checkpoint.
llvm::Error mapRWKVGguf(Checkpoint &ckpt);

struct RWKVModel {
  RWKVConfig config;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  WeightBlob weights;
  /// The state's shape: layers x rows x width (f32).
  std::vector<int64_t> stateShape;
};

/// Builds the module and the blob. The module is verified. With `spiking`
/// (an RWKV-4 config, binaryEmbedding decided), the model is SpikeGPT's:
/// LIF neurons on both block outputs, their membranes and spike counts in
/// the state (SpikeGPTStateRow), and the residual rescaling. The blob's
/// bytes go to `sink` tensor by tensor (WeightBlob).
/// Checks --state and --state-group for `cfg` and sets its stateBits and
/// stateGroup; `format` becomes the manifest's state_format ("f32" or
/// "int8 group 32"). Errors name the flags and the reason.
llvm::Error applyStateOptions(mlir::MLIRContext *ctx, RWKVConfig &cfg,
                              const ImportOptions &options,
                              std::string &format);

llvm::Expected<RWKVModel> buildRWKV(mlir::MLIRContext *ctx, Checkpoint &ckpt,
                                    const RWKVConfig &config,
                                    WeightFormat format,
                                    const SpikeGPTOptions *spiking = nullptr,
                                    WeightSink *sink = nullptr);

} // namespace seqc

#endif // SEQC_IMPORT_RWKV_H
