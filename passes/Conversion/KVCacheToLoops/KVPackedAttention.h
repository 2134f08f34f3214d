//===- KVPackedAttention.h - attention over bit-packed rows ----*- C++ -*-===//
//
// The vectorized paths of seq.kv_attention over bit-packed keys and values
// (KIVI's 1, 2, 4 and 8 bits, in caches that keep every token): a row is
// unpacked with a few vector ops into a lane order the attention keeps, the
// group scales fold into the query (keys) or into the accumulation
// (values), and four tokens are scored at once. Attention.cpp's emitter
// derives from this class; PackedAttention.cpp defines it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVPACKEDATTENTION_H
#define SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVPACKEDATTENTION_H

#include "passes/Conversion/KVCacheToLoops/KVKeyTransform.h"

namespace mlir::seq::kv {

class KVPackedAttention : public KVKeyReader {
public:
  using KVKeyReader::KVKeyReader;

  /// Whether the bit-packed tokens of one side are read as whole rows in
  /// vector registers (KVCodec::unpackRow) rather than row by row: codes of
  /// 1, 2, 4 or 8 bits in a cache that keeps every token (not scored), keys
  /// without a key transform, values outside a latent cache.
  bool packedRows(bool keys);
  /// Sum of the lanes of `v`, reassociable (a tree of vector adds).
  Value sum(Value v);
  Value splat(Value x, int64_t n);
  /// The per-token group parameters of token i (channel-axis groups):
  /// the row of head_dim / group values at (h, i) of `m` as a vector.
  Value groupRow(const KVLayout::Side &s, Value m, Value h, Value i);
  /// `g` (one value per channel group, [D / G]) spread to the lanes of
  /// `order` (the channel of each lane).
  Value spreadGroups(const KVLayout::Side &s, Value g, ArrayRef<int64_t> order);
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, x, y, fm); }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, x, y, fm); }
  Value fma(Value x, Value y, Value a) { return addf(a, mulf(x, y)); }
  /// The lane sums of the four [D] vectors `p`, as a vector<4>: each folded
  /// to L = 16 (or 8) lanes by vector adds, then the four transposed into
  /// one by rounds of two shuffles and an add, each round halving the
  /// segment of every vector and putting two vectors' halves side by side:
  /// five steps of two shuffles and an add (head_dim 64) for the four sums,
  /// where four reduction trees take four steps each.
  Value sum4(ArrayRef<Value> p);
  /// What the packed paths of one side (keys or values) start from: the
  /// head size and group, a vector of a row, the lanes' channels and
  /// weights, the codes, scales and (asymmetric) minima, the sinks.
  struct PackedSide {
    int64_t D, G;
    VectorType vD;
    SmallVector<int64_t> lanes;
    Value pw, cd, sc, mins, S;
  };
  PackedSide packedSide(const KVLayout::Side &s);
  /// Per-channel groups: group g's scales and minima of head kh, in lane
  /// order.
  std::pair<Value, Value> groupScales(const KVLayout::Side &s,
                                      const PackedSide &p, Value kh, Value g);
  /// The scores of the bit-packed keys [0, nq) of head kh (tokens S + i),
  /// row by row in vector registers, and their maximum folded into
  /// `stats`.
  /// Per-channel groups (KIVI): the group's scales and minima fold into the
  /// query once per group, q.(code s + m) = (q s).code + q.m, so a token
  /// costs its unpacking, one vector multiply-add per 16 channels and one
  /// sum. Per-token groups: the token's scales spread over the lanes, and
  /// the minima's share from the query's sums per group.
  void scorePacked(Value kh, Value nq, Value qbuf, Value scores, Value stats,
                   int64_t rep);
  /// acc[r, :] += inv_r sum_i e[r, S + i] value_i over the bit-packed
  /// values [0, nq) of head kh (e the softmax numerators in `scores`, inv_r
  /// = stats[r] their reciprocal sum), accumulated in vector registers in
  /// lane order and permuted back once. Per-token groups (KIVI): e s of the
  /// token's groups spread over the lanes times its codes, and e m summed
  /// per group. Per-channel groups: sum e code and sum e per group of
  /// tokens, then times the group's scales and minima.
  void accumulatePacked(Value kh, Value nq, Value scores, Value stats,
                        Value acc, int64_t rep);
};

} // namespace mlir::seq::kv

#endif // SEQC_PASSES_CONVERSION_KVCACHETOLOOPS_KVPACKEDATTENTION_H
