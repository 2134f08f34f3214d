//===- StateQuant.cpp - the words of a quantized WKV state ----------------===//
//
// A WKV state kept quantized (`state_quant`) is stored as f32 words (the
// model's state is one f32 buffer): `[lead | codes | scales]` per state or
// head (dialects/Seq/IR/SeqStateLayout.h). These helpers take the words
// apart into the packed code bytes and the scales that seq.quantize's
// lowering makes and seq.dequantize's reads (Quant.cpp), and put them back:
// the bytes go 4 to a little-endian word, reinterpreted bit for bit.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

/// Offsets, sizes and unit strides of `[..., from .. from + count)` of a
/// tensor of `shape` (all leading dimensions whole).
static void lastDimRange(OpBuilder &b, ArrayRef<int64_t> shape, int64_t from,
                         int64_t count, SmallVector<OpFoldResult> &offsets,
                         SmallVector<OpFoldResult> &sizes,
                         SmallVector<OpFoldResult> &strides) {
  for (int64_t d : shape.drop_back()) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(d));
    strides.push_back(b.getIndexAttr(1));
  }
  offsets.push_back(b.getIndexAttr(from));
  sizes.push_back(b.getIndexAttr(count));
  strides.push_back(b.getIndexAttr(1));
}

/// Words [..., from .. from + count) of `words`.
static Value sliceWords(OpBuilder &b, Location loc, Value words, int64_t from,
                        int64_t count) {
  auto type = cast<RankedTensorType>(words.getType());
  SmallVector<OpFoldResult> offsets, sizes, strides;
  lastDimRange(b, type.getShape(), from, count, offsets, sizes, strides);
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = count;
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), words,
      offsets, sizes, strides);
}

/// Reassociation merging the last `inner` dimensions of a rank-`rank`
/// tensor into one (the others kept).
static SmallVector<ReassociationIndices> mergeLast(int64_t rank,
                                                   int64_t inner) {
  SmallVector<ReassociationIndices> re;
  for (int64_t i = 0; i + inner < rank; ++i)
    re.push_back({i});
  ReassociationIndices last;
  for (int64_t i = rank - inner; i < rank; ++i)
    last.push_back(i);
  re.push_back(last);
  return re;
}

/// `t` [..., K] reshaped to [..., inner...] (K their product).
static Value expandLast(OpBuilder &b, Location loc, Value t,
                        ArrayRef<int64_t> inner) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<int64_t> shape(type.getShape().drop_back());
  llvm::append_range(shape, inner);
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), t,
      mergeLast(shape.size(), inner.size()));
}

/// `t` with its last `inner` dimensions merged into one.
static Value collapseLast(OpBuilder &b, Location loc, Value t, int64_t inner) {
  int64_t rank = cast<RankedTensorType>(t.getType()).getRank();
  return tensor::CollapseShapeOp::create(b, loc, t, mergeLast(rank, inner));
}

/// f32 words [..., K] as their bytes [..., 4K] (little-endian).
static Value wordsToBytes(OpBuilder &b, Location loc, Value words) {
  auto type = cast<RankedTensorType>(words.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> shape(type.getShape());
  shape.push_back(4);
  Value init = tensor::EmptyOp::create(b, loc, shape, b.getI8Type());
  SmallVector<AffineExpr> in;
  for (int64_t i = 0; i < rank; ++i)
    in.push_back(b.getAffineDimExpr(i));
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{words}, ValueRange{init},
      SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, in, b.getContext()),
                             b.getMultiDimIdentityMap(rank + 1)},
      SmallVector<utils::IteratorType>(rank + 1, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Type i32 = nb.getI32Type();
        Value bits = arith::BitcastOp::create(nb, nl, i32, a[0]);
        Value byte = arith::IndexCastOp::create(
            nb, nl, i32, linalg::IndexOp::create(nb, nl, rank));
        Value at = arith::MulIOp::create(
            nb, nl, byte, arith::ConstantIntOp::create(nb, nl, i32, 8));
        Value part = arith::TruncIOp::create(
            nb, nl, nb.getI8Type(), arith::ShRUIOp::create(nb, nl, bits, at));
        linalg::YieldOp::create(nb, nl, part);
      });
  return collapseLast(b, loc, generic.getResult(0), 2);
}

/// Bytes [..., 4K] as f32 words [..., K] (little-endian): the bytes of a
/// word ORed into an i32, then reinterpreted.
static Value bytesToWords(OpBuilder &b, Location loc, Value bytes) {
  auto type = cast<RankedTensorType>(bytes.getType());
  int64_t rank = type.getRank(), k = type.getShape().back() / 4;
  Value byWord = expandLast(b, loc, bytes, {k, 4});
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = k;
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value zero = arith::ConstantIntOp::create(b, loc, i32, 0);
  Value acc =
      linalg::FillOp::create(
          b, loc, zero, ValueRange{tensor::EmptyOp::create(b, loc, shape, i32)})
          .getResult(0);
  SmallVector<AffineExpr> out;
  for (int64_t i = 0; i < rank; ++i)
    out.push_back(b.getAffineDimExpr(i));
  SmallVector<utils::IteratorType> iters(rank + 1,
                                         utils::IteratorType::parallel);
  iters.back() = utils::IteratorType::reduction;
  auto gather = linalg::GenericOp::create(
      b, loc, TypeRange{acc.getType()}, ValueRange{byWord}, ValueRange{acc},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank + 1),
                             AffineMap::get(rank + 1, 0, out, b.getContext())},
      iters, [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value byte = arith::ExtUIOp::create(nb, nl, i32, a[0]);
        Value index = arith::IndexCastOp::create(
            nb, nl, i32, linalg::IndexOp::create(nb, nl, rank));
        Value at = arith::MulIOp::create(
            nb, nl, index, arith::ConstantIntOp::create(nb, nl, i32, 8));
        Value part = arith::ShLIOp::create(nb, nl, byte, at);
        linalg::YieldOp::create(
            nb, nl, ValueRange{arith::OrIOp::create(nb, nl, a[1], part)});
      });
  Value init = tensor::EmptyOp::create(b, loc, shape, f32);
  AffineMap id = b.getMultiDimIdentityMap(rank);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, gather.getResults(),
             ValueRange{init}, SmallVector<AffineMap>{id, id},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::BitcastOp::create(nb, nl, f32, a[0])});
             })
      .getResult(0);
}

/// The shape of the scales of a quantized tensor of `shape`: its axis
/// divided by the group size.
static SmallVector<int64_t> scaleShape(ArrayRef<int64_t> shape,
                                       QuantEncodingAttr enc, int64_t axis) {
  SmallVector<int64_t> s(shape);
  s[axis] /= enc.getGroup();
  return s;
}

QuantizedStateParts mlir::seq::tolinalg::splitQuantizedState(
    OpBuilder &b, Location loc, Value words, const QuantizedStateLayout &l,
    QuantEncodingAttr enc, int64_t axis) {
  QuantizedStateParts parts;
  if (l.leadWords)
    parts.lead = sliceWords(b, loc, words, 0, l.leadWords);
  Value codes = wordsToBytes(
      b, loc, sliceWords(b, loc, words, l.leadWords, l.codeWords()));
  parts.codes = expandLast(b, loc, codes, l.packedShape());
  Value scales =
      sliceWords(b, loc, words, l.leadWords + l.codeWords(), l.scaleWords);
  parts.scales = expandLast(b, loc, scales, scaleShape(l.shape, enc, axis));
  return parts;
}

Value mlir::seq::tolinalg::joinQuantizedState(OpBuilder &b, Location loc,
                                              const QuantizedStateParts &parts,
                                              const QuantizedStateLayout &l) {
  int64_t inner = l.shape.size();
  Value codes = bytesToWords(b, loc, collapseLast(b, loc, parts.codes, inner));
  Value scales = collapseLast(b, loc, parts.scales, inner);
  auto codeType = cast<RankedTensorType>(codes.getType());
  SmallVector<int64_t> shape(codeType.getShape());
  shape.back() = l.words();
  Value words = tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
  auto put = [&](Value part, int64_t from, int64_t count) {
    SmallVector<OpFoldResult> offsets, sizes, strides;
    lastDimRange(b, shape, from, count, offsets, sizes, strides);
    words = tensor::InsertSliceOp::create(b, loc, part, words, offsets, sizes,
                                          strides);
  };
  if (l.leadWords)
    put(parts.lead, 0, l.leadWords);
  put(codes, l.leadWords, l.codeWords());
  put(scales, l.leadWords + l.codeWords(), l.scaleWords);
  return words;
}
