//===- SeqQ4Product.h - the linalg form of a 4-bit weight product -*- C++
//-*-===//
//
// A projection over 4-bit weights (`seqc compile --weights=q4`) is a
// linalg.generic whose body unpacks the weight codes, so that every target
// can run it as written; the CPU codegen recognizes the form and computes
// it with integer dot products (passes/Codegen/CPU/X86Q4Kernels.cpp). The
// builder and the matcher live together here so that they cannot drift.
//
// The q4 format of a weight matrix W [N, K] (K a multiple of 32) is GGML's
// Q4_0 with the scales apart from the codes:
//   - groups of 32 channels along K, each with an f16 scale d[n, g] and 32
//     codes c in 0..15: W[n, k] = d[n, k / 32] * (c[n, k] - 8);
//   - codes packed two per byte, 16 bytes per group: byte
//     w[n, 16 * (k / 32) + k % 16] holds c[n, k] in its low nibble when
//     k % 32 < 16, in its high nibble otherwise (Q4_0's order, so a GGUF
//     Q4_0 tensor keeps its codes byte for byte).
//
// The q5 and q6 formats (`--weights=q5`, `q6`) add high bits to q4's codes:
//   - groups of 32 channels with an f16 scale d[n, g] and codes c in
//     0..2^B - 1 (B = 5, 6): W[n, k] = d[n, k / 32] * (c[n, k] - 2^(B-1))
//     (q5 is GGML Q5_0's values);
//   - bits 0..3 of the codes packed as q4's, and each higher bit b (4, 5)
//     as a plane of its own, [N, K / 8] bytes: bit k % 8 of byte
//     (n, k / 8) is bit b of c[n, k] (a group's four bytes are GGML
//     Q5_0's qh, least significant byte first, so that a GGUF Q5_0 tensor
//     keeps its codes byte for byte).
//
// The q8 format (`--weights=q8`) is GGML Q8_0's with the scales apart:
// groups of 32 channels with an f16 scale d[n, g], and signed codes as
// bytes w[n, k] in -127..127: W[n, k] = d[n, k / 32] * w[n, k].
//
// The q4k format (`--weights=q4k`) is GGML Q4_K's values with the codes in
// the q4 layout above:
//   - sub-blocks of 32 channels along K, each with a 6-bit scale sc[n, g]
//     and a 6-bit minimum m[n, g] (bytes 0..63), and super-blocks of 256
//     channels (8 sub-blocks; the last may be shorter) with f16 factors
//     d[n, s] and dmin[n, s]:
//       W[n, k] = d[n, k / 256] * sc[n, k / 32] * c[n, k]
//                 - dmin[n, k / 256] * m[n, k / 32],  c in 0..15;
//   - codes packed as q4's (a GGUF Q4_K tensor's nibbles are reordered at
//     compile time: Q4_K keeps a sub-block in the low or the high nibbles
//     of 32 bytes).
//
// The q5k format (`--weights=q5k`) is GGML Q5_K's values: q4k's with codes
// c in 0..31, bit 4 in a plane as q5's.
//
// The q6k format (`--weights=q6k`) is GGML Q6_K's values with the codes in
// the q6 layout above:
//   - sub-blocks of 16 channels along K, each with a signed 8-bit scale
//     sc[n, j], and super-blocks of 256 channels (16 sub-blocks; the last
//     may be shorter) with an f16 factor d[n, s]:
//       W[n, k] = d[n, k / 256] * sc[n, k / 16] * (c[n, k] - 32),
//     c in 0..63;
//   - codes as q6's: bits 0..3 packed as q4's (a group of 32 channels
//     holds two sub-blocks: channels 0-15 in the low nibbles, 16-31 in the
//     high ones), bits 4 and 5 as planes (a GGUF Q6_K tensor's codes are
//     reordered at compile time: Q6_K keeps bits 0..3 of 64 channels in 32
//     bytes and bits 4..5 of 128 in 32).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECTS_SEQ_IR_SEQQ4PRODUCT_H
#define SEQC_DIALECTS_SEQ_IR_SEQQ4PRODUCT_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::seq {

/// Channels per scale of a q4, q5, q6 or q8 weight (and per sub-block of a
/// q4k one).
constexpr int64_t kQ4Group = 32;
/// Channels per super-block of a q4k or q6k weight.
constexpr int64_t kQ4KSuperBlock = 256;
/// Channels per scale of a q6k weight.
constexpr int64_t kQ6KSubBlock = 16;

/// The weight formats of the group products below.
enum class GroupFormat { Q4, Q5, Q6, Q8, Q4K, Q5K, Q6K };

/// Bits of a format's codes (4 for q4k, 5 for q5k, 6 for q6k).
int64_t codeBits(GroupFormat format);

/// out[t, n] + sum_k x[t, k] * d[n, k / 32] * (c[n, k] - 2^(B-1)), with
/// the codes c unpacked from `w` and the bit planes `bits` (none for q4,
/// bit 4 for q5, bits 4 and 5 for q6) as above: x [T, K] f32, w [N, K / 2]
/// i8, each plane [N, K / 8] i8, d [N, K / 32] f16, out [T, N] f32;
/// tensors (the result is the op's) or memrefs.
linalg::GenericOp buildQ4Product(OpBuilder &b, Location loc, Value x, Value w,
                                 ValueRange bits, Value d, Value out);

/// out[t, n] + sum_k x[t, k] * d[n, k / 32] * w[n, k], the q8 product: x
/// [T, K] f32, w [N, K] i8, d [N, K / 32] f16, out [T, N] f32.
linalg::GenericOp buildQ8Product(OpBuilder &b, Location loc, Value x, Value w,
                                 Value d, Value out);

/// out[t, n] + sum_k x[t, k] * (d[n, k / 256] * sc[n, k / 32] * c[n, k] -
/// dmin[n, k / 256] * m[n, k / 32]), the q4k product (with the plane of
/// bit 4 in `bits`, the q5k product): x [T, K] f32, w [N, K / 2] i8 and
/// the planes (codes as buildQ4Product's), sc and m [N, ceil(K / 32)] i8
/// (unsigned), d and dmin [N, ceil(K / 256)] f16, out [T, N] f32.
linalg::GenericOp buildQ4KProduct(OpBuilder &b, Location loc, Value x, Value w,
                                  ValueRange bits, Value sc, Value m, Value d,
                                  Value dmin, Value out);

/// out[t, n] + sum_k x[t, k] * d[n, k / 256] * sc[n, k / 16] * (c[n, k] -
/// 32), the q6k product: x [T, K] f32, w [N, K / 2] i8 and the planes
/// `bit4`, `bit5` [N, K / 8] i8 (codes as buildQ4Product's with two
/// planes), sc [N, K / 16] i8 (signed), d [N, ceil(K / 256)] f16, out [T,
/// N] f32.
linalg::GenericOp buildQ6KProduct(OpBuilder &b, Location loc, Value x, Value w,
                                  Value bit4, Value bit5, Value sc, Value d,
                                  Value out);

/// The format of `op` if it is a product one of the builders above makes
/// (after canonicalization, which moves the body's constants out and may
/// swap commutative operands), on f32 activations of a static reduction
/// length K, a multiple of 32.
std::optional<GroupFormat> matchGroupProduct(linalg::GenericOp op);

} // namespace mlir::seq

#endif // SEQC_DIALECTS_SEQ_IR_SEQQ4PRODUCT_H
