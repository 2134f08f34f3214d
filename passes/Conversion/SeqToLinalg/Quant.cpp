//===- Quant.cpp - lower seq.quantize / seq.dequantize to linalg ----------===//
//
// A `#seq.quant` codes tensor is stored bit-packed, as the quantized KV cache
// stores a token (docs/design.md, "Lowering seq.quantize and seq.dequantize"):
// each innermost row of n codes becomes ceil(n / 8) * bits bytes, 8 codes to
// a little-endian word of `bits` bytes, symmetric codes offset by 2^(bits-1).
// The type converter maps the codes type to that byte tensor, so codes cross
// function boundaries (and calls) as their storage.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Passes.h"
#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::tolinalg;

/// Bytes of one packed innermost row of n codes of `bits` bits.
static int64_t packedRowBytes(int64_t n, unsigned bits) {
  return (n + 7) / 8 * bits;
}

void mlir::seq::tolinalg::addQuantStorageConversion(TypeConverter &converter) {
  converter.addConversion([](Type t) { return t; });
  converter.addConversion([](RankedTensorType t) -> std::optional<Type> {
    auto enc = dyn_cast_or_null<QuantEncodingAttr>(t.getEncoding());
    if (!enc)
      return std::nullopt; // not a codes tensor: unchanged
    SmallVector<int64_t> shape(t.getShape());
    if (shape.empty())
      return std::nullopt;
    if (!ShapedType::isDynamic(shape.back()))
      shape.back() = packedRowBytes(shape.back(), enc.getBits());
    return RankedTensorType::get(shape, IntegerType::get(t.getContext(), 8));
  });
}

namespace {

/// Reassociation that splits dimension `axis` of a rank-`rank` tensor in
/// two (groups, elements of a group).
SmallVector<ReassociationIndices> splitAxis(int64_t rank, int64_t axis) {
  SmallVector<ReassociationIndices> re;
  for (int64_t i = 0, j = 0; i < rank; ++i) {
    if (i == axis) {
      re.push_back({j, j + 1});
      j += 2;
    } else {
      re.push_back({j++});
    }
  }
  return re;
}

/// `t` with dimension `axis` split into (size / inner, inner).
Value expandDim(OpBuilder &b, Location loc, Value t, int64_t axis,
                int64_t inner) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, t);
  SmallVector<int64_t> shape(type.getShape());
  int64_t outer = shape[axis] / inner;
  shape[axis] = outer;
  shape.insert(shape.begin() + axis + 1, inner);
  sizes[axis] = b.getIndexAttr(outer);
  sizes.insert(sizes.begin() + axis + 1, b.getIndexAttr(inner));
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), t,
      splitAxis(type.getRank(), axis), sizes);
}

/// `t` with dimensions `axis` and `axis + 1` merged.
Value collapseDim(OpBuilder &b, Location loc, Value t, int64_t axis) {
  int64_t rank = cast<RankedTensorType>(t.getType()).getRank() - 1;
  return tensor::CollapseShapeOp::create(b, loc, t, splitAxis(rank, axis));
}

/// A tensor of `sizes` filled with `value`.
Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             TypedAttr value) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, value.getType());
  Value c = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, c, empty).getResult(0);
}

/// Maps of a generic over `rank` loops: the identity, and the identity
/// without loop `drop`.
AffineMap identity(OpBuilder &b, int64_t rank) {
  return b.getMultiDimIdentityMap(rank);
}
AffineMap dropLoop(OpBuilder &b, int64_t rank, int64_t drop) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (i != drop)
      exprs.push_back(b.getAffineDimExpr(i));
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

SmallVector<utils::IteratorType> iterators(int64_t rank, int64_t reduction) {
  SmallVector<utils::IteratorType> it(rank, utils::IteratorType::parallel);
  if (reduction >= 0)
    it[reduction] = utils::IteratorType::reduction;
  return it;
}

Value f32Const(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// Whether the lowering handles `codes`: it needs the quantization axis
/// (its groups) and the innermost dimension (its packed words) static.
bool lowerable(RankedTensorType codes, QuantEncodingAttr enc) {
  return !ShapedType::isDynamic(codes.getShape().back()) &&
         !ShapedType::isDynamic(codes.getDimSize(enc.getAxis()));
}

/// Packs codes [..., n] (i8, each below 2^bits) into [..., ceil(n/8)*bits]
/// bytes: a reduction over the 8 codes of a word that ORs each code's
/// contribution, (code << 8-code slot) >> 8 * byte, into each byte.
Value packCodes(OpBuilder &b, Location loc, Value codes, unsigned bits,
                Value dest = Value()) {
  auto type = cast<RankedTensorType>(codes.getType());
  int64_t rank = type.getRank(), n = type.getShape().back();
  int64_t words = (n + 7) / 8;
  Type i8 = b.getI8Type(), i64 = b.getI64Type();
  if (words * 8 != n) {
    SmallVector<OpFoldResult> lo(rank, b.getIndexAttr(0)),
        hi(rank, b.getIndexAttr(0));
    hi.back() = b.getIndexAttr(words * 8 - n);
    codes = tensor::PadOp::create(
        b, loc,
        RankedTensorType::get(
            [&] {
              SmallVector<int64_t> s(type.getShape());
              s.back() = words * 8;
              return s;
            }(),
            i8),
        codes, lo, hi, arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
        /*nofold=*/false);
  }
  // 8-bit codes are their own bytes (code j of a word is byte j): no
  // shifts, only the copy into `dest` when one is given.
  if (bits == 8) {
    if (!dest)
      return codes;
    return linalg::CopyOp::create(b, loc, codes, dest).getResult(0);
  }
  Value byWord = expandDim(b, loc, codes, rank - 1, 8); // [..., W, 8]
  SmallVector<OpFoldResult> outSizes = tensor::getMixedSizes(b, loc, byWord);
  outSizes.back() = b.getIndexAttr(bits); // [..., W, bits]
  Value init =
      dest ? linalg::FillOp::create(
                 b, loc,
                 arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0))
                     .getResult(),
                 expandDim(b, loc, dest, rank - 1, bits))
                 .getResult(0)
           : filled(b, loc, outSizes, b.getI8IntegerAttr(0));
  // Loops (..., w, byte, j): codes read at (..., w, j), bytes written at
  // (..., w, byte), j reduced.
  int64_t loops = rank + 2;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{byWord}, ValueRange{init},
      SmallVector<AffineMap>{dropLoop(b, loops, loops - 2),
                             dropLoop(b, loops, loops - 1)},
      iterators(loops, loops - 1),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        auto index = [&](int64_t d) {
          return arith::IndexCastOp::create(nb, nl, i64,
                                            linalg::IndexOp::create(nb, nl, d));
        };
        auto c64 = [&](int64_t v) {
          return arith::ConstantIntOp::create(nb, nl, i64, v);
        };
        Value code = arith::ExtUIOp::create(nb, nl, i64, a[0]);
        Value j = index(loops - 1);
        Value width = c64(bits);
        Value slot = arith::MulIOp::create(nb, nl, j, width);
        Value k = index(loops - 2);
        Value eight = c64(8);
        Value byte = arith::MulIOp::create(nb, nl, k, eight);
        Value word = arith::ShLIOp::create(nb, nl, code, slot);
        Value part = arith::TruncIOp::create(
            nb, nl, i8, arith::ShRUIOp::create(nb, nl, word, byte));
        linalg::YieldOp::create(
            nb, nl, ValueRange{arith::OrIOp::create(nb, nl, a[1], part)});
      });
  return collapseDim(b, loc, generic.getResult(0), rank - 1);
}

Value unpackWords(OpBuilder &b, Location loc, Value packed, unsigned bits);

/// Unpacks [..., ceil(n/8)*bits] bytes into n codes [..., n] (i8): a
/// reduction over a word's bytes that ORs each byte's share of code j,
/// ((byte << 8 * k) >> j * bits) & (2^bits - 1).
Value unpackCodes(OpBuilder &b, Location loc, Value packed, int64_t n,
                  unsigned bits) {
  auto type = cast<RankedTensorType>(packed.getType());
  int64_t rank = type.getRank();
  // 8-bit codes are their own bytes.
  Value codes = bits == 8 ? packed : unpackWords(b, loc, packed, bits);
  int64_t padded = (n + 7) / 8 * 8;
  if (padded == n)
    return codes;
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
      sizes = tensor::getMixedSizes(b, loc, codes),
      strides(rank, b.getIndexAttr(1));
  sizes.back() = b.getIndexAttr(n);
  return tensor::ExtractSliceOp::create(b, loc, codes, offsets, sizes, strides);
}

/// The unpacking of unpackCodes for codes narrower than a byte: every code
/// of every word, [..., ceil(n/8)*bits] bytes to [..., ceil(n/8)*8] codes.
Value unpackWords(OpBuilder &b, Location loc, Value packed, unsigned bits) {
  auto type = cast<RankedTensorType>(packed.getType());
  int64_t rank = type.getRank();
  Type i8 = b.getI8Type(), i64 = b.getI64Type();
  Value byWord = expandDim(b, loc, packed, rank - 1, bits); // [..., W, bits]
  SmallVector<OpFoldResult> outSizes = tensor::getMixedSizes(b, loc, byWord);
  outSizes.back() = b.getIndexAttr(8); // [..., W, 8]
  Value init = filled(b, loc, outSizes, b.getI8IntegerAttr(0));
  // Loops (..., w, j, byte): bytes read at (..., w, byte), codes written at
  // (..., w, j), bytes reduced.
  int64_t loops = rank + 2;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{byWord}, ValueRange{init},
      SmallVector<AffineMap>{dropLoop(b, loops, loops - 2),
                             dropLoop(b, loops, loops - 1)},
      iterators(loops, loops - 1),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        auto index = [&](int64_t d) {
          return arith::IndexCastOp::create(nb, nl, i64,
                                            linalg::IndexOp::create(nb, nl, d));
        };
        auto c64 = [&](int64_t v) {
          return arith::ConstantIntOp::create(nb, nl, i64, v);
        };
        Value byte = arith::ExtUIOp::create(nb, nl, i64, a[0]);
        Value k = index(loops - 1);
        Value eight = c64(8);
        Value at = arith::MulIOp::create(nb, nl, k, eight);
        Value j = index(loops - 2);
        Value width = c64(bits);
        Value slot = arith::MulIOp::create(nb, nl, j, width);
        Value part = arith::ShRUIOp::create(
            nb, nl, arith::ShLIOp::create(nb, nl, byte, at), slot);
        part = arith::AndIOp::create(nb, nl, part, c64((1 << bits) - 1));
        part = arith::TruncIOp::create(nb, nl, i8, part);
        linalg::YieldOp::create(
            nb, nl, ValueRange{arith::OrIOp::create(nb, nl, a[1], part)});
      });
  return collapseDim(b, loc, generic.getResult(0), rank - 1);
}

//===----------------------------------------------------------------------===//
// seq.quantize
//===----------------------------------------------------------------------===//

} // namespace

/// Three linalg.generics over the input with its quantization axis split
/// into (groups, group): the range of each group (min, max: a reduction),
/// the group parameters (as KV cache quantization computes them, rounded
/// to the scale type), and the codes, clamp(round(...)), stored unsigned;
/// then the packing.
SmallVector<Value> mlir::seq::tolinalg::quantizeToStorage(OpBuilder &rewriter,
                                                          Location loc,
                                                          Value input,
                                                          QuantEncodingAttr enc,
                                                          ValueRange dest) {
  unsigned bits = enc.getBits();
  int64_t axis = enc.getAxis(),
          rank = cast<RankedTensorType>(input.getType()).getRank();
  bool asym = enc.getMode() == QuantMode::Asymmetric;
  Type f32 = rewriter.getF32Type(), st = enc.getScaleType();
  Value x = expandDim(rewriter, loc, input, axis, enc.getGroup());
  int64_t loops = rank + 1; // the group's elements are loop axis + 1

  // The range of each group.
  SmallVector<OpFoldResult> paramSizes =
      tensor::getMixedSizes(rewriter, loc, x);
  paramSizes.erase(paramSizes.begin() + axis + 1);
  Value mn0 =
      filled(rewriter, loc, paramSizes, rewriter.getF32FloatAttr(INFINITY));
  Value mx0 =
      filled(rewriter, loc, paramSizes, rewriter.getF32FloatAttr(-INFINITY));
  AffineMap id = identity(rewriter, loops),
            group = dropLoop(rewriter, loops, axis + 1);
  auto range = linalg::GenericOp::create(
      rewriter, loc, TypeRange{mn0.getType(), mx0.getType()}, ValueRange{x},
      ValueRange{mn0, mx0}, SmallVector<AffineMap>{id, group, group},
      iterators(loops, axis + 1), [&](OpBuilder &b, Location l, ValueRange a) {
        Value v = castFloat(b, l, a[0], f32);
        linalg::YieldOp::create(
            b, l,
            ValueRange{arith::MinimumFOp::create(b, l, a[1], v),
                       arith::MaximumFOp::create(b, l, a[2], v)});
      });

  // Scales (and minima) in the scale type: asymmetric
  // s = (max - min) / (2^b - 1), m = min; symmetric s = max|x| / (2^(b-1)
  // - 1); a scale of zero (after rounding) is 1.
  Value sInit =
      dest.size() > 1
          ? dest[1]
          : tensor::EmptyOp::create(rewriter, loc, paramSizes, st).getResult();
  SmallVector<Value> paramInits{sInit};
  if (asym)
    paramInits.push_back(
        tensor::EmptyOp::create(rewriter, loc, paramSizes, st));
  AffineMap pid = identity(rewriter, rank);
  auto params = linalg::GenericOp::create(
      rewriter, loc, ValueRange(paramInits).getTypes(), range.getResults(),
      paramInits, SmallVector<AffineMap>(2 + paramInits.size(), pid),
      iterators(rank, -1), [&](OpBuilder &b, Location l, ValueRange a) {
        Value mn = a[0], mx = a[1], s;
        if (asym) {
          Value span = arith::SubFOp::create(b, l, mx, mn);
          Value levels = f32Const(b, l, float((1u << bits) - 1));
          s = arith::DivFOp::create(b, l, span, levels);
        } else {
          Value amn = math::AbsFOp::create(b, l, mn);
          Value amx = math::AbsFOp::create(b, l, mx);
          Value amax = arith::MaximumFOp::create(b, l, amn, amx);
          s = arith::DivFOp::create(
              b, l, amax, f32Const(b, l, float((1u << (bits - 1)) - 1)));
        }
        s = castFloat(b, l, s, st);
        Value zero = arith::CmpFOp::create(
            b, l, arith::CmpFPredicate::OEQ, s,
            arith::ConstantOp::create(b, l, b.getFloatAttr(st, 0.0)));
        s = arith::SelectOp::create(
            b, l, zero,
            arith::ConstantOp::create(b, l, b.getFloatAttr(st, 1.0)), s);
        SmallVector<Value> out{s};
        if (asym)
          out.push_back(castFloat(b, l, mn, st));
        linalg::YieldOp::create(b, l, out);
      });

  // Codes: asymmetric clamp(round((x - m) / s), 0, 2^b - 1); symmetric
  // clamp(round(x / s), -M, M) + 2^(b-1), M = 2^(b-1) - 1; rounding ties
  // away from zero. The stored (rounded) parameters are used.
  SmallVector<OpFoldResult> xSizes = tensor::getMixedSizes(rewriter, loc, x);
  Value cInit =
      tensor::EmptyOp::create(rewriter, loc, xSizes, rewriter.getI8Type());
  SmallVector<Value> ins{x};
  llvm::append_range(ins, params.getResults());
  SmallVector<AffineMap> maps{id};
  maps.append(params.getNumResults(), group);
  maps.push_back(id);
  auto codes = linalg::GenericOp::create(
      rewriter, loc, TypeRange{cInit.getType()}, ins, ValueRange{cInit}, maps,
      iterators(loops, -1), [&](OpBuilder &b, Location l, ValueRange a) {
        Value v = castFloat(b, l, a[0], f32);
        Value s = castFloat(b, l, a[1], f32);
        Value q, lo, hi;
        if (asym) {
          Value m = castFloat(b, l, a[2], f32);
          q = arith::DivFOp::create(b, l, arith::SubFOp::create(b, l, v, m), s);
          lo = f32Const(b, l, 0.0f);
          hi = f32Const(b, l, float((1u << bits) - 1));
        } else {
          q = arith::DivFOp::create(b, l, v, s);
          float mx = float((1u << (bits - 1)) - 1);
          lo = f32Const(b, l, -mx);
          hi = f32Const(b, l, mx);
        }
        q = math::RoundOp::create(b, l, q);
        q = arith::MinimumFOp::create(
            b, l, arith::MaximumFOp::create(b, l, q, lo), hi);
        if (!asym)
          q = arith::AddFOp::create(b, l, q,
                                    f32Const(b, l, float(1u << (bits - 1))));
        linalg::YieldOp::create(
            b, l, ValueRange{arith::FPToUIOp::create(b, l, b.getI8Type(), q)});
      });
  Value flat = collapseDim(rewriter, loc, codes.getResult(0), axis);
  SmallVector<Value> results{
      packCodes(rewriter, loc, flat, bits, dest.empty() ? Value() : dest[0])};
  llvm::append_range(results, params.getResults());
  return results;
}

namespace {

struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    QuantEncodingAttr enc = op.getEncoding();
    auto codesType = op.getResult().getType();
    if (!lowerable(codesType, enc))
      return rewriter.notifyMatchFailure(op, "dynamic axis or innermost size");
    SmallVector<Value> stored =
        quantizeToStorage(rewriter, loc, adaptor.getInput(), enc);
    Type packedType = getTypeConverter()->convertType(codesType);
    SmallVector<Value> results{
        castToResultType(rewriter, loc, stored[0], packedType)};
    for (auto [i, r] : llvm::enumerate(ArrayRef(stored).drop_front()))
      results.push_back(
          castToResultType(rewriter, loc, r, op->getResult(i + 1).getType()));
    rewriter.replaceOp(op, results);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// seq.dequantize
//===----------------------------------------------------------------------===//

} // namespace

/// The unpacking, then one linalg.generic over the codes with the
/// quantization axis split into (groups, group): x' = s q (symmetric, q the
/// stored code less 2^(b-1)) or s q + m (asymmetric), in f32.
Value mlir::seq::tolinalg::dequantizeFromStorage(OpBuilder &rewriter,
                                                 Location loc, Value packed,
                                                 ValueRange params, int64_t n,
                                                 QuantEncodingAttr enc,
                                                 Type elt) {
  unsigned bits = enc.getBits();
  int64_t axis = enc.getAxis(),
          rank = cast<RankedTensorType>(packed.getType()).getRank();
  bool asym = enc.getMode() == QuantMode::Asymmetric;
  Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
  Value codes = unpackCodes(rewriter, loc, packed, n, bits);
  codes = expandDim(rewriter, loc, codes, axis, enc.getGroup());
  int64_t loops = rank + 1;
  AffineMap id = identity(rewriter, loops),
            group = dropLoop(rewriter, loops, axis + 1);
  SmallVector<Value> ins{codes};
  llvm::append_range(ins, params);
  SmallVector<AffineMap> maps{id};
  maps.append(ins.size() - 1, group);
  maps.push_back(id);
  Value init = tensor::EmptyOp::create(
      rewriter, loc, tensor::getMixedSizes(rewriter, loc, codes), elt);
  auto generic = linalg::GenericOp::create(
      rewriter, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps,
      iterators(loops, -1), [&](OpBuilder &b, Location l, ValueRange a) {
        Value u = arith::ExtUIOp::create(b, l, i32, a[0]);
        Value s = castFloat(b, l, a[1], f32);
        Value v;
        if (asym) {
          Value q = arith::UIToFPOp::create(b, l, f32, u);
          Value sq = arith::MulFOp::create(b, l, s, q);
          Value m = castFloat(b, l, a[2], f32);
          v = arith::AddFOp::create(b, l, sq, m);
        } else {
          Value q = arith::SIToFPOp::create(
              b, l, f32,
              arith::SubIOp::create(
                  b, l, u,
                  arith::ConstantIntOp::create(b, l, i32, 1 << (bits - 1))));
          v = arith::MulFOp::create(b, l, s, q);
        }
        linalg::YieldOp::create(b, l, ValueRange{castFloat(b, l, v, elt)});
      });
  return collapseDim(rewriter, loc, generic.getResult(0), axis);
}

namespace {

struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    QuantEncodingAttr enc = op.getEncoding();
    auto codesType = op.getInput().getType();
    if (!lowerable(codesType, enc))
      return rewriter.notifyMatchFailure(op, "dynamic axis or innermost size");
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    SmallVector<Value> params{adaptor.getScales()};
    if (enc.getMode() == QuantMode::Asymmetric)
      params.push_back(adaptor.getMinima());
    Value x = dequantizeFromStorage(rewriter, op.getLoc(), adaptor.getInput(),
                                    params, codesType.getShape().back(), enc,
                                    resultType.getElementType());
    rewriter.replaceOp(op,
                       castToResultType(rewriter, op.getLoc(), x, resultType));
    return success();
  }
};

} // namespace

LogicalResult mlir::seq::tolinalg::checkQuantLowerable(Operation *root) {
  WalkResult r = root->walk([](Operation *op) {
    RankedTensorType codes;
    if (auto q = dyn_cast<QuantizeOp>(op))
      codes = q.getResult().getType();
    else if (auto d = dyn_cast<DequantizeOp>(op))
      codes = d.getInput().getType();
    else
      return WalkResult::advance();
    if (lowerable(codes, cast<QuantEncodingAttr>(codes.getEncoding())))
      return WalkResult::advance();
    op->emitOpError() << "cannot be lowered: the innermost dimension and the "
                         "quantization axis must be static, got "
                      << codes;
    return WalkResult::interrupt();
  });
  return failure(r.wasInterrupted());
}

void mlir::seq::tolinalg::populateQuantLoweringPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<QuantizeLowering, DequantizeLowering>(converter,
                                                     patterns.getContext());
}
