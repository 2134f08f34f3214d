//===- seqc.cpp - the seqc ahead-of-time compiler driver ------------------===//
//
//   seqc import MODEL [-o model.mlir] [--force]
//       Detects the architecture and prints the seq-dialect module.
//   seqc compile MODEL --target=cpu|neuro -o OUT
//       [--weights=fp32|fp16|int8|q8|q6|q5|q4|q4k|q5k|q6k|gguf]
//       [--emit=artifact|mlir|llvm|obj] [--cpu=NAME] [--tokenizer=...]
//       [--int8-dot=auto|none|avx2|avxvnni|avx512vnni] [--activation-block=N]
//       [--vector-width=auto|256|512]
//       [--context=N] [--kv-bits=16|8|4|3|2 --kv-group=G --kv-window=W ...]
//       [--force]
//       Builds a deployable artifact: a directory with the target's
//       executable (model.so on the CPU), weights.bin (mapped by the runtime,
//       never copied) and manifest.json; or one inspection file with --emit.
//       --target=neuro [--neuro-dt=S] adds model.nir (the LIF populations as
//       a NIR graph) to the CPU artifact of the host part.
//   seqc compile KERNELS.mlir --target=vulkan [--vulkan-profile=FILE] -o OUT
//       Compiles a kernel module (functions of loops on memrefs) to SPIR-V:
//       kernels.bin (manifest, kernel table, modules) and manifest.json.
//   seqc compile KERNELS.mlir --target=cuda [--cuda-arch=sm_90]
//       [--cuda-toolkit=DIR] -o OUT
//       The same for CUDA: kernels.bin holds each kernel's cubin and PTX.
//
// The driver only turns flags into options: import (lib/Import), the model
// pipeline (lib/Pipelines), the target (lib/Target/<target>) and the
// artifact (lib/Artifact) do the work.
//
//===----------------------------------------------------------------------===//

#include "Flags.h"

#include "seqc/Artifact/Artifact.h"
#include "seqc/Import/Calibration.h"
#include "seqc/Import/Importer.h"
#include "seqc/InitAll.h"
#include "seqc/Pipelines/ModelPipeline.h"
#include "seqc/Target/Target.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <csignal>

using namespace llvm;

namespace {

cl::OptionCategory seqcCat("seqc options");
cl::SubCommand importCmd("import",
                         "Print a checkpoint as a seq-dialect module");
cl::SubCommand compileCmd("compile", "Compile a checkpoint ahead of time");

cl::opt<std::string> importInput(cl::Positional, cl::desc("MODEL"),
                                 cl::Required, cl::sub(importCmd));
cl::opt<std::string> importOutput("o", cl::desc("Output file (default: -)"),
                                  cl::value_desc("file"), cl::init("-"),
                                  cl::sub(importCmd));

cl::opt<std::string>
    arch("arch",
         cl::desc("Architecture of the checkpoint (default: detected; the list "
                  "is in seqc --help)"),
         cl::init(""), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<std::string> compileInput(cl::Positional, cl::desc("MODEL"),
                                  cl::Required, cl::sub(compileCmd));
cl::opt<std::string> compileOutput("o",
                                   cl::desc("Output artifact directory "
                                            "(or file with --emit)"),
                                   cl::value_desc("path"), cl::Required,
                                   cl::sub(compileCmd));
cl::opt<bool> force("force",
                    cl::desc("Write over an existing file of another kind "
                             "(never over an input of the command)"),
                    cl::init(false), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<std::string> targetName("target",
                                cl::desc("Target (see the list below)"),
                                cl::init("cpu"), cl::sub(compileCmd));
enum class Emit { Artifact, MLIR, LLVM, Obj };
cl::opt<Emit>
    emit("emit", cl::desc("What to write"), cl::init(Emit::Artifact),
         cl::values(clEnumValN(Emit::Artifact, "artifact",
                               "deployable directory (default)"),
                    clEnumValN(Emit::MLIR, "mlir", "seq-dialect module"),
                    clEnumValN(Emit::LLVM, "llvm", "optimized LLVM IR"),
                    clEnumValN(Emit::Obj, "obj", "object file")),
         cl::sub(compileCmd));
cl::opt<seqc::WeightFormat> weights(
    "weights", cl::desc("Precision of the weight matrices"),
    cl::init(seqc::WeightFormat::F32),
    cl::values(clEnumValN(seqc::WeightFormat::F32, "fp32", "32-bit floats"),
               clEnumValN(seqc::WeightFormat::F16, "fp16",
                          "16-bit floats (computed in f32)"),
               clEnumValN(seqc::WeightFormat::Int8, "int8",
                          "8-bit integers, one f32 scale per output row"),
               clEnumValN(seqc::WeightFormat::Q4, "q4",
                          "4-bit integers, one f16 scale per 32 input "
                          "channels (GGML Q4_0's values)"),
               clEnumValN(seqc::WeightFormat::Q5, "q5",
                          "5-bit integers, one f16 scale per 32 input "
                          "channels (GGML Q5_0's values)"),
               clEnumValN(seqc::WeightFormat::Q6, "q6",
                          "6-bit integers, one f16 scale per 32 input "
                          "channels"),
               clEnumValN(seqc::WeightFormat::Q8, "q8",
                          "8-bit integers, one f16 scale per 32 input "
                          "channels (GGML Q8_0's values)"),
               clEnumValN(seqc::WeightFormat::Q4K, "q4k",
                          "4-bit integers, 6-bit scales and minima per 32 "
                          "input channels under f16 factors per 256 (GGML "
                          "Q4_K's values; a GGUF Q4_K tensor keeps its "
                          "blocks)"),
               clEnumValN(seqc::WeightFormat::Q5K, "q5k",
                          "5-bit integers, 6-bit scales and minima per 32 "
                          "input channels under f16 factors per 256 (GGML "
                          "Q5_K's values; a GGUF Q5_K tensor keeps its "
                          "blocks)"),
               clEnumValN(seqc::WeightFormat::Q6K, "q6k",
                          "6-bit integers, int8 scales per 16 input "
                          "channels under an f16 factor per 256 (GGML "
                          "Q6_K's values; a GGUF Q6_K tensor keeps its "
                          "blocks)"),
               clEnumValN(seqc::WeightFormat::Gguf, "gguf",
                          "GGUF files: each matrix in the format of its "
                          "tensor's type (Q4_0: q4, Q5_0: q5, Q8_0: q8, "
                          "Q4_K: q4k, Q5_K: q5k, Q6_K: q6k, F16/BF16: fp16, "
                          "F32: fp32; Q4_1, Q5_1: q8), blocks kept")),
    cl::sub(compileCmd));
cl::OptionCategory rotationCat("Rotation (attention models)");
cl::opt<bool> rotateWeights(
    "rotate-weights",
    cl::desc("Fold QuaRot's rotations into the weights before they are "
             "stored: the RMSNorm scales, a random Hadamard rotation of the "
             "residual stream, and a Hadamard rotation of each head's values "
             "(the model computes the same function; int8 weights and "
             "quantized value caches see no outlier channels)"),
    cl::init(false), cl::cat(rotationCat), cl::sub(importCmd),
    cl::sub(compileCmd));
cl::opt<uint64_t, false, seqc::IntFlag<uint64_t, 0, INT64_MAX>> rotationSeed(
    "rotation-seed", cl::desc("Seed of the residual rotation's random signs"),
    cl::init(0), cl::cat(rotationCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag>
    lnXEps("ln-x-eps",
           cl::desc("RWKV-5 and later: the epsilon of ln_x, the per-head group "
                    "norm (the official code uses 64e-5; some third-party "
                    "checkpoints were trained with 1e-5)"),
           cl::init(64e-5), cl::sub(importCmd), cl::sub(compileCmd));
cl::OptionCategory stateCat("Recurrent state (RWKV, SpikeGPT)");
/// --state: the bits of the WKV state's codes (0: f32).
enum class StateBits : unsigned { F32 = 0, Int4 = 4, Int8 = 8 };
cl::opt<StateBits> stateBits(
    "state",
    cl::desc("How the WKV state is kept between tokens (f32 by default)"),
    cl::init(StateBits::F32),
    cl::values(clEnumValN(StateBits::F32, "f32", "32-bit floats"),
               clEnumValN(StateBits::Int8, "int8",
                          "8-bit codes, one f32 scale per group of values "
                          "(RWKV-4 keeps the numerator in the mean form)"),
               clEnumValN(StateBits::Int4, "int4",
                          "4-bit codes, one f32 scale per group")),
    cl::cat(stateCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 1, 4096>> stateGroup(
    "state-group",
    cl::desc("With --state=int8|int4: values per scale, along the value axis"),
    cl::init(32), cl::cat(stateCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<bool> stateRotate(
    "state-rotate",
    cl::desc("With --state=int8|int4 on RWKV-5/6/7: rotate each head's "
             "values by a Hadamard matrix before they enter the state (and "
             "the output back), so that the state is quantized rotated"),
    cl::init(false), cl::cat(stateCat), cl::sub(importCmd),
    cl::sub(compileCmd));
cl::opt<std::string> int8Dot(
    "int8-dot",
    cl::desc("Kernel of the int8 weights' products: auto (the best the "
             "target CPU has), none (f32 activations), avx2, avxvnni or "
             "avx512vnni (integer dot products over int8-quantized "
             "activations)"),
    cl::init("auto"), cl::sub(compileCmd));
cl::opt<std::string> vectorWidth(
    "vector-width",
    cl::desc("Vector width LLVM vectorizes loops for: auto (512 bits where "
             "the target CPU has AVX-512F, else the CPU's default), 256 or "
             "512"),
    cl::init("auto"), cl::sub(compileCmd));
cl::opt<std::string> floatPrefill(
    "float-prefill",
    cl::desc("Kernel of prefill products with float weights: auto (panels "
             "where the target CPU has AVX2 and FMA, else tiles), panels "
             "(weight panels packed per chunk, vectors of the target's "
             "width) or tiles (scalar tiles of 4 rows x 4 tokens)"),
    cl::init("auto"), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 4, 4096>> activationBlock(
    "activation-block",
    cl::desc("Activation channels sharing one int8 scale in the integer "
             "kernels (a multiple of 4)"),
    cl::init(32), cl::sub(compileCmd));
cl::opt<std::string> cpu("cpu",
                         cl::desc("CPU to tune for (default: this machine's; "
                                  "'generic' for portable code)"),
                         cl::init("native"), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag>
    neuroDt("neuro-dt",
            cl::desc("--target=neuro: seconds of one step (token) on the "
                     "neuromorphic clock; NIR's LIF tau = tau_steps x this"),
            cl::init(1e-4), cl::sub(compileCmd));
cl::opt<std::string> vulkanProfile(
    "vulkan-profile",
    cl::desc("--target=vulkan: the device profile file (default: the "
             "checked-in lavapipe profile)"),
    cl::init(""), cl::sub(compileCmd));
cl::opt<std::string>
    cudaArch("cuda-arch",
             cl::desc("--target=cuda: the GPU architecture of the cubins "
                      "(default sm_90; the PTX also runs on later GPUs)"),
             cl::init("sm_90"), cl::sub(compileCmd));
cl::opt<std::string>
    cudaToolkit("cuda-toolkit",
                cl::desc("--target=cuda: the CUDA toolkit (default: "
                         "$CUDA_HOME, else /usr/local/cuda)"),
                cl::init(""), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 0, 4096>> prefillChunk(
    "prefill-chunk",
    cl::desc("--target=vulkan|cuda: the tokens of one prefill schedule; a "
             "prompt runs in chunks of this many, the rest token by token "
             "(default: the Vulkan profile's prefill_tokens, 16 for CUDA; "
             "0: every token through the step)"),
    cl::init(16), cl::sub(compileCmd));
cl::opt<std::string>
    tokenizer("tokenizer",
              cl::desc("Tokenizer recorded in the manifest: bytes, world or "
                       "neox, or none (default: from the vocabulary size)"),
              cl::init(""), cl::sub(compileCmd));

// Attention models (LLaMA): the KV cache. Flags that map one to one onto
// the model pipeline's options are stored there directly.
cl::OptionCategory kvCat("KV cache (attention models)");
seqc::ModelPipelineOptions pipelineFlags;
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 1, seqc::kMaxTokens>>
    context("context",
            cl::desc("KV cache capacity in tokens (default: the "
                     "config's max_position_embeddings)"),
            cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<unsigned, true, seqc::IntFlag<unsigned, 1, 16>>
    kvBits("kv-bits",
           cl::desc("Bits per cached key and value: 16 (full "
                    "precision, the default), 8, 4, 3 or 2"),
           cl::location(pipelineFlags.kv.bits), cl::init(16), cl::cat(kvCat),
           cl::sub(compileCmd));
cl::opt<unsigned, true, seqc::IntFlag<unsigned, 1, 16>>
    keyBits("key-bits", cl::desc("Bits per key (default: --kv-bits)"),
            cl::location(pipelineFlags.kv.keyBits), cl::init(0), cl::cat(kvCat),
            cl::sub(compileCmd));
cl::opt<unsigned, true, seqc::IntFlag<unsigned, 1, 16>>
    valueBits("value-bits", cl::desc("Bits per value (default: --kv-bits)"),
              cl::location(pipelineFlags.kv.valueBits), cl::init(0),
              cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 1, seqc::kMaxChannels>>
    kvGroup("kv-group", cl::desc("Quantization group size"),
            cl::location(pipelineFlags.kv.group), cl::init(32), cl::cat(kvCat),
            cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 0, seqc::kMaxTokens>>
    kvWindow("kv-window", cl::desc("Most recent tokens kept at full precision"),
             cl::location(pipelineFlags.kv.window), cl::init(32),
             cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 0, seqc::kMaxTokens>>
    kvSinks("kv-sinks", cl::desc("Leading tokens kept at full precision"),
            cl::location(pipelineFlags.kv.sinks), cl::init(0), cl::cat(kvCat),
            cl::sub(compileCmd));
cl::opt<bool, true>
    kvPerTokenKeys("kv-per-token-keys",
                   cl::desc("Group keys per token instead of per "
                            "channel (KIVI groups keys per channel)"),
                   cl::location(pipelineFlags.kv.perTokenKeys), cl::init(false),
                   cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<bool, true>
    kvSymmetric("kv-symmetric",
                cl::desc("Symmetric quantization grid (no zero point)"),
                cl::location(pipelineFlags.kv.symmetric), cl::init(false),
                cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<std::string>
    kvEvict("kv-evict",
            cl::desc("Keep at most --kv-budget tokens per KV head: window "
                     "(the --kv-sinks first and the most recent), h2o "
                     "(sinks, --kv-recent most recent and the most attended) "
                     "or roco (the same by mean attention). With h2o or roco "
                     "and --kv-bits below 16 the other tokens are quantized "
                     "to --kv-bits instead of dropped (mixed precision, "
                     "MiKV)"),
            cl::init(""), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 1, seqc::kMaxTokens>>
    kvBudget("kv-budget",
             cl::desc("Tokens per KV head an evicting cache "
                      "keeps (at full precision)"),
             cl::location(pipelineFlags.kv.budget), cl::init(0), cl::cat(kvCat),
             cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 0, seqc::kMaxTokens>>
    kvRecent("kv-recent",
             cl::desc("Tokens h2o and roco protect: the most "
                      "recent ones (roco: at most 10 by "
                      "recency, the rest by attention "
                      "variance)"),
             cl::location(pipelineFlags.kv.recent), cl::init(0), cl::cat(kvCat),
             cl::sub(compileCmd));
cl::opt<std::string> kvSelect(
    "kv-select",
    cl::desc("Compress each prompt's KV rows once, at the end of its "
             "prefill (decode then appends without evicting): fastkv "
             "(FastKV's per-layer compression: per KV head, the prompt "
             "tokens the last --kv-select-window queries attend to most, "
             "scores summed over the query heads of the group, and that "
             "window) or dynamickv (DynamicKV: caches per query head, each "
             "layer's rows from budgets spread over the layers by their "
             "scores, --kv-select-keep rows per layer on average)"),
    cl::init(""), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 1, seqc::kMaxTokens>>
    kvSelectKeep("kv-select-keep",
                 cl::desc("With --kv-select: rows each KV head keeps of a "
                          "prompt, window included"),
                 cl::location(pipelineFlags.select.keep), cl::init(0),
                 cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag> kvSelectRate(
    "kv-select-rate",
    cl::desc("With --kv-select, instead of --kv-select-keep: the fraction "
             "of a prompt's tokens kept (FastKV's proportional mode)"),
    cl::init(0.0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 1, seqc::kMaxTokens>>
    kvSelectWindow("kv-select-window",
                   cl::desc("With --kv-select: the observation window (the "
                            "last queries of a prompt, whose attention "
                            "scores the others; always kept)"),
                   cl::location(pipelineFlags.select.window), cl::init(8),
                   cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 1, 255>> kvSelectKernel(
    "kv-select-kernel",
    cl::desc("With --kv-select: the pooling kernel of the scores (odd)"),
    cl::location(pipelineFlags.select.kernel), cl::init(7), cl::cat(kvCat),
    cl::sub(compileCmd));
cl::opt<std::string>
    kvSelectPool("kv-select-pool",
                 cl::desc("With --kv-select: pooling of the scores along "
                          "the prompt, max (FastKV) or avg"),
                 cl::init("max"), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag> kvSelectRatioMax(
    "kv-select-ratio-max",
    cl::desc("With --kv-select=dynamickv: every layer first keeps this many "
             "times --kv-select-keep minus the window (DynamicKV's "
             "radio_max)"),
    cl::init(10.0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 0, 1 << 20>> kvTspLayer(
    "kv-tsp-layer",
    cl::desc("With --kv-select: FastKV's token-selective propagation after "
             "this layer (0-based): the prompt's later layers run on the "
             "tokens that layer's window score ranks highest and the window, "
             "at their positions (the prefill that returns the last logits "
             "only; seqc_session_prefill_all runs every token)"),
    cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 1, seqc::kMaxTokens>>
    kvTspKeep("kv-tsp-keep",
              cl::desc("With --kv-tsp-layer: tokens carried on, window "
                       "included"),
              cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag>
    kvTspRate("kv-tsp-rate",
              cl::desc("With --kv-tsp-layer, instead of --kv-tsp-keep: the "
                       "fraction of the prompt's tokens carried on"),
              cl::init(0.0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<bool, true>
    rotateKV("rotate-kv",
             cl::desc("Rotate queries, keys and values by Hadamard "
                      "matrices around the KV caches "
                      "(seq-fuse-hadamard; the model computes the "
                      "same function)"),
             cl::location(pipelineFlags.rotation.enabled), cl::init(false),
             cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<std::string> rotateKVKeys(
    "rotate-kv-keys",
    cl::desc("With --rotate-kv, where keys are rotated: post-rope (with the "
             "queries, per head; the default) or pre-rope (RotateKV: before "
             "RoPE, --rotate-kv-heads KV heads together; the cache holds "
             "keys before RoPE, rotated back and RoPE-d when read)"),
    cl::init("post-rope"), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 1, 1024>> rotateKVHeads(
    "rotate-kv-heads",
    cl::desc("KV heads that share one key rotation with "
             "--rotate-kv-keys=pre-rope (a Hadamard matrix of order heads x "
             "head_dim)"),
    cl::init(1), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, true, seqc::IntFlag<int64_t, 1, seqc::kMaxChannels>>
    rotateKVBlock(
        "rotate-kv-block",
        cl::desc("With --rotate-kv (post-rope), rotate queries and keys by "
                 "Hadamard blocks of this many channels instead of the whole "
                 "head"),
        cl::location(pipelineFlags.rotation.block), cl::init(0), cl::cat(kvCat),
        cl::sub(compileCmd));
cl::opt<std::string> kvCalibration(
    "kv-calibration",
    cl::desc("Calibration statistics (`seqc-run calibrate` writes them) for "
             "--kv-balance, --kv-rank (written with --covariance) and, with "
             "--rotate-kv (post-rope), reordering query and key channels "
             "before their rotation: each head's channels dealt to the "
             "Hadamard blocks in zigzag order of their largest magnitude"),
    cl::init(""), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag> kvBalance(
    "kv-balance",
    cl::desc("With --kv-calibration, divide key channels and multiply the "
             "queries' by (largest |key| / its RMS over the head)^ALPHA "
             "before the cache (seq-balance-kv, MiKV's outlier balancing; "
             "ALPHA in [0, 1])"),
    cl::init(-1.0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 1, seqc::kMaxChannels>> kvRank(
    "kv-rank",
    cl::desc("With --kv-calibration, cache per token RANK coordinates of its "
             "keys (before RoPE) and values in the principal directions of "
             "the calibration's joint K/V covariance (seq-low-rank-kv, "
             "EliteKV's joint low-rank projection; RANK even, at most 2 x KV "
             "heads x head_dim; --kv-bits then quantizes the latent)"),
    cl::init(0), cl::cat(kvCat), cl::sub(compileCmd));
cl::opt<bool> kvF16("kv-f16",
                    cl::desc("Keep full-precision cache entries in f16 "
                             "instead of f32"),
                    cl::init(false), cl::cat(kvCat), cl::sub(compileCmd));

// SpikeGPT (--arch=spikegpt): what its checkpoint cannot say. Defaults: the
// official RNN-mode inference (model_run.py).
cl::OptionCategory spikeCat("SpikeGPT (--arch=spikegpt)");
enum class Tristate { Auto, On, Off };
cl::opt<Tristate> binaryEmbedding(
    "binary-embedding",
    cl::desc("Binarize the embedding (e >= 0) before ln0, as SpikeGPT's "
             "training does"),
    cl::init(Tristate::Auto),
    cl::values(clEnumValN(Tristate::Auto, "auto",
                          "on exactly for a 77-symbol vocabulary, as "
                          "model_run.py (default)"),
               clEnumValN(Tristate::On, "on", "always"),
               clEnumValN(Tristate::Off, "off", "never")),
    cl::cat(spikeCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 0, seqc::kMaxChannels>>
    rescaleEvery(
        "rescale-every",
        cl::desc(
            "Halve the residual after every N-th layer and divide layer i's "
            "att.output and ffn.value weights by 2^(i/N) (0: off)"),
        cl::init(6), cl::cat(spikeCat), cl::sub(importCmd),
        cl::sub(compileCmd));
cl::opt<int64_t, false, seqc::IntFlag<int64_t, 0, seqc::kMaxChannels>>
    spikeLayers(
        "layers",
        cl::desc("Layers the checkpoint must have (n_layer; default: what it "
                 "has)"),
        cl::init(0), cl::cat(spikeCat), cl::sub(importCmd),
        cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag>
    lifTau("lif-tau", cl::desc("LIF membrane time constant"), cl::init(2.0),
           cl::cat(spikeCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag>
    lifThreshold("lif-threshold", cl::desc("LIF firing threshold"),
                 cl::init(1.0), cl::cat(spikeCat), cl::sub(importCmd),
                 cl::sub(compileCmd));
cl::opt<double, false, seqc::RealFlag>
    lifReset("lif-reset", cl::desc("LIF reset potential"), cl::init(0.0),
             cl::cat(spikeCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<mlir::seq::ResetMode> lifResetMode(
    "lif-reset-mode", cl::desc("After a spike"),
    cl::init(mlir::seq::ResetMode::Hard),
    cl::values(clEnumValN(mlir::seq::ResetMode::Hard, "hard",
                          "the membrane becomes --lif-reset (default)"),
               clEnumValN(mlir::seq::ResetMode::Soft, "soft",
                          "the threshold is subtracted")),
    cl::cat(spikeCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<bool> lifDecayInput(
    "lif-decay-input",
    cl::desc("The input is divided by tau too (SpikingJelly's decay_input)"),
    cl::init(true), cl::cat(spikeCat), cl::sub(importCmd), cl::sub(compileCmd));
cl::opt<mlir::seq::FireCmp>
    lifFire("lif-fire", cl::desc("When a neuron fires"),
            cl::init(mlir::seq::FireCmp::GE),
            cl::values(clEnumValN(mlir::seq::FireCmp::GE, "ge",
                                  "membrane >= threshold (SpikeGPT, default)"),
                       clEnumValN(mlir::seq::FireCmp::GT, "gt",
                                  "membrane > threshold (NIR)")),
            cl::cat(spikeCat), cl::sub(importCmd), cl::sub(compileCmd));

auto startTime = std::chrono::steady_clock::now();

void progress(const Twine &msg) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           startTime)
                 .count();
  errs() << formatv("seqc: [{0,5:f1}s] ", s) << msg << "\n";
}

int fail(const Twine &msg) {
  WithColor::error(errs(), "seqc") << msg << "\n";
  return 1;
}

int fail(Error err) { return fail(toString(std::move(err))); }

/// SpikeGPT's flags given without --arch=spikegpt: the first one's name.
std::optional<std::string> strayArchFlag() {
  if (arch == "spikegpt")
    return std::nullopt;
  for (cl::Option *o : std::initializer_list<cl::Option *>{
           &binaryEmbedding, &rescaleEvery, &spikeLayers, &lifTau,
           &lifThreshold, &lifReset, &lifResetMode, &lifDecayInput, &lifFire})
    if (o->getNumOccurrences())
      return ("--" + o->ArgStr).str();
  return std::nullopt;
}

seqc::ImportOptions importOptions(seqc::WeightFormat format) {
  seqc::ImportOptions o;
  o.arch = arch;
  o.weights = format;
  o.context = context;
  o.f16Cache = kvF16;
  if (rotateWeights)
    o.rotationSeed = rotationSeed;
  seqc::PrefillSelection &sel = o.selection;
  sel.window = kvSelectWindow;
  sel.kernel = kvSelectKernel;
  sel.maxPool = kvSelectPool == "max";
  if (kvTspLayer.getNumOccurrences()) {
    sel.tspLayer = kvTspLayer;
    sel.tspKeep = kvTspKeep;
    sel.tspRate = kvTspRate;
  }
  if (kvSelect == "dynamickv") {
    sel.budget = kvSelectKeep;
    sel.ratioMax = kvSelectRatioMax;
  }
  seqc::SpikeGPTOptions &spk = o.spikegpt;
  if (binaryEmbedding != Tristate::Auto)
    spk.binaryEmbedding = binaryEmbedding == Tristate::On;
  spk.rescaleEvery = rescaleEvery;
  spk.layers = spikeLayers;
  spk.tau = lifTau;
  spk.vThreshold = lifThreshold;
  spk.vReset = lifReset;
  spk.hardReset = lifResetMode == mlir::seq::ResetMode::Hard;
  spk.decayInput = lifDecayInput;
  spk.fireGE = lifFire == mlir::seq::FireCmp::GE;
  o.lnXEps = (float)lnXEps;
  o.stateBits = static_cast<unsigned>(stateBits.getValue());
  o.stateGroup = stateGroup;
  o.stateRotate = stateRotate;
  return o;
}

/// The model pipeline's options: the flags stored in pipelineFlags, and the
/// ones that need parsing.
Expected<seqc::ModelPipelineOptions> modelPipelineOptions() {
  seqc::ModelPipelineOptions o = pipelineFlags;
  auto evict = seqc::parseKVEvict(kvEvict);
  if (!evict)
    return evict.takeError();
  o.kv.evict = *evict;
  auto select = seqc::parseKVSelect(kvSelect);
  if (!select)
    return select.takeError();
  o.select.method = *select;
  o.select.ratioMax = kvSelectRatioMax;
  if (kvSelectRate.getNumOccurrences())
    o.select.rate = kvSelectRate;
  auto pool = seqc::parseScorePool(kvSelectPool);
  if (!pool)
    return pool.takeError();
  o.select.pool = *pool;
  auto keys = seqc::parseKeyRotation(rotateKVKeys);
  if (!keys)
    return keys.takeError();
  o.rotation.keys = *keys;
  if (rotateKVHeads.getNumOccurrences())
    o.rotation.groupHeads = rotateKVHeads;
  if (kvBalance.getNumOccurrences())
    o.balance = kvBalance;
  if (kvRank.getNumOccurrences())
    o.rank = kvRank;
  o.calibration = !kvCalibration.empty();
  if (Error e = o.validate())
    return std::move(e);
  bool tsp = kvTspLayer.getNumOccurrences();
  if (!tsp && (kvTspKeep.getNumOccurrences() || kvTspRate.getNumOccurrences()))
    return createStringError("--kv-tsp-keep and --kv-tsp-rate need "
                             "--kv-tsp-layer");
  if (tsp) {
    if (o.select.method != seqc::KVSelectMethod::FastKV || o.select.rate > 0.0)
      return createStringError(
          "--kv-tsp-layer needs --kv-select=fastkv with --kv-select-keep "
          "(FastKV rescales proportional budgets after the selecting layer; "
          "seqc keeps the same number of rows in every layer)");
    if (kvTspKeep.getNumOccurrences() == kvTspRate.getNumOccurrences())
      return createStringError("--kv-tsp-layer needs one of --kv-tsp-keep "
                               "and --kv-tsp-rate");
    if (kvTspKeep.getNumOccurrences() && kvTspKeep <= o.select.window)
      return createStringError(
          formatv("--kv-tsp-keep ({0}) must exceed --kv-select-window ({1}), "
                  "which is always carried on",
                  (int64_t)kvTspKeep, o.select.window)
              .str());
    if (kvTspRate.getNumOccurrences() && !(kvTspRate > 0.0 && kvTspRate <= 1.0))
      return createStringError("--kv-tsp-rate must be in (0, 1], got " +
                               std::to_string(kvTspRate));
  }
  return o;
}

std::unique_ptr<mlir::MLIRContext>
makeContext(const seqc::TargetBackend *target) {
  mlir::DialectRegistry registry;
  seqc::registerAllDialects(registry);
  if (target)
    target->registerDialects(registry);
  auto ctx = std::make_unique<mlir::MLIRContext>(registry);
  ctx->loadAllAvailableDialects();
  return ctx;
}

/// The rules for the output file of `kind` (OutputFile.h).
seqc::OutputPolicy outputPolicy(seqc::OutputKind kind,
                                std::vector<std::string> inputs) {
  seqc::OutputPolicy p;
  p.kind = kind;
  p.inputs = std::move(inputs);
  if (!kvCalibration.empty())
    p.inputs.push_back(kvCalibration);
  p.force = force;
  return p;
}

int runImport() {
  if (auto flag = strayArchFlag())
    return fail(*flag + " applies to SpikeGPT: give --arch=spikegpt");
  if (stateGroup.getNumOccurrences() && stateBits == StateBits::F32)
    return fail("--state-group applies to a quantized state: give "
                "--state=int8 or --state=int4");
  auto policy = outputPolicy(seqc::OutputKind::MLIR, {importInput});
  if (importOutput != "-")
    if (Error e = seqc::checkOutputFile(importOutput, policy))
      return fail(std::move(e));
  auto ctx = makeContext(nullptr);
  auto model = seqc::importModel(ctx.get(), importInput,
                                 importOptions(seqc::WeightFormat::F32));
  if (!model)
    return fail(model.takeError());
  std::string text;
  raw_string_ostream os(text);
  os << "// " << model->description << "\n";
  model->module->print(os);
  if (importOutput == "-") {
    outs() << text;
    return 0;
  }
  if (Error e = seqc::writeOutputFile(importOutput, text, policy))
    return fail(std::move(e));
  return 0;
}

/// `seqc compile KERNELS.mlir`: the target lowers and writes the kernels.
int runCompileKernels(seqc::TargetBackend &target) {
  if (emit != Emit::Artifact)
    return fail("--emit applies to models; run seqc-opt with the target's "
                "pipeline to inspect a kernel module's lowering");
  seqc::ArtifactWriter artifact(compileOutput);
  if (Error e = artifact.check(target.getExecutableFiles()))
    return fail(std::move(e));
  progress("reading " + compileInput);
  auto ctx = makeContext(&target);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(compileInput, ctx.get());
  if (!module)
    return fail(compileInput +
                ": not a valid kernel module (see the diagnostics above)");
  if (Error e = target.compileKernels(*module, artifact, progress))
    return fail(std::move(e));
  progress("wrote " + compileOutput + "/{" +
           std::string(seqc::artifact::kKernelsFile) + ", manifest.json}");
  return 0;
}

int runCompile() {
  // The target and the destination first: bad flags are reported before
  // any long stage.
  seqc::TargetOptions targetOptions;
  targetOptions.weights = weights;
  targetOptions.cpu.cpu = cpu;
  targetOptions.cpu.int8Dot = int8Dot;
  targetOptions.cpu.vectorWidth = vectorWidth;
  targetOptions.cpu.floatPrefill = floatPrefill;
  targetOptions.cpu.activationBlock = activationBlock;
  targetOptions.neuro.dt = neuroDt;
  if (neuroDt.getNumOccurrences() && targetName != "neuro")
    return fail("--neuro-dt applies to --target=neuro");
  targetOptions.vulkan.profile = vulkanProfile;
  if (!vulkanProfile.empty() && targetName != "vulkan")
    return fail("--vulkan-profile applies to --target=vulkan");
  targetOptions.cuda.arch = cudaArch;
  targetOptions.cuda.toolkit = cudaToolkit;
  if ((cudaArch.getNumOccurrences() || cudaToolkit.getNumOccurrences()) &&
      targetName != "cuda")
    return fail(std::string(cudaArch.getNumOccurrences() ? "--cuda-arch"
                                                         : "--cuda-toolkit") +
                " applies to --target=cuda");
  if (prefillChunk.getNumOccurrences())
    targetOptions.gpuPrefillTokens = prefillChunk;
  if (prefillChunk.getNumOccurrences() && targetName != "vulkan" &&
      targetName != "cuda")
    return fail("--prefill-chunk applies to --target=vulkan and "
                "--target=cuda (the CPU's prefill takes any token count)");
  auto target = seqc::createTarget(targetName, targetOptions);
  if (!target)
    return fail(target.takeError());
  // A .mlir input is a kernel module; anything else a model checkpoint.
  if (StringRef(compileInput).ends_with(".mlir"))
    return runCompileKernels(**target);
  if (!(*target)->compilesModels())
    return fail(compileInput + ": the " + (*target)->getName() +
                " target compiles kernel modules (.mlir) only so far; whole "
                "models need its model driver, which is not there yet; "
                "compile models with --target=cpu or --target=vulkan");
  StringRef emitName = emit == Emit::LLVM  ? "llvm"
                       : emit == Emit::Obj ? "obj"
                                           : "";
  if (!emitName.empty() &&
      !is_contained((*target)->getIntermediateFormats(), emitName))
    return fail("--emit=" + emitName + ": the " + (*target)->getName() +
                " target does not write that form");
  if (auto flag = strayArchFlag())
    return fail(*flag + " applies to SpikeGPT: give --arch=spikegpt");
  if (stateGroup.getNumOccurrences() && stateBits == StateBits::F32)
    return fail("--state-group applies to a quantized state: give "
                "--state=int8 or --state=int4");
  if (arch == "spikegpt")
    if (Error e = importOptions(weights).spikegpt.validate())
      return fail(std::move(e));
  seqc::ArtifactWriter artifact(compileOutput);
  auto policy = outputPolicy(emit == Emit::MLIR   ? seqc::OutputKind::MLIR
                             : emit == Emit::LLVM ? seqc::OutputKind::LLVMIR
                                                  : seqc::OutputKind::Object,
                             {compileInput});
  if (emit == Emit::Artifact) {
    if (Error e = artifact.check((*target)->getExecutableFiles()))
      return fail(std::move(e));
  } else if (Error e = seqc::checkOutputFile(compileOutput, policy)) {
    return fail(std::move(e));
  }
  auto pipelineOptions = modelPipelineOptions();
  if (!pipelineOptions)
    return fail(pipelineOptions.takeError());
  std::string tok = tokenizer;
  if (!tok.empty() && tok != "bytes" && tok != "world" && tok != "neox" &&
      tok != "none")
    return fail("--tokenizer=" + tok + ": expected bytes, world, neox or none");

  // An artifact's weights go to weights.bin as they are imported (the
  // compiler never holds them); the file is finished after the executable.
  std::unique_ptr<seqc::WeightsFile> weightsFile;
  if (emit == Emit::Artifact) {
    auto file = seqc::WeightsFile::create(artifact);
    if (!file)
      return fail(file.takeError());
    weightsFile = std::move(*file);
  }
  progress("reading " + compileInput);
  auto ctx = makeContext(target->get());
  seqc::registerAllPasses();
  seqc::ImportOptions options = importOptions(weights);
  options.weightSink = weightsFile.get();
  options.prefillTokens = (*target)->prefillTokens();
  auto model = seqc::importModel(ctx.get(), compileInput, options);
  if (!model)
    return fail(model.takeError());
  if (weightsFile)
    if (Error e = weightsFile->takeError())
      return fail(std::move(e));
  progress(model->description);
  if (tok.empty())
    tok = seqc::defaultTokenizer(model->vocab).str();
  if (tok == "bytes" && model->vocab < 256)
    return fail(formatv("--tokenizer=bytes needs a vocabulary of at least 256 "
                        "tokens; this model has {0}",
                        model->vocab)
                    .str());

  // The model pipeline: KV-cache transformations.
  if (Error e = pipelineOptions->validateFor(*model->module, model->arch))
    return fail(std::move(e));
  if (pipelineOptions->calibration)
    if (Error e = seqc::attachKVCalibration(*model->module, kvCalibration,
                                            model->layers,
                                            pipelineOptions->rank.has_value()))
      return fail(std::move(e));
  if (pipelineOptions->rank)
    progress(formatv("low-rank KV cache: rank {0}", *pipelineOptions->rank));
  if (!pipelineOptions->isEmpty()) {
    mlir::PassManager pm(ctx.get());
    seqc::buildModelPipeline(pm, *pipelineOptions);
    if (failed(pm.run(*model->module)))
      return fail("the model pipeline failed (see the diagnostics above)");
  }
  // What the pipeline computed at compile time (a low-rank cache's basis)
  // is read as weights, by every target alike.
  seqc::moveConstantsToWeights(*model);

  seqc::ModelDescription description;
  description.weights = weights;
  if (rotateWeights)
    description.weightsRotation = rotationSeed;
  description.kvRotation =
      pipelineOptions->rotation.enabled ? rotateKVKeys.getValue() : "none";
  description.kvRank = pipelineOptions->rank;
  if (const seqc::KVSelectOptions &sel = pipelineOptions->select; sel.enabled())
    description.kvSelect =
        formatv("{0} {1} window={2} kernel={3} pool={4}{5}",
                sel.method == seqc::KVSelectMethod::FastKV ? "fastkv"
                                                           : "dynamickv",
                sel.rate > 0.0 ? formatv("rate={0}", sel.rate).str()
                               : formatv("keep={0}", sel.keep).str(),
                sel.window, sel.kernel, mlir::seq::stringifyScorePool(sel.pool),
                sel.method == seqc::KVSelectMethod::DynamicKV
                    ? formatv(" ratio_max={0}", sel.ratioMax).str()
                    : std::string())
            .str() +
        (options.selection.propagates()
             ? formatv(
                   " tsp_layer={0} tsp_{1}", options.selection.tspLayer,
                   options.selection.tspRate > 0.0
                       ? formatv("rate={0}", options.selection.tspRate).str()
                       : formatv("keep={0}", options.selection.tspKeep).str())
                   .str()
             : std::string());
  description.tokenizer = tok;
  auto manifest =
      seqc::describeArtifact(*model, description, (*target)->describe());
  if (!manifest)
    return fail(manifest.takeError());
  if (emit == Emit::MLIR) {
    std::string text;
    raw_string_ostream os(text);
    model->module->print(os);
    if (Error e = seqc::writeOutputFile(compileOutput, text, policy))
      return fail(std::move(e));
    return 0;
  }

  progress((*target)->getLoweringDescription());
  mlir::PassManager pm(ctx.get());
  (*target)->buildPipeline(pm);
  if (failed(pm.run(*model->module)))
    return fail("lowering failed (see the diagnostics above)");
  (*target)->completeManifest(*manifest);
  if (!emitName.empty()) {
    // Checked again: the file may have appeared during the long stages.
    if (Error e = seqc::checkOutputFile(compileOutput, policy))
      return fail(std::move(e));
    if (Error e = (*target)->emitIntermediate(
            *model->module, *manifest, emitName, compileOutput, progress))
      return fail(std::move(e));
    return 0;
  }
  if (Error e =
          (*target)->serialize(*model->module, *manifest, artifact, progress))
    return fail(std::move(e));
  progress(formatv("writing weights.bin ({0:f1} MiB)",
                   model->weights.size / 1048576.0)
               .str());
  if (Error e =
          weightsFile->commit(model->weights, seqc::weightsId(model->weights),
                              (*target)->getExecutableFiles().front()))
    return fail(std::move(e));
  if (Error e = artifact.writeManifest(*manifest))
    return fail(std::move(e));
  std::string files = join((*target)->getExecutableFiles(), ", ");
  progress("wrote " + compileOutput + "/{" + files +
           ", weights.bin, manifest.json}");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // A file-size limit (ulimit -f) makes writes fail with EFBIG, reported
  // with the file's name, instead of killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  // `seqc --help` lists seqc's subcommands, not the LLVM libraries' options.
  cl::HideUnrelatedOptions(seqcCat, cl::SubCommand::getTopLevel());
  std::string overview = "seqc: ahead-of-time compiler for sequence models\n"
                         "\nTargets (compile --target):\n";
  for (const seqc::TargetInfo &t : seqc::targets())
    overview += formatv("  {0,-7}{1}\n", t.name, t.summary).str();
  overview += "Architectures (detected from the checkpoint, or --arch):\n";
  for (const seqc::Architecture &a : seqc::architectures())
    overview += formatv("  {0,-9}{1}\n", a.name, a.summary).str();
  cl::ParseCommandLineOptions(argc, argv, overview);
  if (importCmd)
    return runImport();
  if (compileCmd)
    return runCompile();
  errs() << "seqc: expected a subcommand: import or compile (see --help)\n";
  return 1;
}
