//===- seqc/artifact.h - the artifact format, defined once ------*- C++ -*-===//
//
// An artifact written by `seqc compile` is a directory:
//
//   model.so       the compiled entries and the manifest, a text of
//                  "key value" lines in the symbol `seqc_manifest`
//   weights.bin    a 4096-byte header, then the weights blob
//   manifest.json  the manifest again, as JSON, for people and tools
//
// This header is the one definition of that format: the format version, the
// manifest keys, the weights header and the magic of saved session states.
// It is header-only and includes neither MLIR nor LLVM, so that the
// compiler's artifact writer (which links no runtime library) and the
// runtime (which links no compiler library) both include it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_ARTIFACT_H
#define SEQC_ARTIFACT_H

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace seqc {
namespace artifact {

/// The format this header describes. Format 2: every entry updates its state
/// in place (one state buffer per session).
constexpr int kFormatVersion = 2;

/// The manifest keys: X(Name, "key", "meaning"). Keys marked "attention"
/// are written for models with KV caches only; others as their meaning says.
/// Readers keep every line, so a key unknown to them is still readable.
#define SEQC_MANIFEST_KEYS(X)                                                  \
  X(Format, "seqc_artifact", "the artifact format version (kFormatVersion)")   \
  X(Model, "model", "the architecture (rwkv4, rwkv5, ..., llama)")             \
  X(Description, "description", "a one-line description of the checkpoint")    \
  X(Vocab, "vocab", "the number of logits per token")                          \
  X(StateShape, "state_shape",                                                 \
    "recurrent models: the state as f32 [layers, rows, width]")                \
  X(StateFormat, "state_format",                                               \
    "recurrent models whose WKV state is kept quantized: intB group G")        \
  X(Context, "context", "attention: the KV cache capacity in tokens")          \
  X(StateBytes, "state_bytes", "attention: the state's size in bytes")         \
  X(KVCache, "kv_cache", "attention: the !seq.kv_cache type of every layer")   \
  X(KVLayers, "kv_layers", "attention: the number of per-layer cache slots")   \
  X(KVSlotBytes, "kv_slot_bytes",                                              \
    "attention: bytes of one layer's slot; slot l is at l * kv_slot_bytes")    \
  X(KVRotation, "kv_rotation", "attention: the keys' rotation, or none")       \
  X(KVRank, "kv_rank", "attention: the rank of low-rank cached latents")       \
  X(KVSelect, "kv_select",                                                     \
    "attention: prefill-time selection (seq.kv_select); prompts are then "     \
    "fed in one call, not in chunks")                                          \
  X(KVDesc, "kv_desc",                                                         \
    "attention: the cache description (include/seqc/Support/KVLayout.h)")      \
  X(RopeTheta, "rope_theta", "attention: the RoPE base (an f32)")              \
  X(RopeStyle, "rope_style", "attention: half, interleaved or none")           \
  X(RopeRotaryDim, "rope_rotary_dim", "attention: channels RoPE rotates")      \
  X(KVBytesPerToken, "kv_bytes_per_token",                                     \
    "attention: cache bytes per token, all layers")                            \
  X(KVTokensFullPrecision, "kv_tokens_full_precision",                         \
    "attention: compressed scored caches, tokens kept in full precision")      \
  X(KVTokensKept, "kv_tokens_kept",                                            \
    "attention: tokens a scored or windowed cache keeps")                      \
  X(KVBytesPerFullToken, "kv_bytes_per_full_token",                            \
    "attention: bytes per token of an uncompressed cache, all layers")         \
  X(SpikeSites, "spike_sites",                                                 \
    "spiking models: the names of the layers' neuron sites (att ffn)")         \
  X(SpikeCountRows, "spike_count_rows",                                        \
    "spiking models: per site, the state row of each layer that counts its "   \
    "neurons' spikes since the state was initialized")                         \
  X(NeuroLayerMacs, "neuro_layer_macs",                                        \
    "neuro target: per layer, the dense host part's multiply-accumulates "     \
    "per token")                                                               \
  X(NeuroHeadMacs, "neuro_head_macs",                                          \
    "neuro target: multiply-accumulates per token outside the layers")         \
  X(NeuroSiteFanout, "neuro_site_fanout",                                      \
    "neuro target: per site, the accumulates one spike does downstream")       \
  X(EventCounters, "event_counters",                                           \
    "neuro target: the event code's counters (seqc_event_counters): 4 per "    \
    "population, then per layer and the head dense MACs")                      \
  X(WeightsFormat, "weights_format",                                           \
    "fp32, fp16, int8, q4, q5, q6, q8, q4k, q5k, q6k or gguf")                 \
  X(Int8Dot, "int8_dot", "the int8 and q4 products' kernel, when not none")    \
  X(ActivationBlock, "activation_block",                                       \
    "with int8_dot: activations are quantized per block of this many")         \
  X(WeightsRotation, "weights_rotation", "quarot SEED when rotated")           \
  X(WeightsBytes, "weights_bytes", "bytes of the blob after the header")       \
  X(TokenReadBytes, "token_read_bytes", "bytes one decoded token reads")       \
  X(TokenMatrixMacs, "token_matrix_macs",                                      \
    "multiply-adds of a token's matrix products (the weights but the "         \
    "embedding table)")                                                        \
  X(HeadMatrixMacs, "head_matrix_macs",                                        \
    "of those, the output head's (a prefill computes it for its last "         \
    "token only)")                                                             \
  X(WeightsId, "weights_id", "16 hex digits; weights.bin must carry the same") \
  X(WeightsChecksum, "weights_checksum",                                       \
    "xxh64:<16 hex digits>, XXH64 of the blob (seqc/Support/Checksum.h)")      \
  X(Tokenizer, "tokenizer", "bytes, world, neox or none")                      \
  X(Cpu, "cpu", "the CPU the code was compiled for")                           \
  X(CpuFeatures, "cpu_features",                                               \
    "the extensions the code uses, comma-separated (cpu_features.def)")        \
  X(VectorWidth, "vector_width",                                               \
    "the vector width, in bits, LLVM vectorized the loops for, when chosen")   \
  X(FloatPrefillLanes, "float_prefill_lanes",                                  \
    "f32 lanes of the weight panels of float prefill products (8 or 16), "     \
    "when they are used")                                                      \
  X(Target, "target", "the runtime driver that runs it; absent: cpu")          \
  X(Kernels, "kernels",                                                        \
    "kernel artifacts: the kernels' names, each described by its kernel.NAME " \
    "entry")                                                                   \
  X(VulkanProfile, "vulkan_profile",                                           \
    "vulkan: the device profile compiled for")                                 \
  X(SpirvVersion, "spirv_version",                                             \
    "vulkan: the SPIR-V version of the kernels")                               \
  X(CudaArch, "cuda_arch",                                                     \
    "cuda: the GPU architecture of the cubins (their PTX JIT-compiles on "     \
    "later ones)")                                                             \
  X(PrefillTokens, "prefill_tokens",                                           \
    "vulkan, cuda: the tokens of one seqc_prefill schedule (absent: prompts "  \
    "run token by token)")

enum class Key {
#define SEQC_MANIFEST_KEY_ENUM(name, key, meaning) name,
  SEQC_MANIFEST_KEYS(SEQC_MANIFEST_KEY_ENUM)
#undef SEQC_MANIFEST_KEY_ENUM
};

/// The manifest's spelling of a key.
inline const char *keyName(Key key) {
  switch (key) {
#define SEQC_MANIFEST_KEY_NAME(name, text, meaning)                            \
  case Key::name:                                                              \
    return text;
    SEQC_MANIFEST_KEYS(SEQC_MANIFEST_KEY_NAME)
#undef SEQC_MANIFEST_KEY_NAME
  }
  return "";
}

/// The target of an artifact whose manifest names none.
constexpr const char *kDefaultTarget = "cpu";

/// Kernel artifacts (`seqc compile KERNELS.mlir --target=vulkan`): the
/// executable kernels.bin is the line "SEQCSPV1 <manifest bytes>\n", the
/// manifest text, NUL padding to a multiple of 16 bytes, then the SPIR-V
/// modules. The manifest's `kernel.NAME` entries are space-separated
/// `field=value` pairs:
///   entry=E              the SPIR-V entry point
///   spirv=O+N            its module: N bytes at offset O after the padding
///   grid=X,Y,Z           workgroups dispatched
///   workgroup=X,Y,Z      invocations per workgroup
///   shared=B             bytes of workgroup memory
///   features=F,...       vulkan_features.def names it needs, or "none"
///   fallback_spirv=O+N   optional, with fallback_features: the same kernel
///   fallback_features=F,... without subgroup operations (launched with the
///                        same grid, workgroup, shared and bindings), which
///                        the runtime dispatches where the device lacks a
///                        feature of `features` (or SEQC_VULKAN_SUBGROUPS=0)
///   bindings=T:N:A:F,... set 0, binding i: element type (f32, f16, i8, i32,
///                        ...), element count, access (r, w or rw), and the
///                        kernel function's argument it is
///
/// The CUDA target (`--target=cuda`) writes the same file with the first
/// line "SEQCCUB1 <manifest bytes>\n" and, after the padding, each kernel's
/// cubin and PTX (each at a multiple of 16 bytes); its kernel.NAME entries
/// have the same fields but `spirv` and `features`, and instead:
///   cubin=O+N            the cubin for the manifest's cuda_arch
///   ptx=O+N              the PTX text (no NUL), for GPUs the cubin does not
///                        run on (the driver JIT-compiles it)
/// where grid is the blocks launched, workgroup the threads per block,
/// shared the static shared memory, and binding i the kernel's parameter i
/// (one device pointer).
constexpr const char *kKernelsFile = "kernels.bin";
constexpr const char *kKernelsMagic = "SEQCSPV1";
constexpr const char *kCudaKernelsMagic = "SEQCCUB1";
constexpr const char *kKernelKeyPrefix = "kernel.";

/// Model artifacts of the GPU targets: kernels.bin has the kernel table
/// above (kernels named k0, k1, ...; `grid` the dispatch's workgroups, and
/// each binding's argument its own index) and one `schedule.ENTRY` line per
/// entry (seqc_init_state, seqc_step):
///   args=B,...           the entry's buffers in order: weights, tokens,
///                        state, logits (init: state)
///   scratch=N            bytes of one scratch buffer the dispatches share
///   dispatch=K:B@O+N,... in order: kernel K, its binding i on N bytes of
///                        buffer B (an argument or `scratch`) at byte O, a
///                        multiple of 256
/// model.so carries the model's manifest only.
constexpr const char *kScheduleKeyPrefix = "schedule.";

/// The symbol of model.so that holds the manifest text.
constexpr const char *kManifestSymbol = "seqc_manifest";

/// Splits a manifest text into its "key value" lines (the value is the rest
/// of the line after the first space; lines without a space are skipped).
inline std::map<std::string, std::string> parseManifest(const char *text) {
  std::map<std::string, std::string> entries;
  while (text && *text) {
    const char *end = std::strchr(text, '\n');
    std::string line = end ? std::string(text, end - text) : std::string(text);
    text = end ? end + 1 : nullptr;
    size_t space = line.find(' ');
    if (space != std::string::npos)
      entries[line.substr(0, space)] = line.substr(space + 1);
  }
  return entries;
}

//===----------------------------------------------------------------------===//
// weights.bin
//===----------------------------------------------------------------------===//

/// The header's size; the blob follows it (page-aligned, so the runtime maps
/// the file and passes a pointer into it).
constexpr size_t kWeightsHeaderBytes = 4096;

/// What the header says. `checked` headers (written since the checksums
/// were added) also carry XXH64 checksums of the blob and of model.so, and
/// model.so's size, so that the runtime can check the library before
/// dlopen maps it (a truncated library faults inside dlopen) and the blob
/// before code reads it.
struct WeightsHeader {
  uint64_t id = 0, bytes = 0;
  bool checked = false;
  uint64_t payloadChecksum = 0, executableBytes = 0, executableChecksum = 0;
};

/// The header's text: "SEQCWTS1 0x<id as 16 hex digits> <blob bytes>", then
/// for checked headers " xxh64:<blob checksum> model.so <bytes>
/// xxh64:<checksum>", then "\n", padded with NUL bytes to
/// kWeightsHeaderBytes.
inline std::string formatWeightsHeader(const WeightsHeader &h) {
  char text[160];
  int n = std::snprintf(text, sizeof text, "SEQCWTS1 0x%016llx %llu",
                        (unsigned long long)h.id, (unsigned long long)h.bytes);
  if (h.checked)
    n += std::snprintf(text + n, sizeof text - n,
                       " xxh64:%016llx model.so %llu xxh64:%016llx",
                       (unsigned long long)h.payloadChecksum,
                       (unsigned long long)h.executableBytes,
                       (unsigned long long)h.executableChecksum);
  text[n++] = '\n';
  std::string header(kWeightsHeaderBytes, '\0');
  header.replace(0, (size_t)n, text, (size_t)n);
  return header;
}

inline std::string formatWeightsHeader(uint64_t id, uint64_t bytes) {
  WeightsHeader h;
  h.id = id;
  h.bytes = bytes;
  return formatWeightsHeader(h);
}

/// Reads a header (at least its first 160 bytes); false when it is not a
/// seqc weights header.
/// Reads the header formatWeightsHeader writes, and only that text: exactly
/// 16 hex digits for each id and checksum, plain decimal sizes that fit in
/// 64 bits, single spaces and the closing newline (so that no other text
/// reads as the same header, and no number is silently clamped).
inline bool parseWeightsHeader(const void *data, size_t size,
                               WeightsHeader &h) {
  char text[160] = {0};
  std::memcpy(text, data, size < sizeof text - 1 ? size : sizeof text - 1);
  const char *p = text;
  auto literal = [&](const char *word) {
    size_t n = std::strlen(word);
    if (std::strncmp(p, word, n) != 0)
      return false;
    p += n;
    return true;
  };
  auto hex16 = [&](unsigned long long &v) {
    v = 0;
    for (int i = 0; i < 16; ++i, ++p) {
      char c = *p;
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : -1;
      if (d < 0)
        return false;
      v = v << 4 | (unsigned)d;
    }
    return true;
  };
  auto decimal = [&](unsigned long long &v) {
    v = 0;
    const char *start = p;
    for (; *p >= '0' && *p <= '9'; ++p) {
      unsigned d = unsigned(*p - '0');
      if (v > (~0ull - d) / 10)
        return false;
      v = v * 10 + d;
    }
    // No empty number, no leading zero but "0" itself.
    return p != start && !(*start == '0' && p - start > 1);
  };
  unsigned long long i, b, pc, eb, ec;
  if (!literal("SEQCWTS1 0x") || !hex16(i) || !literal(" ") || !decimal(b))
    return false;
  h = WeightsHeader();
  h.id = i;
  h.bytes = b;
  if (literal("\n"))
    return true;
  if (!literal(" xxh64:") || !hex16(pc) || !literal(" model.so ") ||
      !decimal(eb) || !literal(" xxh64:") || !hex16(ec) || !literal("\n"))
    return false;
  h.checked = true;
  h.payloadChecksum = pc;
  h.executableBytes = eb;
  h.executableChecksum = ec;
  return true;
}

inline bool parseWeightsHeader(const void *data, size_t size, uint64_t &id,
                               uint64_t &bytes) {
  WeightsHeader h;
  if (!parseWeightsHeader(data, size, h))
    return false;
  id = h.id;
  bytes = h.bytes;
  return true;
}

/// The symbol of model.so that holds the layout the compiled code was built
/// for, as kCodeLayoutWords little-endian u64: the count of words that
/// follow, the state's bytes, the vocabulary, the weight blob's bytes. The
/// runtime checks the manifest against it, so an edited manifest cannot
/// make a session hand the code a smaller buffer than it writes.
constexpr const char *kCodeLayoutSymbol = "seqc_code_layout";
constexpr int kCodeLayoutWords = 4;

//===----------------------------------------------------------------------===//
// Saved session states
//===----------------------------------------------------------------------===//

/// The first bytes of a state saved by seqc_session_save; then the weights
/// id, the state's and the logits' float counts, the position (4 x u64),
/// the state and the logits.
constexpr char kStateMagic[8] = {'S', 'E', 'Q', 'C', 'S', 'T', 'A', '2'};

} // namespace artifact
} // namespace seqc

#endif // SEQC_ARTIFACT_H
