//===- SeqOps.cpp - seq dialect operations --------------------------------===//

#include "dialects/Seq/IR/SeqOps.h"
#include "dialects/Seq/IR/SeqStateLayout.h"
#include "dialects/Seq/IR/SeqVerify.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::verify;

#define GET_OP_CLASSES
#include "dialects/Seq/IR/SeqOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared verification helpers (the general ones: SeqVerify.h)
//===----------------------------------------------------------------------===//

/// The channel count C of a [T, C] sequence operand, which must be static.
static FailureOr<int64_t> staticChannels(Operation *op, StringRef name,
                                         ShapedType seq) {
  int64_t c = seq.getDimSize(1);
  if (ShapedType::isDynamic(c))
    return op->emitOpError()
           << "channel dimension of " << name << " must be static";
  return c;
}

/// Checks the state of a WKV op whose `state_quant` is set: `enc` can keep
/// the quantized tensor `shape` (grouped along `valueAxis`), and the state
/// has `expected` shape (the words of its layout).
static LogicalResult verifyQuantizedState(Operation *op, QuantEncodingAttr enc,
                                          ArrayRef<int64_t> shape,
                                          int64_t valueAxis, ShapedType state,
                                          ArrayRef<int64_t> expected) {
  if (std::optional<std::string> problem =
          stateQuantProblem(enc, shape, valueAxis))
    return op->emitOpError() << *problem;
  if (state.getShape() != expected)
    return op->emitOpError()
           << "a state quantized with " << enc << " must have shape "
           << shapeStr(expected) << " (f32 words of its layout), got "
           << shapeStr(state.getShape());
  return success();
}

/// Checks the multi-head layout shared by RWKV-5/6/7: a [H, N, N] state (or
/// its quantized words [H, W] with `enc`, grouped along `valueAxis`), a
/// [T, H*N] sequence operand, and [H, N] per-head parameters.
static LogicalResult
verifyHeadLayout(Operation *op, ShapedType seq, ShapedType state,
                 ArrayRef<std::pair<StringRef, ShapedType>> perHead,
                 QuantEncodingAttr enc, int64_t valueAxis) {
  FailureOr<int64_t> c = staticChannels(op, "r", seq);
  if (failed(c))
    return failure();
  if (enc) {
    if (state.getRank() != 2 || state.isDynamicDim(0) ||
        state.getDimSize(0) < 1 || *c % state.getDimSize(0) != 0)
      return op->emitOpError()
             << "a quantized state must have a static shape [H, W] with H "
                "dividing the channels ("
             << *c << "), got " << shapeStr(state.getShape());
    int64_t h = state.getDimSize(0), n = *c / h;
    QuantizedStateLayout l = quantizedStateLayout(enc, {n, n}, 0);
    if (failed(verifyQuantizedState(op, enc, {n, n}, valueAxis, state,
                                    {h, l.words()})))
      return failure();
    for (auto [name, type] : perHead) {
      if (failed(verifyShape(op, name, type, {h, n})) ||
          failed(verifySameElementType(op, name, type, "r", seq)))
        return failure();
    }
    return success();
  }
  if (state.getRank() != 3)
    return op->emitOpError() << "state must have shape [H, N, N], got "
                             << shapeStr(state.getShape());
  int64_t h = state.getDimSize(0), n = state.getDimSize(1);
  if (state.isDynamicDim(0) || state.isDynamicDim(1) || state.isDynamicDim(2))
    return op->emitOpError("state must have a static shape [H, N, N]");
  if (state.getDimSize(2) != n)
    return op->emitOpError() << "state must have shape [H, N, N], got "
                             << shapeStr(state.getShape());
  if (h * n != *c)
    return op->emitOpError()
           << "channels (" << *c << ") must equal heads x head size (" << h
           << " x " << n << " = " << h * n << ") of the state";
  for (auto [name, type] : perHead) {
    if (failed(verifyShape(op, name, type, {h, n})) ||
        failed(verifySameElementType(op, name, type, "r", seq)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TokenShiftOp
//===----------------------------------------------------------------------===//

LogicalResult TokenShiftOp::verify() {
  auto input = getInput().getType();
  auto prev = getPrev().getType();
  if (failed(verifyShape(*this, "prev", prev, {input.getDimSize(1)})))
    return failure();
  return verifySameElementType(*this, "prev", prev, "input", input);
}

//===----------------------------------------------------------------------===//
// WKV4Op .. WKV7Op
//===----------------------------------------------------------------------===//

LogicalResult WKV4Op::verify() {
  auto k = getK().getType();
  FailureOr<int64_t> c = staticChannels(*this, "k", k);
  if (failed(c))
    return failure();
  if (failed(verifyShape(*this, "w", getW().getType(), {*c})) ||
      failed(verifySameElementType(*this, "w", getW().getType(), "k", k)))
    return failure();
  if (QuantEncodingAttr enc = getStateQuantAttr()) {
    QuantizedStateLayout l = quantizedStateLayout(enc, {*c}, *c);
    return verifyQuantizedState(*this, enc, {*c}, 0, getState().getType(),
                                {l.words()});
  }
  return verifyShape(*this, "state", getState().getType(), {3, *c});
}

//===----------------------------------------------------------------------===//
// PerspectiveCombineOp, PerspectiveMixOp
//===----------------------------------------------------------------------===//

LogicalResult PerspectiveCombineOp::verify() {
  auto h = getH().getType();
  int64_t p = h.getDimSize(1), c = h.getDimSize(2);
  if (ShapedType::isDynamic(p) || ShapedType::isDynamic(c))
    return emitOpError() << "h must have static perspective and channel "
                            "dimensions [T, P, C], got "
                         << shapeStr(h.getShape());
  if (p < 1)
    return emitOpError() << "h has no perspective (P = 0)";
  if (failed(verifyShape(*this, "weight", getWeight().getType(), {p, c})) ||
      failed(verifyShape(*this, "alpha", getAlpha().getType(),
                         {h.getDimSize(0), p})))
    return failure();
  return success();
}

LogicalResult PerspectiveMixOp::verify() {
  auto in = getInput().getType();
  int64_t t = in.getDimSize(0), p = in.getDimSize(1), n = in.getDimSize(2);
  if (ShapedType::isDynamic(p))
    return emitOpError() << "input must have a static perspective dimension "
                            "[T, P, N], got "
                         << shapeStr(in.getShape());
  if (p < 1)
    return emitOpError() << "input has no perspective (P = 0)";
  if (failed(verifyShape(*this, "alpha", getAlpha().getType(), {t, p})) ||
      failed(verifyShape(*this, "result", getResult().getType(), {t, n})))
    return failure();
  return success();
}

LogicalResult WKV5Op::verify() {
  return verifyHeadLayout(*this, getR().getType(), getState().getType(),
                          {{"w", getW().getType()}, {"u", getU().getType()}},
                          getStateQuantAttr(), 2);
}

LogicalResult WKV6Op::verify() {
  return verifyHeadLayout(*this, getR().getType(), getState().getType(),
                          {{"u", getU().getType()}}, getStateQuantAttr(), 2);
}

LogicalResult WKV7Op::verify() {
  return verifyHeadLayout(*this, getR().getType(), getState().getType(), {},
                          getStateQuantAttr(), 1);
}

//===----------------------------------------------------------------------===//
// LIFOp
//===----------------------------------------------------------------------===//

LogicalResult LIFOp::verify() {
  auto input = getInput().getType();
  auto v = getV().getType();
  if (input.getRank() != v.getRank() + 1 ||
      !compatibleShapes(v.getShape(), input.getShape().drop_front()))
    return emitOpError() << "membrane state must have the input's shape "
                            "without its leading time dimension ("
                         << shapeStr(input.getShape().drop_front()) << "), got "
                         << shapeStr(v.getShape());
  if (failed(verifySameElementType(*this, "membrane state", v, "input", input)))
    return failure();
  if (failed(verifyPositiveFinite(*this, "tau", getTau())))
    return failure();
  if (!(getVThreshold().convertToFloat() > getVReset().convertToFloat()))
    return emitOpError() << "v_threshold (" << floatStr(getVThreshold())
                         << ") must be greater than v_reset ("
                         << floatStr(getVReset()) << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// HeavisideOp
//===----------------------------------------------------------------------===//

/// True when every element of `v` is 0 or 1 by construction.
static bool isBinary(Value v) {
  if (v.getDefiningOp<HeavisideOp>())
    return true;
  if (auto lif = v.getDefiningOp<LIFOp>())
    return v == lif.getSpikes();
  return false;
}

OpFoldResult HeavisideOp::fold(FoldAdaptor adaptor) {
  bool strict = getFire() == FireCmp::GT;
  // 0 and 1 are fixed points of x > 0 (not of x >= 0, which maps 0 to 1).
  if (strict && isBinary(getInput()))
    return getInput();
  auto cst = dyn_cast_or_null<DenseFPElementsAttr>(adaptor.getInput());
  if (!cst)
    return {};
  auto type = cast<ShapedType>(getType());
  auto floatType = cast<FloatType>(type.getElementType());
  auto step = [&](const APFloat &x) {
    bool fires = strict ? (x.isNonZero() && !x.isNegative() && !x.isNaN())
                        : (!x.isNegative() || x.isZero()) && !x.isNaN();
    APFloat r(fires ? 1.0 : 0.0);
    bool lost;
    r.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
              &lost);
    return r;
  };
  if (cst.isSplat())
    return DenseElementsAttr::get(type, step(cst.getSplatValue<APFloat>()));
  SmallVector<APFloat> values;
  for (const APFloat &x : cst.getValues<APFloat>())
    values.push_back(step(x));
  return DenseElementsAttr::get(type, values);
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

static LogicalResult verifyQuantPair(Operation *op, RankedTensorType real,
                                     RankedTensorType codes,
                                     StringRef codesName) {
  auto enc = dyn_cast_or_null<QuantEncodingAttr>(codes.getEncoding());
  if (!enc)
    return op->emitOpError()
           << codesName << " type must carry a #seq.quant encoding, got "
           << codes;
  if (failed(verifyShape(op, codesName, codes, real.getShape())))
    return failure();
  return enc.verifyEncoding(codes.getShape(), codes.getElementType(),
                            [&] { return op->emitOpError(); });
}

/// The scales (and minima) of a quantized tensor: the codes' shape with
/// dimension `axis` divided by `group`, the encoding's scale type; minima
/// exactly for the asymmetric grid.
static LogicalResult verifyQuantParams(Operation *op, RankedTensorType codes,
                                       Type scales, Type minima) {
  auto enc = cast<QuantEncodingAttr>(codes.getEncoding());
  SmallVector<int64_t> shape(codes.getShape());
  int64_t &dim = shape[enc.getAxis()];
  if (!ShapedType::isDynamic(dim))
    dim /= enc.getGroup();
  bool asymmetric = enc.getMode() == QuantMode::Asymmetric;
  if (asymmetric && !minima)
    return op->emitOpError()
           << "the asymmetric grid of " << enc << " needs minima";
  if (!asymmetric && minima)
    return op->emitOpError()
           << "the symmetric grid of " << enc << " has no minima";
  for (auto [name, type] : {std::pair<StringRef, Type>{"scales", scales},
                            std::pair<StringRef, Type>{"minima", minima}}) {
    if (!type)
      continue;
    auto t = cast<RankedTensorType>(type);
    if (failed(verifyShape(op, name, t, shape)))
      return failure();
    if (t.getElementType() != enc.getScaleType())
      return op->emitOpError() << name << " element type " << t.getElementType()
                               << " differs from the encoding's scale type "
                               << enc.getScaleType();
  }
  return success();
}

LogicalResult QuantizeOp::verify() {
  if (failed(verifyQuantPair(*this, getInput().getType(), getResult().getType(),
                             "result")))
    return failure();
  Value minima = getMinima();
  return verifyQuantParams(*this, getResult().getType(), getScales().getType(),
                           minima ? minima.getType() : Type());
}

LogicalResult DequantizeOp::verify() {
  if (failed(verifyQuantPair(*this, getResult().getType(), getInput().getType(),
                             "input")))
    return failure();
  Value minima = getMinima();
  return verifyQuantParams(*this, getInput().getType(), getScales().getType(),
                           minima ? minima.getType() : Type());
}

//===----------------------------------------------------------------------===//
// HadamardOp
//===----------------------------------------------------------------------===//

int64_t HadamardOp::getBlockOrder() {
  if (std::optional<int64_t> b = getBlockSize())
    return *b;
  return getInput().getType().getShape().back();
}

LogicalResult HadamardOp::verify() {
  auto type = getInput().getType();
  if (type.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  int64_t last = type.getShape().back();
  if (ShapedType::isDynamic(last))
    return emitOpError("the last (rotated) dimension must be static");
  int64_t n = getBlockOrder();
  if (n <= 0)
    return emitOpError() << "block size must be positive, got " << n;
  if (last % n != 0)
    return emitOpError() << "block size " << n
                         << " does not divide the last dimension (" << last
                         << ")";
  if (!seqc::factorizeHadamardOrder(n))
    return emitOpError() << "no Hadamard matrix of order " << n
                         << " is available; supported orders are "
                         << seqc::describeSupportedHadamardOrders();
  return success();
}

OpFoldResult HadamardOp::fold(FoldAdaptor) {
  auto inner = getInput().getDefiningOp<HadamardOp>();
  if (!inner || !getNormalized() || !inner.getNormalized() ||
      getBlockOrder() != inner.getBlockOrder())
    return {};
  auto f = seqc::factorizeHadamardOrder(getBlockOrder());
  if (!f)
    return {};
  // (c·H)(c·Hᵀ) = I always; (c·H)(c·H) = I only when H is symmetric.
  if (getTranspose() != inner.getTranspose() || f->isSymmetric())
    return inner.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

/// A per-layer channel table ([layers, H, D]) of an op over [T, H, D].
static LogicalResult verifyChannelTable(Operation *op, StringRef name,
                                        RankedTensorType type,
                                        ShapedType table) {
  if (table.getRank() != 3 || table.getDimSize(0) < 1 ||
      !compatible(type.getDimSize(1), table.getDimSize(1)) ||
      !compatible(type.getDimSize(2), table.getDimSize(2)))
    return op->emitOpError()
           << name << " must have shape [layers, " << dimStr(type.getDimSize(1))
           << ", " << dimStr(type.getDimSize(2)) << "], got " << table;
  return success();
}

/// A channel table op's table: the attribute `attrName` or the operand
/// `table`, exactly one (the operand's values are checked where they are
/// made, before they leave the IR).
static LogicalResult verifyTableSource(Operation *op, StringRef attrName,
                                       Attribute attr, Value table) {
  if (bool(attr) == bool(table))
    return op->emitOpError() << "takes its table either as the attribute '"
                             << attrName << "' or as an operand, exactly one";
  return success();
}

LogicalResult ScaleChannelsOp::verify() {
  if (failed(verifyTableSource(*this, "scales", getScalesAttr(), getTable())))
    return failure();
  if (Value table = getTable())
    return verifyChannelTable(*this, "table", getInput().getType(),
                              cast<ShapedType>(table.getType()));
  DenseElementsAttr scales = getScalesAttr();
  if (failed(verifyChannelTable(*this, "scales", getInput().getType(),
                                cast<ShapedType>(scales.getType()))))
    return failure();
  for (APFloat s : scales.getValues<APFloat>())
    if (!s.isFiniteNonZero() || s.isNegative())
      return emitOpError() << "scales must be finite and positive";
  return success();
}

LogicalResult PermuteChannelsOp::verify() {
  if (failed(verifyTableSource(*this, "order", getOrderAttr(), getTable())))
    return failure();
  auto type = getInput().getType();
  if (Value table = getTable())
    return verifyChannelTable(*this, "table", type,
                              cast<ShapedType>(table.getType()));
  auto order = cast<ShapedType>(getOrderAttr().getType());
  if (failed(verifyChannelTable(*this, "order", type, order)))
    return failure();
  int64_t L = order.getDimSize(0), H = order.getDimSize(1),
          D = order.getDimSize(2);
  SmallVector<int32_t> values(getOrderAttr().getValues<int32_t>());
  for (int64_t r = 0; r < L * H; ++r) {
    SmallVector<bool> seen(D, false);
    for (int64_t i = 0; i < D; ++i) {
      int32_t c = values[r * D + i];
      if (c < 0 || c >= D || seen[c])
        return emitOpError() << "order[" << r / H << ", " << r % H
                             << "] is not a permutation of 0.." << D - 1;
      seen[c] = true;
    }
  }
  return success();
}

LogicalResult RopeOp::verify() {
  auto type = getInput().getType();
  int64_t d = type.getDimSize(2);
  if (ShapedType::isDynamic(d) || d % 2 != 0)
    return emitOpError() << "head dimension must be static and even, got "
                         << dimStr(d);
  int64_t rot = getRotaryDim().value_or(d);
  if (rot <= 0 || rot > d || rot % 2 != 0)
    return emitOpError() << "rotary_dim must be even and in (0, " << d
                         << "], got " << rot;
  if (failed(verifyPositiveFinite(*this, "theta", getTheta())))
    return failure();
  return verifyShape(*this, "positions", getPositions().getType(),
                     {type.getDimSize(0)});
}
