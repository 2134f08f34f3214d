//===- SeqQ4Product.cpp - the linalg form of a 4-bit weight product -------===//

#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace {

/// The maps of a q4 product over loops (n, t, k): x, w, d, out; of a q4k
/// product: x, w, sc, m, d, dmin, out.
SmallVector<AffineMap> q4Maps(MLIRContext *c, bool q4k = false) {
  AffineExpr n = getAffineDimExpr(0, c), t = getAffineDimExpr(1, c),
             k = getAffineDimExpr(2, c);
  AffineExpr packed =
      k.floorDiv(seq::kQ4Group) * (seq::kQ4Group / 2) + k % (seq::kQ4Group / 2);
  AffineMap x = AffineMap::get(3, 0, {t, k}, c),
            w = AffineMap::get(3, 0, {n, packed}, c),
            group = AffineMap::get(3, 0, {n, k.floorDiv(seq::kQ4Group)}, c),
            out = AffineMap::get(3, 0, {t, n}, c);
  if (!q4k)
    return {x, w, group, out};
  AffineMap super =
      AffineMap::get(3, 0, {n, k.floorDiv(seq::kQ4KSuperBlock)}, c);
  return {x, w, group, group, super, super, out};
}

SmallVector<utils::IteratorType> q4Iterators() {
  return {utils::IteratorType::parallel, utils::IteratorType::parallel,
          utils::IteratorType::reduction};
}

bool isInt(Value v, int64_t expected) {
  APInt value;
  return matchPattern(v, m_ConstantInt(&value)) &&
         value.getSExtValue() == expected;
}

bool isFloat(Value v, double expected) {
  APFloat value(0.0);
  return matchPattern(v, m_ConstantFloat(&value)) &&
         value.convertToDouble() == expected;
}

/// The operands of `v`'s defining OpT, the one satisfying `first` first
/// (either order: the op commutes); nullopt if there is no such op.
template <typename OpT>
std::optional<std::pair<Value, Value>>
commuted(Value v, function_ref<bool(Value)> first) {
  auto op = v.getDefiningOp<OpT>();
  if (!op)
    return std::nullopt;
  if (first(op.getLhs()))
    return std::make_pair(op.getLhs(), op.getRhs());
  if (first(op.getRhs()))
    return std::make_pair(op.getRhs(), op.getLhs());
  return std::nullopt;
}

/// shift = 4 * ((k mod 32) / 16) as i8, with k the reduction index.
bool isNibbleShift(Value v) {
  auto mul = commuted<arith::MulIOp>(v, [](Value a) { return isInt(a, 4); });
  if (!mul)
    return false;
  auto cast = mul->second.getDefiningOp<arith::IndexCastOp>();
  auto div =
      cast ? cast.getIn().getDefiningOp<arith::DivUIOp>() : arith::DivUIOp();
  if (!div || !isInt(div.getRhs(), seq::kQ4Group / 2))
    return false;
  auto rem = div.getLhs().getDefiningOp<arith::RemUIOp>();
  if (!rem || !isInt(rem.getRhs(), seq::kQ4Group))
    return false;
  auto index = rem.getLhs().getDefiningOp<linalg::IndexOp>();
  return index && index.getDim() == 2;
}

/// The code of channel k as f32: uitofp((w >> shift) & 15).
Value buildCode(OpBuilder &nb, Location nl, Value w) {
  Type i8 = nb.getI8Type(), f32 = nb.getF32Type();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(nb, nl, v);
  };
  auto byte = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(nb, nl, i8, v);
  };
  Value k = linalg::IndexOp::create(nb, nl, 2);
  Value group = index(seq::kQ4Group);
  Value inGroup = arith::RemUIOp::create(nb, nl, k, group);
  Value halfGroup = index(seq::kQ4Group / 2);
  Value half = arith::DivUIOp::create(nb, nl, inGroup, halfGroup);
  Value halfByte = arith::IndexCastOp::create(nb, nl, i8, half);
  Value four = byte(4);
  Value shift = arith::MulIOp::create(nb, nl, halfByte, four);
  Value shifted = arith::ShRUIOp::create(nb, nl, w, shift);
  Value mask = byte(15);
  Value code = arith::AndIOp::create(nb, nl, shifted, mask);
  return arith::UIToFPOp::create(nb, nl, f32, code);
}

/// Whether `codeF` is buildCode's value of `wArg`.
bool isCode(Value codeF, Value wArg) {
  auto toFloat = codeF.getDefiningOp<arith::UIToFPOp>();
  auto code =
      toFloat ? commuted<arith::AndIOp>(toFloat.getIn(),
                                        [](Value v) { return isInt(v, 15); })
              : std::nullopt;
  auto shifted =
      code ? code->second.getDefiningOp<arith::ShRUIOp>() : arith::ShRUIOp();
  return shifted && shifted.getLhs() == wArg && isNibbleShift(shifted.getRhs());
}

/// Whether `v` is extf(`arg`).
bool isExtOf(Value v, Value arg) {
  auto ext = v.getDefiningOp<arith::ExtFOp>();
  return ext && ext.getIn() == arg;
}

/// Whether `v` is uitofp(`arg`).
bool isUnsignedOf(Value v, Value arg) {
  auto cast = v.getDefiningOp<arith::UIToFPOp>();
  return cast && cast.getIn() == arg;
}

/// Whether `v` is extf(`factor`) * uitofp(`count`), in either order.
bool isScaledCount(Value v, Value factor, Value count) {
  auto mul =
      commuted<arith::MulFOp>(v, [&](Value a) { return isExtOf(a, factor); });
  return mul && isUnsignedOf(mul->second, count);
}

/// Whether the product's operands have the form's types and shapes: x [T,
/// K] f32 with K static, positive and a multiple of 32, w [N, K / 2] i8,
/// the group tables [N, K / 32] and super-block ones [N, ceil(K / 256)] of
/// the given element types, out [T, N] f32.
bool hasQ4Operands(linalg::GenericOp op, ArrayRef<Type> groupTypes,
                   ArrayRef<Type> superTypes) {
  auto shaped = [&](Value v) { return dyn_cast<ShapedType>(v.getType()); };
  auto ins = op.getDpsInputs();
  if (ins.size() != 2 + groupTypes.size() + superTypes.size())
    return false;
  ShapedType x = shaped(ins[0]), w = shaped(ins[1]),
             y = shaped(op.getDpsInits()[0]);
  if (!x || !w || !y || x.getRank() != 2 || w.getRank() != 2 ||
      y.getRank() != 2 || !x.getElementType().isF32() ||
      !w.getElementType().isInteger(8) || !y.getElementType().isF32())
    return false;
  int64_t K = x.getDimSize(1);
  if (ShapedType::isDynamic(K) || K <= 0 || K % seq::kQ4Group ||
      w.getDimSize(1) != K / 2)
    return false;
  int64_t supers = llvm::divideCeil(K, seq::kQ4KSuperBlock);
  for (auto [i, type] :
       llvm::enumerate(llvm::concat<const Type>(groupTypes, superTypes))) {
    ShapedType t = shaped(ins[2 + i]);
    int64_t want = i < groupTypes.size() ? K / seq::kQ4Group : supers;
    if (!t || t.getRank() != 2 || t.getElementType() != type ||
        t.getDimSize(1) != want)
      return false;
  }
  return true;
}

/// Whether the body holds nothing but `count` ops (and constants, unless
/// they were moved out), none with effects or regions.
bool hasBodyOps(linalg::GenericOp op, int64_t count) {
  int64_t ops = 0;
  for (Operation &inner : op.getBody()->without_terminator()) {
    if (!isMemoryEffectFree(&inner) || inner.getNumRegions())
      return false;
    ops += !matchPattern(&inner, m_Constant());
  }
  return ops == count;
}

} // namespace

/// The generic over (n, t, k) of `ins` into `out` whose body yields
/// acc + x * weight(body args).
static linalg::GenericOp
buildProduct(OpBuilder &b, Location loc, ValueRange ins, Value out,
             ArrayRef<AffineMap> maps,
             function_ref<Value(OpBuilder &, Location, ValueRange)> weight) {
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  SmallVector<Type, 1> results;
  if (isa<RankedTensorType>(out.getType()))
    results.push_back(out.getType());
  return linalg::GenericOp::create(
      b, loc, results, ins, ValueRange{out}, maps, q4Iterators(),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value w = weight(nb, nl, a);
        Value term = arith::MulFOp::create(nb, nl, a[0], w, fm);
        Value sum = arith::AddFOp::create(nb, nl, a.back(), term, fm);
        linalg::YieldOp::create(nb, nl, sum);
      });
}

linalg::GenericOp seq::buildQ4Product(OpBuilder &b, Location loc, Value x,
                                      Value w, Value d, Value out) {
  return buildProduct(b, loc, ValueRange{x, w, d}, out, q4Maps(b.getContext()),
                      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                        Type f32 = nb.getF32Type();
                        Value codeF = buildCode(nb, nl, a[1]);
                        Value eight = arith::ConstantFloatOp::create(
                            nb, nl, cast<FloatType>(f32), APFloat(8.0f));
                        Value centered =
                            arith::SubFOp::create(nb, nl, codeF, eight);
                        Value scale = arith::ExtFOp::create(nb, nl, f32, a[2]);
                        return arith::MulFOp::create(nb, nl, centered, scale);
                      });
}

linalg::GenericOp seq::buildQ4KProduct(OpBuilder &b, Location loc, Value x,
                                       Value w, Value sc, Value m, Value d,
                                       Value dmin, Value out) {
  return buildProduct(b, loc, ValueRange{x, w, sc, m, d, dmin}, out,
                      q4Maps(b.getContext(), /*q4k=*/true),
                      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                        Type f32 = nb.getF32Type();
                        Value codeF = buildCode(nb, nl, a[1]);
                        Value dF = arith::ExtFOp::create(nb, nl, f32, a[4]);
                        Value scF = arith::UIToFPOp::create(nb, nl, f32, a[2]);
                        Value step = arith::MulFOp::create(nb, nl, dF, scF);
                        Value dminF = arith::ExtFOp::create(nb, nl, f32, a[5]);
                        Value mF = arith::UIToFPOp::create(nb, nl, f32, a[3]);
                        Value offset = arith::MulFOp::create(nb, nl, dminF, mF);
                        Value scaled =
                            arith::MulFOp::create(nb, nl, codeF, step);
                        return arith::SubFOp::create(nb, nl, scaled, offset);
                      });
}

/// The weight term of a product's body: acc + x * weight yielded, with
/// acc and x the body's last and first arguments; null otherwise.
static Value productWeight(linalg::GenericOp op) {
  Block *body = op.getBody();
  Value xArg = body->getArgument(0), acc = body->getArguments().back();
  Value yielded = cast<linalg::YieldOp>(body->getTerminator()).getOperand(0);
  auto is = [](Value want) { return [want](Value v) { return v == want; }; };
  auto sum = commuted<arith::AddFOp>(yielded, is(acc));
  auto term =
      sum ? commuted<arith::MulFOp>(sum->second, is(xArg)) : std::nullopt;
  return term ? term->second : Value();
}

bool seq::isQ4Product(linalg::GenericOp op) {
  MLIRContext *c = op.getContext();
  if (op.getNumDpsInits() != 1 || op.getIndexingMapsArray() != q4Maps(c) ||
      op.getIteratorTypesArray() != q4Iterators() ||
      !hasQ4Operands(op, {Float16Type::get(c)}, {}) || !hasBodyOps(op, 13))
    return false;
  // The 13 ops: the code's 8, then (code - 8) * extf(d), the term, the sum.
  Block *body = op.getBody();
  Value wArg = body->getArgument(1), dArg = body->getArgument(2);
  Value weight = productWeight(op);
  auto scaled = weight ? commuted<arith::MulFOp>(
                             weight, [&](Value v) { return isExtOf(v, dArg); })
                       : std::nullopt;
  auto centered =
      scaled ? scaled->second.getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  return centered && isFloat(centered.getRhs(), 8.0) &&
         isCode(centered.getLhs(), wArg);
}

bool seq::isQ4KProduct(linalg::GenericOp op) {
  MLIRContext *c = op.getContext();
  Type i8 = IntegerType::get(c, 8), f16 = Float16Type::get(c);
  if (op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() != q4Maps(c, /*q4k=*/true) ||
      op.getIteratorTypesArray() != q4Iterators() ||
      !hasQ4Operands(op, {i8, i8}, {f16, f16}) || !hasBodyOps(op, 18))
    return false;
  // The 18 ops: the code's 8, d * sc and dmin * m (3 each), code * step,
  // minus the offset, the term, the sum.
  Block *body = op.getBody();
  Value wArg = body->getArgument(1), scArg = body->getArgument(2),
        mArg = body->getArgument(3), dArg = body->getArgument(4),
        dminArg = body->getArgument(5);
  Value weight = productWeight(op);
  auto diff = weight ? weight.getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  if (!diff || !isScaledCount(diff.getRhs(), dminArg, mArg))
    return false;
  auto scaled = commuted<arith::MulFOp>(
      diff.getLhs(), [&](Value v) { return isScaledCount(v, dArg, scArg); });
  return scaled && isCode(scaled->second, wArg);
}
