//===- ProductTiles.h - tiles of prefill products ---------------*- C++ -*-===//
//
// Prefill products (several tokens) compute tiles of outputs, so that a
// weight element is loaded once for several tokens and an activation once
// for several rows. The float products (ParallelizeProducts.cpp) and the
// integer kernels (X86Int8Kernels.cpp) share the tile shape and the loops
// that cover a product with tiles.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_CPU_PRODUCTTILES_H
#define SEQC_PASSES_CODEGEN_CPU_PRODUCTTILES_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::seq::cpu {

/// Prefill products compute tiles of kTileRows outputs x kTileTokens tokens,
/// in blocks of kBlockTokens tokens (a multiple of kTileTokens).
constexpr int64_t kTileRows = 4, kTileTokens = 4, kBlockTokens = 128;

/// Computes one tile: `nr` rows from `n0` by `tr` tokens from `t0`.
using TileFn = function_ref<void(OpBuilder &, Location, Value n0, Value t0,
                                 int64_t nr, int64_t tr)>;

/// Whether a product of `rows` outputs over `tokens` tokens (nullopt:
/// dynamic) is computed in tiles: a static row count of at least a tile,
/// and a dynamic token count or one of at least a tile (prefill).
bool isTiled(std::optional<int64_t> rows, std::optional<int64_t> tokens);

/// The scf.parallel loops covering outputs [0, rows) x tokens [0, T) when
/// isTiled holds: the whole tiles (one parallel loop per block of
/// kBlockTokens tokens, in turn), then the tokens beyond a multiple of
/// kTileTokens and the rows beyond a multiple of kTileRows, one output per
/// iteration.
void parallelTiles(RewriterBase &rewriter, Location loc, int64_t rows, Value T,
                   TileFn tile);

/// For a product marked `seq.parallel` whose first input is a single static
/// row (decode), whether it runs on all threads: its weight (second input)
/// has at least `minDecodeElements` elements (a group format's packed codes
/// counting two to a byte; 0: never). nullopt for every other product
/// (prefill products always run on all threads). On tensors (before
/// bufferization: seq-group-products) and buffers alike.
std::optional<bool> decodeOnAllThreads(linalg::GenericOp op,
                                       int64_t minDecodeElements);

/// Replaces the prefill product `op`, y[t, n] += x[t, k] * w[n, k] with
/// f32 x and y and f32, f16 or bf16 w over loops (n, t, k), by panels of
/// 2 x `lanes` weight rows (8: AVX2, 16: AVX-512; FloatPanels.cpp): an
/// scf.for over the panels marked `seq.parallel` (a task each, made by
/// seq-parallelize-loops), in which each chunk of the reduction packs the
/// panel's weights into a buffer, transposed and as f32, and tiles
/// of tokens accumulate in vectors. Fails (creating nothing) for any other
/// product, a single static token, a weight that is not static with
/// contiguous rows or has fewer than 2^16 elements (small products keep
/// the tiles), rows not a multiple of the panel, a reduction length
/// not a multiple of `lanes`, or outputs whose rows are not contiguous.
/// Does not erase `op`.
LogicalResult lowerFloatPanels(RewriterBase &rewriter, linalg::GenericOp op,
                               int64_t lanes);

/// The attribute seq-parallelize-products puts on the scf.parallel loop of
/// a decode product that runs on all threads (and on the loops its integer
/// kernels run on all threads beside it), for seq-fuse-product-loops.
constexpr llvm::StringLiteral kDecodeLoopAttr = "seq.decode_product";

/// How far ahead of the weights it reads a decode product prefetches them.
constexpr int64_t kPrefetchBytes = 8192;

/// For a product computing one output row at a time (decode: each thread
/// takes its rows in ascending order), prefetches the weight rows of the
/// output kPrefetchBytes of weights ahead of row `n`: one prefetch per
/// 64-byte line of the row of each of `weights` (memrefs [N, X] whose rows
/// are static and contiguous; others are left alone), the row clamped to
/// the last, into the L2 cache (locality 2: x86's prefetcht1; into L1,
/// prefetcht0 measured 5-10% slower). Without them the hardware
/// prefetchers alone left each thread's loads waiting on memory (RWKV-4
/// 430M q4 decode, 2 threads: 1.3-1.6x faster with them; docs/design.md).
void prefetchRowsAhead(OpBuilder &b, Location l, ValueRange weights, Value n);

} // namespace mlir::seq::cpu

#endif // SEQC_PASSES_CODEGEN_CPU_PRODUCTTILES_H
