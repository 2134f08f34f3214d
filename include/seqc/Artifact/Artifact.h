//===- Artifact.h - the deployable artifact directory -----------*- C++ -*-===//
//
// What `seqc compile` writes and the runtime loads: a directory with the
// target's executable (model.so on the CPU), weights.bin (a 4096-byte header,
// then the weight blob, mapped read-only by the runtime) and manifest.json.
// The manifest is a list of `key value` lines; the executable embeds the
// same text, which is what the runtime reads, and manifest.json is its copy
// for people and tools.
//
// Every file is written through an exclusive temporary and a rename
// (OutputFile.h), so a failed compile never leaves a half-written artifact,
// and a directory that holds anything but an artifact is never written
// into. weights.bin's header records checksums of the blob and of model.so,
// which the runtime checks before it maps them.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_ARTIFACT_ARTIFACT_H
#define SEQC_ARTIFACT_ARTIFACT_H

#include "seqc/Artifact/OutputFile.h"
#include "seqc/Import/Importer.h"
#include "seqc/artifact.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace seqc {

/// The manifest: `key value` entries in the order they were added. The keys
/// are the runtime's (seqc/artifact.h), so writer and reader share one
/// definition.
class Manifest {
public:
  void add(artifact::Key key, const llvm::Twine &value) {
    add(artifact::keyName(key), value);
  }
  /// A key outside the shared list (tests, experiments): prefer the above.
  void add(llvm::StringRef key, const llvm::Twine &value);
  /// Adds `other`'s entries after these.
  void append(const Manifest &other);
  /// The value of `key`, if present.
  std::optional<llvm::StringRef> get(llvm::StringRef key) const;
  std::optional<llvm::StringRef> get(artifact::Key key) const {
    return get(artifact::keyName(key));
  }
  /// "key value\n" lines (the form embedded in the executable).
  std::string text() const;
  /// The same as a JSON object (numbers and lists of numbers unquoted).
  std::string json() const;

private:
  std::vector<std::pair<std::string, std::string>> entries;
};

/// What the manifest says of a model beyond its architecture: choices made
/// at import and in the model pipeline.
struct ModelDescription {
  WeightFormat weights = WeightFormat::F32;
  /// QuaRot's rotations folded into the weights with this seed.
  std::optional<uint64_t> weightsRotation;
  /// "none", "post-rope" or "pre-rope" (attention models).
  std::string kvRotation = "none";
  std::optional<int64_t> kvRank;
  /// Prefill-time selection (seq-select-kv), e.g. "fastkv keep=64 window=8
  /// kernel=7 pool=max"; empty: none.
  std::string kvSelect;
  /// bytes, world, neox or none.
  std::string tokenizer = "none";
};

/// Entries the target adds: `numerics` right after the weight format (how
/// the compiled code computes with the weights, e.g. int8 kernels), `runtime`
/// at the end (what the runtime must check before it runs the code).
struct TargetDescription {
  /// The runtime driver that runs the code (the manifest's `target`).
  std::string target;
  Manifest numerics, runtime;
};

/// The manifest of `model`, whose module has been through the model
/// pipeline (the KV caches' final types size the state).
llvm::Expected<Manifest> describeArtifact(const ImportedModel &model,
                                          const ModelDescription &description,
                                          const TargetDescription &target);

/// The layout the compiled code is built for, from its manifest: the
/// words of artifact::kCodeLayoutSymbol (the target embeds them next to the
/// manifest; the runtime checks the manifest against them).
std::array<uint64_t, artifact::kCodeLayoutWords>
codeLayout(const Manifest &manifest);

/// The tokenizer a vocabulary of `vocab` tokens implies (256: bytes, 65536:
/// RWKV World, 50277..50432: GPT-NeoX, else none).
llvm::StringRef defaultTokenizer(int64_t vocab);

/// FNV-1a of the blob: the id the runtime checks weights.bin against
/// (computed as the blob is made: WeightBlob::id).
uint64_t weightsId(const WeightBlob &weights);

/// The artifact directory.
class ArtifactWriter {
public:
  explicit ArtifactWriter(llvm::StringRef dir) : dir(dir.str()) {}

  /// Refuses a path that exists and is not a directory, or a directory
  /// holding files other than weights.bin, manifest.json and the target's
  /// `executables`. Call before long work.
  llvm::Error check(llvm::ArrayRef<llvm::StringRef> executables) const;
  /// Creates the directory.
  llvm::Error create() const;
  /// The path of `name` in the directory.
  std::string path(llvm::StringRef name) const;
  /// Writes `name` atomically.
  llvm::Error writeFile(llvm::StringRef name, llvm::StringRef contents) const;
  /// manifest.json.
  llvm::Error writeManifest(const Manifest &manifest) const;

  llvm::StringRef getDir() const { return dir; }

private:
  std::string dir;
};

/// weights.bin, written while the model is imported: the blob's bytes go,
/// as the importer makes them, to an exclusive temporary in the artifact
/// directory after room for the header; commit() writes the header
/// (format, id, size, checksums of the blob and of `executable`, the
/// artifact's file the runtime opens first) and renames the temporary to
/// weights.bin. So the compiler never holds the blob: its memory is the
/// largest tensor being converted, whatever the model's size.
///
/// create() makes the artifact directory (and its missing parents); a
/// WeightsFile destroyed without a commit removes its temporary and the
/// directories it made, if they are empty (a failed compile leaves nothing
/// behind).
class WeightsFile : public WeightSink {
public:
  static llvm::Expected<std::unique_ptr<WeightsFile>>
  create(const ArtifactWriter &artifact);
  ~WeightsFile() override;

  void write(llvm::ArrayRef<uint8_t> bytes) override;
  /// The first write failure (with the file's name and the cause), if any.
  llvm::Error takeError();
  /// Writes the header of `weights` (whose bytes are those written) and
  /// puts the file in place.
  llvm::Error commit(const WeightBlob &weights, uint64_t id,
                     std::optional<llvm::StringRef> executable = std::nullopt);

private:
  explicit WeightsFile(ArtifactWriter artifact)
      : artifact(std::move(artifact)) {}

  ArtifactWriter artifact;
  std::vector<std::string> madeDirs; // Deepest first.
  llvm::SmallString<256> tmp;
  int fd = -1;
  uint64_t written = 0;
  std::string failure;
  bool committed = false;
};

} // namespace seqc

#endif // SEQC_ARTIFACT_ARTIFACT_H
