//===- IntegerDot.h - pieces the x86 integer kernels share ------*- C++ -*-===//
//
// What the int8 (X86Int8Kernels.cpp) and q4 (X86Q4Kernels.cpp) weight
// products have in common: the x86 dot-product instructions behind one
// helper, the quantization of a block of activations to int8 codes, and
// the loops that cover a product's outputs with tiles (prefill) or single
// outputs (decode).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CODEGEN_CPU_INTEGERDOT_H
#define SEQC_PASSES_CODEGEN_CPU_INTEGERDOT_H

#include "passes/Codegen/CPU/ProductTiles.h"
#include "seqc/Support/Int8Kernel.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seq::cpu {

/// The x86 integer dot products of one kernel on vectors of `bytes` bytes
/// (32, or 64 with AVX512-VNNI), with 32-bit sums of four adjacent byte
/// products per lane.
struct IntegerDot {
  OpBuilder &b;
  Location l;
  seqc::Int8Kernel kernel;
  int64_t bytes, lanes;
  IntegerDot(OpBuilder &b, Location l, seqc::Int8Kernel kernel, int64_t bytes)
      : b(b), l(l), kernel(kernel), bytes(bytes), lanes(bytes / 4) {}

  VectorType vec(int64_t n, Type t) { return VectorType::get({n}, t); }
  Value splat(VectorType type, Attribute value);
  Value intrinsic(StringRef name, Type result, ValueRange args);
  /// acc + four-byte sums of unsigned `u` times signed `s` (VNNI only).
  Value vpdpbusd(Value acc, Value u, Value s);
  /// acc + four-byte sums of `u` times signed `s`, where `u` is unsigned and
  /// small enough that no pair of products saturates 16 bits (u <= 128):
  /// vpdpbusd, or on AVX2 vpmaddubsw then vpmaddwd by ones.
  Value dotSmallUnsigned(Value acc, Value u, Value s);
  /// vpmaddubsw, then vpmaddwd by ones: the 32-bit lane sums of `u` · `s`
  /// (AVX2; no pair may saturate).
  Value pairSums(Value u, Value s);
};

/// An scf.for over [lb, ub) by `step` whose body yields what `body` returns.
scf::ForOp
forLoop(OpBuilder &b, Location l, int64_t lb, int64_t ub, int64_t step,
        ValueRange inits,
        function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)> body);

/// Quantizes activations x[t, base .. base + block) to int8: returns the
/// scale a = max abs(x) / 127 and calls `store(b, j, q)` for each channel
/// base + j with q = clamp(roundeven(x * (127 / max abs(x))), -127, 127).
/// A NaN activation makes its block's scale NaN (maximumf).
Value quantizeActivationBlock(
    OpBuilder &b, Location l, Value x, Value t, Value base, int64_t block,
    function_ref<void(OpBuilder &, Value j, Value q)> store);

/// Calls `body(b, l, t, blk)` for every token t < T and block blk <
/// `blocks`: over both on all threads when `parallel` and the token count
/// is not statically 1, in loops otherwise.
void forEachTokenBlock(
    RewriterBase &rewriter, Location loc, Value T, bool staticSingleToken,
    int64_t blocks, bool parallel,
    function_ref<void(OpBuilder &, Location, Value t, Value blk)> body);

/// Dimension `d` of memref `m` as an index value (a constant when static).
Value memrefDim(RewriterBase &rewriter, Location loc, Value m, unsigned d);

/// Covers outputs [0, N) x tokens [0, T) with `tile`: prefill tiles
/// (parallelTiles) when `parallel` and isTiled(rows, tokens) hold, one
/// output per scf.parallel iteration when `parallel` (decode keeps single
/// outputs, so that its rows still split into tasks), nested scf.for loops
/// otherwise. `rows` and `tokens` are N's and T's static extents, or
/// ShapedType::kDynamic.
void forEachOutputTile(RewriterBase &rewriter, Location loc, Value N, Value T,
                       int64_t rows, int64_t tokens, bool parallel,
                       TileFn tile);

} // namespace mlir::seq::cpu

#endif // SEQC_PASSES_CODEGEN_CPU_INTEGERDOT_H
