//===- Importer.cpp - checkpoints to seq-dialect modules ------------------===//

#include "seqc/Import/Importer.h"
#include "seqc/Import/Llama.h"
#include "seqc/Import/RWKV.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace llvm;

StringRef seqc::stringifyWeightFormat(WeightFormat format) {
  switch (format) {
  case WeightFormat::F32:
    return "fp32";
  case WeightFormat::F16:
    return "fp16";
  case WeightFormat::Int8:
    return "int8";
  case WeightFormat::Q4:
    return "q4";
  case WeightFormat::Q5:
    return "q5";
  case WeightFormat::Q6:
    return "q6";
  case WeightFormat::Q8:
    return "q8";
  case WeightFormat::Q4K:
    return "q4k";
  case WeightFormat::Q5K:
    return "q5k";
  case WeightFormat::Q6K:
    return "q6k";
  case WeightFormat::Gguf:
    return "gguf";
  }
  llvm_unreachable("unknown weight format");
}

std::optional<seqc::WeightFormat> seqc::symbolizeWeightFormat(StringRef name) {
  for (WeightFormat f :
       {WeightFormat::F32, WeightFormat::F16, WeightFormat::Int8,
        WeightFormat::Q4, WeightFormat::Q5, WeightFormat::Q6, WeightFormat::Q8,
        WeightFormat::Q4K, WeightFormat::Q5K, WeightFormat::Q6K,
        WeightFormat::Gguf})
    if (name == stringifyWeightFormat(f))
      return f;
  return std::nullopt;
}

const seqc::WeightBlob::Entry *seqc::WeightBlob::find(StringRef name) const {
  for (const Entry &e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

seqc::WeightSink::~WeightSink() = default;

void seqc::WeightBlob::append(ArrayRef<uint8_t> bytes) {
  // FNV-1a, one byte at a time (the id's definition).
  uint64_t h = id;
  for (uint8_t c : bytes)
    h = (h ^ c) * 1099511628211ull;
  id = h;
  checksum.update(bytes.data(), bytes.size());
  size += bytes.size();
  if (sink && !bytes.empty())
    sink->write(bytes);
}

void seqc::WeightBlob::pad(uint64_t align) {
  static const uint8_t zeros[64] = {};
  uint64_t n = (size + align - 1) / align * align - size;
  for (; n > 0; n -= std::min<uint64_t>(n, sizeof zeros))
    append(ArrayRef<uint8_t>(zeros, std::min<uint64_t>(n, sizeof zeros)));
}

ArrayRef<seqc::Architecture> seqc::architectures() {
  // Tried in this order: LLaMA claims a path by the config.json beside it,
  // SpikeGPT claims none (its tensors are RWKV-4's: only --arch=spikegpt
  // selects it), RWKV takes any other checkpoint (its version comes from
  // tensor names).
  static const Architecture registry[] = {
      getLlamaArchitecture(), getSpikeGPTArchitecture(), getRWKVArchitecture()};
  return registry;
}

Expected<seqc::ImportedModel> seqc::importModel(mlir::MLIRContext *ctx,
                                                StringRef path,
                                                const ImportOptions &options) {
  ArrayRef<Architecture> all = architectures();
  if (!options.arch.empty()) {
    const Architecture *named = find_if(
        all, [&](const Architecture &a) { return a.name == options.arch; });
    if (named == all.end()) {
      SmallVector<StringRef> names;
      for (const Architecture &a : all)
        names.push_back(a.name);
      return createStringError("--arch=" + options.arch + ": expected one of " +
                               join(names, ", "));
    }
    return named->build(ctx, path, options);
  }
  for (const Architecture &a : all)
    if (a.claims(path))
      return a.build(ctx, path, options);
  return createStringError(path + ": no architecture recognizes this model");
}
