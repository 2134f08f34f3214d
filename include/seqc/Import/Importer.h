//===- Importer.h - checkpoints to seq-dialect modules ----------*- C++ -*-===//
//
// One entry point for every architecture: importModel() finds the
// architecture of a checkpoint (or takes the one the user names), builds the
// seq-dialect module and the weight blob, and returns what the rest of the
// compiler needs, whatever the architecture was.
//
// Architectures live in a small registry: each says whether it recognizes a
// path and how to build a model from it. A new architecture adds one entry
// (its own file in lib/Import and one line in Importer.cpp) and no branch in
// the tools.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_IMPORTER_H
#define SEQC_IMPORT_IMPORTER_H

#include "seqc/Import/SpikeGPT.h"
#include "seqc/Import/WeightBlob.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqc {

/// What the user decides at import: the storage of the weights and, for
/// attention models, the KV caches' capacity and element type and QuaRot's
/// weight rotation.
/// Prefill-time KV selection that changes how the model is built
/// (attention models); FastKV's per-layer compression alone is a pass
/// (seq-select-kv).
struct PrefillSelection {
  /// FastKV's token-selective propagation: after layer `tspLayer`, a
  /// prompt's later layers run on the tokens its last `window` queries
  /// attended to most in that layer (and those `window`), `tspKeep` of them
  /// or int(n * tspRate) of n, at their original positions. -1: none.
  int64_t tspLayer = -1;
  int64_t tspKeep = 0;
  double tspRate = 0.0;
  /// DynamicKV: caches per query head whose prompt rows are chosen, after
  /// the last layer, by layer-adaptive budgets of `budget` rows per layer
  /// on average (window included; seq.kv_budgets). 0: none.
  int64_t budget = 0;
  double ratioMax = 10.0;
  /// The window score's window and pooling (as --kv-select's).
  int64_t window = 8, kernel = 7;
  bool maxPool = true;

  bool propagates() const { return tspLayer >= 0; }
  bool budgets() const { return budget > 0; }
};

struct ImportOptions {
  /// An architecture's name (see architectures()); empty: detect it.
  std::string arch;
  WeightFormat weights = WeightFormat::F32;
  /// Attention models: KV cache capacity in tokens (0: the config's
  /// max_position_embeddings) and f16 instead of f32 cache entries.
  int64_t context = 0;
  bool f16Cache = false;
  /// Fold QuaRot's rotations into the weights with this seed (attention
  /// models only).
  std::optional<uint64_t> rotationSeed;
  /// Attention models: prefill-time selection built into the model.
  PrefillSelection selection;
  /// --arch=spikegpt: what its checkpoint cannot say.
  SpikeGPTOptions spikegpt;
  /// Recurrent models: keep the WKV state quantized between tokens, in codes
  /// of `stateBits` bits (0: f32) and groups of `stateGroup` values.
  unsigned stateBits = 0;
  int64_t stateGroup = 32;
  /// RWKV-5/6/7 with a quantized state: rotate each head's values by a
  /// Hadamard matrix before they enter the state.
  bool stateRotate = false;
  /// RWKV-5 and later: the epsilon of the ln_x GroupNorm.
  float lnXEps = 64e-5f;
  /// The token count of the seqc_prefill entry: 0 for any count (the
  /// CPU's), N > 0 for exactly N (the GPU targets', whose schedules are
  /// static: a prompt runs in chunks of N, the rest token by token).
  int64_t prefillTokens = 0;
  /// Where the weight blob's bytes go as they are made (the artifact's
  /// weights.bin); null: nowhere (the blob keeps its layout and checksums).
  WeightSink *weightSink = nullptr;
};

/// An imported model, whatever its architecture.
struct ImportedModel {
  /// "rwkv4" ... "rwkv7", "llama": the manifest's `model`.
  std::string arch;
  /// One line: "RWKV-4: 4 layers, width 128, ...".
  std::string description;
  int64_t vocab = 0, embd = 0, layers = 0;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  WeightBlob weights;
  /// Recurrent models: the f32 state's shape. Attention models: empty (the
  /// state is the layers' KV caches, sized after compression).
  std::vector<int64_t> stateShape;
  /// Recurrent models: how the WKV state is kept, "f32" or "int8 group 32"
  /// (the manifest's state_format).
  std::string stateFormat = "f32";
  /// Attention models: KV cache capacity in tokens.
  int64_t context = 0;
  /// Spiking models: the state row of each layer that counts each site's
  /// spikes, by site name ("att", "ffn").
  std::vector<std::pair<std::string, int64_t>> spikeCounters;

  bool hasKVCache() const { return stateShape.empty(); }
};

/// The ImportedModel of an architecture's `config` (with describe(), vocab,
/// embd and layers) and what its builder `built` (module, weights) made.
template <typename Config, typename Built>
ImportedModel makeImportedModel(std::string arch, const Config &config,
                                Built &built) {
  ImportedModel m;
  m.arch = std::move(arch);
  m.description = config.describe();
  m.vocab = config.vocab;
  m.embd = config.embd;
  m.layers = config.layers;
  m.module = std::move(built.module);
  m.weights = std::move(built.weights);
  return m;
}

/// One architecture of the registry.
struct Architecture {
  /// Name for --arch and in messages ("rwkv", "llama").
  llvm::StringRef name;
  llvm::StringRef summary;
  /// Whether `path` holds a model of this architecture, from what can be
  /// told cheaply (file names, a config beside the checkpoint). The first
  /// architecture that claims a path builds it.
  bool (*claims)(llvm::StringRef path);
  llvm::Expected<ImportedModel> (*build)(mlir::MLIRContext *ctx,
                                         llvm::StringRef path,
                                         const ImportOptions &options);
};

/// The registered architectures, in the order they are tried.
llvm::ArrayRef<Architecture> architectures();

/// Imports the model at `path`. The context must have the seq dialect and
/// the dialects the importers build with loaded. Errors name the file and
/// what is wrong with it.
llvm::Expected<ImportedModel> importModel(mlir::MLIRContext *ctx,
                                          llvm::StringRef path,
                                          const ImportOptions &options);

/// Moves the tables the model pipeline computed at compile time into
/// `model`'s weight blob: f32 tensor constants of at least `minBytes` (a
/// low-rank cache's basis) and the per-channel tables of
/// seq.scale_channels and seq.permute_channels (MiKV's balancing factors,
/// calibrated key orders, as f32). Each becomes an entry `const.<n>` of the
/// blob and of the module's weight table, read through `seq.weight`. Every
/// target then reads it as it reads weights (mapped on the CPU rather than
/// compiled into the executable; bound with the weights on the GPU
/// targets, whose schedules bind no module constants).
void moveConstantsToWeights(ImportedModel &model, int64_t minBytes = 0);

/// The registry entries of the architectures (defined in their own files).
const Architecture &getLlamaArchitecture();
const Architecture &getRWKVArchitecture();
const Architecture &getSpikeGPTArchitecture();

} // namespace seqc

#endif // SEQC_IMPORT_IMPORTER_H
