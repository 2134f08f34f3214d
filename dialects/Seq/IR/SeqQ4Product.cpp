//===- SeqQ4Product.cpp - the linalg form of a 4-bit weight product -------===//

#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace {

/// The maps of a q4 product over loops (n, t, k): x, w, d, out.
SmallVector<AffineMap> q4Maps(MLIRContext *c) {
  AffineExpr n = getAffineDimExpr(0, c), t = getAffineDimExpr(1, c),
             k = getAffineDimExpr(2, c);
  AffineExpr packed =
      k.floorDiv(seq::kQ4Group) * (seq::kQ4Group / 2) + k % (seq::kQ4Group / 2);
  return {AffineMap::get(3, 0, {t, k}, c), AffineMap::get(3, 0, {n, packed}, c),
          AffineMap::get(3, 0, {n, k.floorDiv(seq::kQ4Group)}, c),
          AffineMap::get(3, 0, {t, n}, c)};
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

} // namespace

linalg::GenericOp seq::buildQ4Product(OpBuilder &b, Location loc, Value x,
                                      Value w, Value d, Value out) {
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  SmallVector<Type, 1> results;
  if (isa<RankedTensorType>(out.getType()))
    results.push_back(out.getType());
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  return linalg::GenericOp::create(
      b, loc, results, ValueRange{x, w, d}, ValueRange{out},
      q4Maps(b.getContext()), iterators,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Type i8 = nb.getI8Type(), f32 = nb.getF32Type();
        auto index = [&](int64_t v) -> Value {
          return arith::ConstantIndexOp::create(nb, nl, v);
        };
        auto byte = [&](int64_t v) -> Value {
          return arith::ConstantIntOp::create(nb, nl, i8, v);
        };
        Value k = linalg::IndexOp::create(nb, nl, 2);
        Value group = index(kQ4Group);
        Value inGroup = arith::RemUIOp::create(nb, nl, k, group);
        Value halfGroup = index(kQ4Group / 2);
        Value half = arith::DivUIOp::create(nb, nl, inGroup, halfGroup);
        Value halfByte = arith::IndexCastOp::create(nb, nl, i8, half);
        Value four = byte(4);
        Value shift = arith::MulIOp::create(nb, nl, halfByte, four);
        Value shifted = arith::ShRUIOp::create(nb, nl, a[1], shift);
        Value mask = byte(15);
        Value code = arith::AndIOp::create(nb, nl, shifted, mask);
        Value codeF = arith::UIToFPOp::create(nb, nl, f32, code);
        Value eight = arith::ConstantFloatOp::create(
            nb, nl, cast<FloatType>(f32), APFloat(8.0f));
        Value centered = arith::SubFOp::create(nb, nl, codeF, eight);
        Value scale = arith::ExtFOp::create(nb, nl, f32, a[2]);
        Value weight = arith::MulFOp::create(nb, nl, centered, scale);
        Value term = arith::MulFOp::create(nb, nl, a[0], weight, fm);
        Value sum = arith::AddFOp::create(nb, nl, a[3], term, fm);
        linalg::YieldOp::create(nb, nl, sum);
      });
}

bool seq::isQ4Product(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 3 || op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() != q4Maps(op.getContext()) ||
      op.getIteratorTypesArray() !=
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel,
                                           utils::IteratorType::reduction})
    return false;
  auto shaped = [&](Value v) { return dyn_cast<ShapedType>(v.getType()); };
  ShapedType x = shaped(op.getDpsInputs()[0]), w = shaped(op.getDpsInputs()[1]),
             d = shaped(op.getDpsInputs()[2]), y = shaped(op.getDpsInits()[0]);
  if (!x || !w || !d || !y || x.getRank() != 2 || w.getRank() != 2 ||
      d.getRank() != 2 || y.getRank() != 2 || !x.getElementType().isF32() ||
      !w.getElementType().isInteger(8) || !d.getElementType().isF16() ||
      !y.getElementType().isF32())
    return false;
  int64_t K = x.getDimSize(1);
  if (ShapedType::isDynamic(K) || K <= 0 || K % kQ4Group ||
      w.getDimSize(1) != K / 2 || d.getDimSize(1) != K / kQ4Group)
    return false;

  // Nothing but the 13 ops of the form (and constants, unless they were
  // moved out): the chain below accounts for each of them.
  Block *body = op.getBody();
  int64_t ops = 0;
  for (Operation &inner : body->without_terminator()) {
    if (!isMemoryEffectFree(&inner) || inner.getNumRegions())
      return false;
    ops += !matchPattern(&inner, m_Constant());
  }
  if (ops != 13)
    return false;
  Value xArg = body->getArgument(0), wArg = body->getArgument(1),
        dArg = body->getArgument(2), acc = body->getArgument(3);
  Value yielded = cast<linalg::YieldOp>(body->getTerminator()).getOperand(0);
  auto is = [](Value want) { return [want](Value v) { return v == want; }; };
  auto sum = commuted<arith::AddFOp>(yielded, is(acc));
  auto term =
      sum ? commuted<arith::MulFOp>(sum->second, is(xArg)) : std::nullopt;
  auto weight =
      term ? commuted<arith::MulFOp>(term->second,
                                     [&](Value v) {
                                       auto ext =
                                           v.getDefiningOp<arith::ExtFOp>();
                                       return ext && ext.getIn() == dArg;
                                     })
           : std::nullopt;
  auto centered =
      weight ? weight->second.getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  if (!centered || !isFloat(centered.getRhs(), 8.0))
    return false;
  auto codeF = centered.getLhs().getDefiningOp<arith::UIToFPOp>();
  auto code = codeF ? commuted<arith::AndIOp>(
                          codeF.getIn(), [](Value v) { return isInt(v, 15); })
                    : std::nullopt;
  auto shifted =
      code ? code->second.getDefiningOp<arith::ShRUIOp>() : arith::ShRUIOp();
  return shifted && shifted.getLhs() == wArg && isNibbleShift(shifted.getRhs());
}
