//===- SeqQ4Product.cpp - the linalg form of a 4-bit weight product -------===//

#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace {

/// The maps of a group product over loops (n, t, k): x, w, the bit planes
/// (q5, q6, q5k, q6k), then d (q4 .. q8), sc, m, d, dmin (q4k, q5k) or
/// sc, d (q6k), out.
SmallVector<AffineMap> q4Maps(MLIRContext *c, seq::GroupFormat format) {
  AffineExpr n = getAffineDimExpr(0, c), t = getAffineDimExpr(1, c),
             k = getAffineDimExpr(2, c);
  AffineExpr packed =
      k.floorDiv(seq::kQ4Group) * (seq::kQ4Group / 2) + k % (seq::kQ4Group / 2);
  auto map = [&](AffineExpr col) { return AffineMap::get(3, 0, {n, col}, c); };
  AffineMap x = AffineMap::get(3, 0, {t, k}, c),
            group = map(k.floorDiv(seq::kQ4Group)),
            out = AffineMap::get(3, 0, {t, n}, c);
  SmallVector<AffineMap> maps = {x};
  maps.push_back(format == seq::GroupFormat::Q8 ? map(k) : map(packed));
  for (int64_t b = 4; b < seq::codeBits(format); ++b)
    if (format != seq::GroupFormat::Q8)
      maps.push_back(map(k.floorDiv(8)));
  if (format == seq::GroupFormat::Q6K) {
    llvm::append_values(maps, map(k.floorDiv(seq::kQ6KSubBlock)),
                        map(k.floorDiv(seq::kQ4KSuperBlock)), out);
    return maps;
  }
  maps.push_back(group);
  if (format == seq::GroupFormat::Q4K || format == seq::GroupFormat::Q5K) {
    AffineMap super = map(k.floorDiv(seq::kQ4KSuperBlock));
    llvm::append_values(maps, group, super, super);
  }
  maps.push_back(out);
  return maps;
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

/// Bits 0..3 of channel k's code: (w >> shift) & 15, with k = `k`.
Value buildNibble(OpBuilder &nb, Location nl, Value k, Value w) {
  Type i8 = nb.getI8Type();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(nb, nl, v);
  };
  auto byte = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(nb, nl, i8, v);
  };
  Value group = index(seq::kQ4Group);
  Value inGroup = arith::RemUIOp::create(nb, nl, k, group);
  Value halfGroup = index(seq::kQ4Group / 2);
  Value half = arith::DivUIOp::create(nb, nl, inGroup, halfGroup);
  Value halfByte = arith::IndexCastOp::create(nb, nl, i8, half);
  Value four = byte(4);
  Value shift = arith::MulIOp::create(nb, nl, halfByte, four);
  Value shifted = arith::ShRUIOp::create(nb, nl, w, shift);
  Value mask = byte(15);
  return arith::AndIOp::create(nb, nl, shifted, mask);
}

/// The code of channel k as f32: the nibble of `w`, with bit 4 + i from
/// plane `bits[i]` ((bits[i] >> (k % 8)) & 1), unsigned.
Value buildCode(OpBuilder &nb, Location nl, Value w, ValueRange bits = {}) {
  Type i8 = nb.getI8Type(), f32 = nb.getF32Type();
  Value k = linalg::IndexOp::create(nb, nl, 2);
  Value code = buildNibble(nb, nl, k, w);
  if (!bits.empty()) {
    Value eight = arith::ConstantIndexOp::create(nb, nl, 8);
    Value inByte = arith::RemUIOp::create(nb, nl, k, eight);
    Value bitShift = arith::IndexCastOp::create(nb, nl, i8, inByte);
    for (auto [i, plane] : llvm::enumerate(bits)) {
      Value shifted = arith::ShRUIOp::create(nb, nl, plane, bitShift);
      Value one = arith::ConstantIntOp::create(nb, nl, i8, 1);
      Value bit = arith::AndIOp::create(nb, nl, shifted, one);
      Value at = arith::ConstantIntOp::create(nb, nl, i8, 4 + i);
      Value high = arith::ShLIOp::create(nb, nl, bit, at);
      code = arith::OrIOp::create(nb, nl, code, high);
    }
  }
  return arith::UIToFPOp::create(nb, nl, f32, code);
}

/// Whether `v` is i8(k % 8), with k the reduction index.
bool isBitShift(Value v) {
  auto cast = v.getDefiningOp<arith::IndexCastOp>();
  auto rem =
      cast ? cast.getIn().getDefiningOp<arith::RemUIOp>() : arith::RemUIOp();
  auto index = rem && isInt(rem.getRhs(), 8)
                   ? rem.getLhs().getDefiningOp<linalg::IndexOp>()
                   : linalg::IndexOp();
  return index && index.getDim() == 2;
}

/// Whether `v` is ((`plane` >> (k % 8)) & 1) << `at`.
bool isPlaneBit(Value v, Value plane, int64_t at) {
  auto shl = v.getDefiningOp<arith::ShLIOp>();
  if (!shl || !isInt(shl.getRhs(), at))
    return false;
  auto bit = commuted<arith::AndIOp>(shl.getLhs(),
                                     [](Value a) { return isInt(a, 1); });
  auto shifted =
      bit ? bit->second.getDefiningOp<arith::ShRUIOp>() : arith::ShRUIOp();
  return shifted && shifted.getLhs() == plane && isBitShift(shifted.getRhs());
}

/// Whether `code` (i8) is buildCode's integer code of `wArg` and `bits`.
bool isCodeBits(Value code, Value wArg, ArrayRef<Value> bits) {
  if (bits.empty()) {
    auto nibble =
        commuted<arith::AndIOp>(code, [](Value v) { return isInt(v, 15); });
    auto shifted = nibble ? nibble->second.getDefiningOp<arith::ShRUIOp>()
                          : arith::ShRUIOp();
    return shifted && shifted.getLhs() == wArg &&
           isNibbleShift(shifted.getRhs());
  }
  int64_t at = 4 + bits.size() - 1;
  auto joined = commuted<arith::OrIOp>(
      code, [&](Value v) { return isPlaneBit(v, bits.back(), at); });
  return joined && isCodeBits(joined->second, wArg, bits.drop_back());
}

/// Whether `codeF` is buildCode's value of `wArg` and `bits`.
bool isCode(Value codeF, Value wArg, ArrayRef<Value> bits = {}) {
  auto toFloat = codeF.getDefiningOp<arith::UIToFPOp>();
  return toFloat && isCodeBits(toFloat.getIn(), wArg, bits);
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

/// A table operand of a group product: its element type and the channels
/// of K each of its columns covers (its width is ceil(K / per)).
struct Table {
  Type type;
  int64_t per;
};

/// Whether the product's operands have the form's types and shapes: x [T,
/// K] f32 with K static, positive and a multiple of 32, w [N, K / `perByte`]
/// i8, then `tables`, out [T, N] f32.
bool hasQ4Operands(linalg::GenericOp op, int64_t perByte,
                   ArrayRef<Table> tables) {
  auto shaped = [&](Value v) { return dyn_cast<ShapedType>(v.getType()); };
  auto ins = op.getDpsInputs();
  if (ins.size() != 2 + tables.size())
    return false;
  ShapedType x = shaped(ins[0]), w = shaped(ins[1]),
             y = shaped(op.getDpsInits()[0]);
  if (!x || !w || !y || x.getRank() != 2 || w.getRank() != 2 ||
      y.getRank() != 2 || !x.getElementType().isF32() ||
      !w.getElementType().isInteger(8) || !y.getElementType().isF32())
    return false;
  int64_t K = x.getDimSize(1);
  if (ShapedType::isDynamic(K) || K <= 0 || K % seq::kQ4Group ||
      w.getDimSize(1) != K / perByte)
    return false;
  for (auto [i, table] : llvm::enumerate(tables)) {
    ShapedType t = shaped(ins[2 + i]);
    if (!t || t.getRank() != 2 || t.getElementType() != table.type ||
        t.getDimSize(1) != (int64_t)llvm::divideCeil(K, table.per))
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

int64_t seq::codeBits(GroupFormat format) {
  switch (format) {
  case GroupFormat::Q4:
  case GroupFormat::Q4K:
    return 4;
  case GroupFormat::Q5:
  case GroupFormat::Q5K:
    return 5;
  case GroupFormat::Q6:
  case GroupFormat::Q6K:
    return 6;
  case GroupFormat::Q8:
    return 8;
  }
  llvm_unreachable("unknown group format");
}

linalg::GenericOp seq::buildQ4Product(OpBuilder &b, Location loc, Value x,
                                      Value w, ValueRange bits, Value d,
                                      Value out) {
  assert(bits.size() <= 2 && "q4, q5 or q6");
  auto format = bits.empty()       ? GroupFormat::Q4
                : bits.size() == 1 ? GroupFormat::Q5
                                   : GroupFormat::Q6;
  SmallVector<Value> ins = {x, w};
  llvm::append_range(ins, bits);
  ins.push_back(d);
  int64_t planes = bits.size();
  return buildProduct(
      b, loc, ins, out, q4Maps(b.getContext(), format),
      [planes](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Type f32 = nb.getF32Type();
        Value codeF = buildCode(nb, nl, a[1], a.slice(2, planes));
        Value middle = arith::ConstantFloatOp::create(
            nb, nl, cast<FloatType>(f32), APFloat(float(8 << planes)));
        Value centered = arith::SubFOp::create(nb, nl, codeF, middle);
        Value scale = arith::ExtFOp::create(nb, nl, f32, a[2 + planes]);
        return arith::MulFOp::create(nb, nl, centered, scale);
      });
}

linalg::GenericOp seq::buildQ8Product(OpBuilder &b, Location loc, Value x,
                                      Value w, Value d, Value out) {
  return buildProduct(b, loc, ValueRange{x, w, d}, out,
                      q4Maps(b.getContext(), GroupFormat::Q8),
                      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                        Type f32 = nb.getF32Type();
                        Value code = arith::SIToFPOp::create(nb, nl, f32, a[1]);
                        Value scale = arith::ExtFOp::create(nb, nl, f32, a[2]);
                        return arith::MulFOp::create(nb, nl, code, scale);
                      });
}

linalg::GenericOp seq::buildQ4KProduct(OpBuilder &b, Location loc, Value x,
                                       Value w, ValueRange bits, Value sc,
                                       Value m, Value d, Value dmin,
                                       Value out) {
  assert(bits.size() <= 1 && "q4k or q5k");
  SmallVector<Value> ins = {x, w};
  llvm::append_range(ins, bits);
  llvm::append_values(ins, sc, m, d, dmin);
  int64_t planes = bits.size();
  return buildProduct(
      b, loc, ins, out,
      q4Maps(b.getContext(), planes ? GroupFormat::Q5K : GroupFormat::Q4K),
      [planes](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Type f32 = nb.getF32Type();
        ValueRange t = a.drop_front(2 + planes); // sc, m, d, dmin
        Value codeF = buildCode(nb, nl, a[1], a.slice(2, planes));
        Value dF = arith::ExtFOp::create(nb, nl, f32, t[2]);
        Value scF = arith::UIToFPOp::create(nb, nl, f32, t[0]);
        Value step = arith::MulFOp::create(nb, nl, dF, scF);
        Value dminF = arith::ExtFOp::create(nb, nl, f32, t[3]);
        Value mF = arith::UIToFPOp::create(nb, nl, f32, t[1]);
        Value offset = arith::MulFOp::create(nb, nl, dminF, mF);
        Value scaled = arith::MulFOp::create(nb, nl, codeF, step);
        return arith::SubFOp::create(nb, nl, scaled, offset);
      });
}

linalg::GenericOp seq::buildQ6KProduct(OpBuilder &b, Location loc, Value x,
                                       Value w, Value bit4, Value bit5,
                                       Value sc, Value d, Value out) {
  return buildProduct(b, loc, ValueRange{x, w, bit4, bit5, sc, d}, out,
                      q4Maps(b.getContext(), GroupFormat::Q6K),
                      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                        Type f32 = nb.getF32Type();
                        Value codeF = buildCode(nb, nl, a[1], a.slice(2, 2));
                        Value middle = arith::ConstantFloatOp::create(
                            nb, nl, cast<FloatType>(f32), APFloat(32.0f));
                        Value centered =
                            arith::SubFOp::create(nb, nl, codeF, middle);
                        Value dF = arith::ExtFOp::create(nb, nl, f32, a[5]);
                        Value scF = arith::SIToFPOp::create(nb, nl, f32, a[4]);
                        Value step = arith::MulFOp::create(nb, nl, dF, scF);
                        return arith::MulFOp::create(nb, nl, centered, step);
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

/// Whether `op` is buildQ4Product's product with `planes` bit planes.
static bool isQ4Product(linalg::GenericOp op, int64_t planes) {
  MLIRContext *c = op.getContext();
  auto format = planes == 0   ? seq::GroupFormat::Q4
                : planes == 1 ? seq::GroupFormat::Q5
                              : seq::GroupFormat::Q6;
  SmallVector<Table> tables(planes, Table{IntegerType::get(c, 8), 8});
  tables.push_back({Float16Type::get(c), seq::kQ4Group});
  // The ops: the code's 8 (2 more with planes, then 4 per plane), then
  // (code - middle) * extf(d), the term, the sum.
  int64_t ops = 13 + (planes ? 2 + 4 * planes : 0);
  if (op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() != q4Maps(c, format) ||
      op.getIteratorTypesArray() != q4Iterators() ||
      !hasQ4Operands(op, 2, tables) || !hasBodyOps(op, ops))
    return false;
  Block *body = op.getBody();
  Value wArg = body->getArgument(1), dArg = body->getArgument(2 + planes);
  SmallVector<Value> bits;
  for (int64_t i = 0; i < planes; ++i)
    bits.push_back(body->getArgument(2 + i));
  Value weight = productWeight(op);
  auto scaled = weight ? commuted<arith::MulFOp>(
                             weight, [&](Value v) { return isExtOf(v, dArg); })
                       : std::nullopt;
  auto centered =
      scaled ? scaled->second.getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  return centered && isFloat(centered.getRhs(), 8 << planes) &&
         isCode(centered.getLhs(), wArg, bits);
}

/// Whether `op` is buildQ8Product's product.
static bool isQ8Product(linalg::GenericOp op) {
  MLIRContext *c = op.getContext();
  if (op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() != q4Maps(c, seq::GroupFormat::Q8) ||
      op.getIteratorTypesArray() != q4Iterators() ||
      !hasQ4Operands(op, 1, {{Float16Type::get(c), seq::kQ4Group}}) ||
      !hasBodyOps(op, 5))
    return false;
  // The 5 ops: sitofp(w) * extf(d), the term, the sum.
  Block *body = op.getBody();
  Value wArg = body->getArgument(1), dArg = body->getArgument(2);
  Value weight = productWeight(op);
  auto scaled = weight ? commuted<arith::MulFOp>(
                             weight, [&](Value v) { return isExtOf(v, dArg); })
                       : std::nullopt;
  auto code = scaled ? scaled->second.getDefiningOp<arith::SIToFPOp>()
                     : arith::SIToFPOp();
  return code && code.getIn() == wArg;
}

/// Whether `op` is buildQ4KProduct's product with `planes` bit planes (q4k:
/// none, q5k: one).
static bool isQ4KProduct(linalg::GenericOp op, int64_t planes) {
  MLIRContext *c = op.getContext();
  Type i8 = IntegerType::get(c, 8), f16 = Float16Type::get(c);
  SmallVector<Table> tables(planes, Table{i8, 8});
  llvm::append_values(tables, Table{i8, seq::kQ4Group},
                      Table{i8, seq::kQ4Group}, Table{f16, seq::kQ4KSuperBlock},
                      Table{f16, seq::kQ4KSuperBlock});
  auto format = planes ? seq::GroupFormat::Q5K : seq::GroupFormat::Q4K;
  if (op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() != q4Maps(c, format) ||
      op.getIteratorTypesArray() != q4Iterators() ||
      !hasQ4Operands(op, 2, tables) ||
      !hasBodyOps(op, 18 + (planes ? 2 + 4 * planes : 0)))
    return false;
  // The 18 ops (24 with a plane): the code's 8 (and the plane's), d * sc
  // and dmin * m (3 each), code * step, minus the offset, the term, the
  // sum.
  Block *body = op.getBody();
  SmallVector<Value> bits;
  for (int64_t i = 0; i < planes; ++i)
    bits.push_back(body->getArgument(2 + i));
  Value wArg = body->getArgument(1), scArg = body->getArgument(2 + planes),
        mArg = body->getArgument(3 + planes),
        dArg = body->getArgument(4 + planes),
        dminArg = body->getArgument(5 + planes);
  Value weight = productWeight(op);
  auto diff = weight ? weight.getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  if (!diff || !isScaledCount(diff.getRhs(), dminArg, mArg))
    return false;
  auto scaled = commuted<arith::MulFOp>(
      diff.getLhs(), [&](Value v) { return isScaledCount(v, dArg, scArg); });
  return scaled && isCode(scaled->second, wArg, bits);
}

/// Whether `v` is extf(`factor`) * sitofp(`scale`), in either order.
static bool isSignedScale(Value v, Value factor, Value scale) {
  auto mul =
      commuted<arith::MulFOp>(v, [&](Value a) { return isExtOf(a, factor); });
  auto cast =
      mul ? mul->second.getDefiningOp<arith::SIToFPOp>() : arith::SIToFPOp();
  return cast && cast.getIn() == scale;
}

static bool isQ6KProduct(linalg::GenericOp op) {
  MLIRContext *c = op.getContext();
  Type i8 = IntegerType::get(c, 8), f16 = Float16Type::get(c);
  if (op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() != q4Maps(c, seq::GroupFormat::Q6K) ||
      op.getIteratorTypesArray() != q4Iterators() ||
      !hasQ4Operands(op, 2,
                     {{i8, 8},
                      {i8, 8},
                      {i8, seq::kQ6KSubBlock},
                      {f16, seq::kQ4KSuperBlock}}) ||
      !hasBodyOps(op, 25))
    return false;
  // The 25 ops: the code's 18, minus the middle, d * sc (3), the weight,
  // the term, the sum.
  Block *body = op.getBody();
  Value wArg = body->getArgument(1), scArg = body->getArgument(4),
        dArg = body->getArgument(5);
  Value bits[2] = {body->getArgument(2), body->getArgument(3)};
  Value weight = productWeight(op);
  auto scaled =
      weight
          ? commuted<arith::MulFOp>(
                weight, [&](Value v) { return isSignedScale(v, dArg, scArg); })
          : std::nullopt;
  auto centered =
      scaled ? scaled->second.getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  return centered && isFloat(centered.getRhs(), 32) &&
         isCode(centered.getLhs(), wArg, bits);
}

std::optional<seq::GroupFormat> seq::matchGroupProduct(linalg::GenericOp op) {
  switch (op.getNumDpsInputs()) {
  case 3:
    if (isQ4Product(op, 0))
      return GroupFormat::Q4;
    if (isQ8Product(op))
      return GroupFormat::Q8;
    break;
  case 4:
    if (isQ4Product(op, 1))
      return GroupFormat::Q5;
    break;
  case 5:
    if (isQ4Product(op, 2))
      return GroupFormat::Q6;
    break;
  case 6:
    if (isQ4KProduct(op, 0))
      return GroupFormat::Q4K;
    if (isQ6KProduct(op))
      return GroupFormat::Q6K;
    break;
  case 7:
    if (isQ4KProduct(op, 1))
      return GroupFormat::Q5K;
    break;
  }
  return std::nullopt;
}
