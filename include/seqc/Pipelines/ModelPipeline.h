//===- ModelPipeline.h - the model-level pipeline ---------------*- C++ -*-===//
//
// What `seqc compile` does to an imported model before any target sees it:
// the KV-cache transformations (outlier balancing, low rank, Hadamard
// rotation, eviction, quantization), chosen by typed options. The same
// pipeline is registered as `seq-model-pipeline`, so `seqc-opt` and lit
// tests run exactly what the compiler runs.
//
// Options are checked by validate() before any pass runs; a bad combination
// is a clear error naming the flags, never a crash.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PIPELINES_MODELPIPELINE_H
#define SEQC_PIPELINES_MODELPIPELINE_H

#include "dialects/Seq/IR/SeqAttrs.h"
#include "passes/Transforms/Passes.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>

namespace mlir {
class OpPassManager;
class ModuleOp;
} // namespace mlir

namespace seqc {

/// The KV caches' storage: quantization (KIVI) and eviction.
struct KVCacheOptions {
  /// Bits per cached key and value: 16 (full precision), 8, 4, 3 or 2;
  /// keyBits / valueBits override it for one side (0: `bits`).
  unsigned bits = 16, keyBits = 0, valueBits = 0;
  /// Quantization group, full-precision window and sinks (tokens).
  int64_t group = 32, window = 32, sinks = 0;
  bool perTokenKeys = false, symmetric = false;
  /// Keep at most `budget` tokens per KV head (h2o and roco protect the
  /// `recent` most recent); with bits below 16, h2o and roco quantize
  /// instead of dropping (mixed precision).
  std::optional<mlir::seq::EvictPolicy> evict;
  int64_t budget = 0, recent = 0;

  unsigned getKeyBits() const { return keyBits ? keyBits : bits; }
  unsigned getValueBits() const { return valueBits ? valueBits : bits; }
  bool isQuantized() const {
    return getKeyBits() != 16 || getValueBits() != 16;
  }
};

/// Prefill-time selection: each prefill's rows compressed once, by the
/// observation-window score. FastKV's per-layer compression is the pass
/// seq-select-kv; DynamicKV's layer budgets are built into the model by the
/// importer (seqc::PrefillSelection), and so is FastKV's token-selective
/// propagation.
enum class KVSelectMethod { None, FastKV, DynamicKV };
struct KVSelectOptions {
  KVSelectMethod method = KVSelectMethod::None;
  /// FastKV: rows kept per KV head of a prompt, or (rate > 0) that fraction
  /// of it. DynamicKV: the mean rows per layer (`keep`; no rate).
  int64_t keep = 0;
  double rate = 0.0;
  int64_t window = 8, kernel = 7;
  mlir::seq::ScorePool pool = mlir::seq::ScorePool::Max;
  /// DynamicKV: a layer's first budget, in multiples of keep - window.
  double ratioMax = 10.0;

  bool enabled() const { return method != KVSelectMethod::None; }
};

/// Hadamard rotation of queries, keys and values around the caches.
struct KVRotationOptions {
  bool enabled = false;
  mlir::seq::KeyRotation keys = mlir::seq::KeyRotation::PostRope;
  /// KV heads sharing one key rotation (pre-RoPE only); unset: 1.
  std::optional<int64_t> groupHeads;
  /// Post-RoPE rotation by blocks of this many channels (0: the head).
  int64_t block = 0;
};

struct ModelPipelineOptions {
  KVCacheOptions kv;
  KVRotationOptions rotation;
  KVSelectOptions select;
  /// MiKV's outlier balancing with this alpha (needs calibration).
  std::optional<double> balance;
  /// EliteKV's joint low-rank latent of this rank (needs calibration with
  /// the covariance).
  std::optional<int64_t> rank;
  /// The module carries `seq.kv_calibration` (seqc compile
  /// --kv-calibration); post-RoPE rotation then reorders key channels.
  bool calibration = false;

  /// Checks the combination of options (the messages name seqc's flags).
  llvm::Error validate() const;
  /// Checks that the options apply to `module`: KV options need a model
  /// with KV caches (`model` names it in the message).
  llvm::Error validateFor(mlir::ModuleOp module, llvm::StringRef model) const;
  /// Whether any pass would run (nothing to do for a plain model).
  bool isEmpty() const;
};

/// --kv-evict's value: window, h2o or roco; empty: no eviction.
llvm::Expected<std::optional<mlir::seq::EvictPolicy>>
parseKVEvict(llvm::StringRef name);
/// --kv-select's value: fastkv or dynamickv; empty: no selection.
llvm::Expected<KVSelectMethod> parseKVSelect(llvm::StringRef name);
/// --kv-select-pool's value: avg or max.
llvm::Expected<mlir::seq::ScorePool> parseScorePool(llvm::StringRef name);
/// --rotate-kv-keys' value: post-rope or pre-rope.
llvm::Expected<mlir::seq::KeyRotation> parseKeyRotation(llvm::StringRef name);

/// Adds the model-level passes the options ask for; `options` must be valid.
void buildModelPipeline(mlir::OpPassManager &pm,
                        const ModelPipelineOptions &options);

/// Registers `seq-model-pipeline` with textual options named like seqc's
/// flags (kv-bits=2 rotate-kv=true ...).
void registerModelPipeline();

/// What every target's lowering does after its entry ABI: seq ops to
/// tensors, linalg and loops (temporal perspectives' head projected once,
/// recurrences, Hadamard rotations, KV caches). `parallelKVHeads`: every
/// KV heads' loop parallel with heap scratch (GPU targets).
void addSeqLoweringPasses(mlir::OpPassManager &pm,
                          bool parallelKVHeads = false);
/// One-shot bufferization across functions, results stored into a caller's
/// buffer computed there, and a function result that is its argument's
/// buffer (a state updated in place) dropped.
void addBufferizationPasses(mlir::OpPassManager &pm);

} // namespace seqc

#endif // SEQC_PIPELINES_MODELPIPELINE_H
