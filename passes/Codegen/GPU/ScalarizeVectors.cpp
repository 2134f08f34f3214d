//===- ScalarizeVectors.cpp - 1-D vectors in kernels to scalars -----------===//
//
// Described in Passes.td (seq-gpu-scalarize-vectors).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUSCALARIZEVECTORSPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Vectors SPIR-V has no type for: 1-D with more than 4 lanes (2 to 4
/// lanes are native; kernels written with vector<4xf32> tiles keep them).
bool isWide(Type t) {
  auto v = dyn_cast<VectorType>(t);
  return v && v.getRank() == 1 && !v.isScalable() && v.getNumElements() > 4;
}
bool hasWide(Operation *op) {
  return llvm::any_of(op->getOperandTypes(), isWide) ||
         llvm::any_of(op->getResultTypes(), isWide);
}

int64_t lanesOf(Type t) {
  auto v = dyn_cast<VectorType>(t);
  return v ? v.getNumElements() : 1;
}

/// The lanes of a converted operand: its values (a wide vector), the
/// elements of a native vector, or a scalar (every lane).
SmallVector<Value> lanes(OpBuilder &b, Location loc, ValueRange v, int64_t n) {
  if (v.size() != 1)
    return SmallVector<Value>(v);
  Value x = v.front();
  if (!isa<VectorType>(x.getType()))
    return SmallVector<Value>(n, x);
  SmallVector<Value> out;
  for (int64_t i = 0; i < lanesOf(x.getType()); ++i)
    out.push_back(vector::ExtractOp::create(b, loc, x, i));
  return out;
}

/// Replaces `op`'s one result by `values`, its lanes: as they are for a
/// wide vector, as a native vector, or the scalar.
void replaceLanes(ConversionPatternRewriter &rewriter, Operation *op,
                  ArrayRef<Value> values) {
  Type type = op->getResult(0).getType();
  if (isWide(type))
    rewriter.replaceOpWithMultiple(op, {SmallVector<Value>(values)});
  else if (auto v = dyn_cast<VectorType>(type))
    rewriter.replaceOp(
        op, vector::FromElementsOp::create(rewriter, op->getLoc(), v, values)
                .getResult());
  else
    rewriter.replaceOp(op, values.front());
}

/// Any elementwise op (arith, math) on vectors: one op per lane.
struct Elementwise : ConversionPattern {
  Elementwise(TypeConverter &converter, MLIRContext *context)
      : ConversionPattern(converter, MatchAnyOpTypeTag(), 1, context) {}
  LogicalResult
  matchAndRewrite(Operation *op, ArrayRef<ValueRange> operands,
                  ConversionPatternRewriter &rewriter) const override {
    if (!op->hasTrait<OpTrait::Elementwise>() || op->getNumRegions() ||
        op->getNumResults() != 1 || !hasWide(op))
      return failure();
    int64_t n = lanesOf(op->getResult(0).getType());
    Type scalar = getElementTypeOrSelf(op->getResult(0).getType());
    SmallVector<SmallVector<Value>> in;
    for (ValueRange v : operands)
      in.push_back(lanes(rewriter, op->getLoc(), v, n));
    SmallVector<Value> out;
    for (int64_t i = 0; i < n; ++i) {
      OperationState state(op->getLoc(), op->getName());
      for (ArrayRef<Value> v : in)
        state.addOperands(v[i]);
      state.addTypes(scalar);
      state.addAttributes(op->getAttrs());
      out.push_back(rewriter.create(state)->getResult(0));
    }
    replaceLanes(rewriter, op, out);
    return success();
  }
};

struct Constant : OpConversionPattern<arith::ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(arith::ConstantOp op, OneToNOpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
    if (!dense || !isWide(op.getType()))
      return failure();
    SmallVector<Value> out;
    for (Attribute a : dense.getValues<Attribute>())
      out.push_back(
          arith::ConstantOp::create(rewriter, op.getLoc(), cast<TypedAttr>(a)));
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

struct Broadcast : OpConversionPattern<vector::BroadcastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::BroadcastOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ValueRange source = adaptor.getSource();
    if (source.size() != 1 || isa<VectorType>(source.front().getType()))
      return failure();
    SmallVector<Value> out(op.getResultVectorType().getNumElements(),
                           source.front());
    replaceLanes(rewriter, op, out);
    return success();
  }
};

/// A vector.load/store's indices (scalars, one value each).
SmallVector<Value> scalarIndices(ArrayRef<ValueRange> indices) {
  SmallVector<Value> out;
  for (ValueRange v : indices)
    out.push_back(v.front());
  return out;
}

/// Lane i of a vector.load/store is the element i past the last index.
SmallVector<Value> laneIndices(OpBuilder &b, Location loc, ValueRange indices,
                               int64_t i) {
  SmallVector<Value> at(indices);
  if (i)
    at.back() = arith::AddIOp::create(
        b, loc, at.back(), arith::ConstantIndexOp::create(b, loc, i));
  return at;
}

struct Load : OpConversionPattern<vector::LoadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::LoadOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getVectorType().getRank() != 1)
      return failure();
    SmallVector<Value> indices = scalarIndices(adaptor.getIndices());
    SmallVector<Value> out;
    for (int64_t i = 0; i < op.getVectorType().getNumElements(); ++i)
      out.push_back(memref::LoadOp::create(
          rewriter, op.getLoc(), adaptor.getBase().front(),
          laneIndices(rewriter, op.getLoc(), indices, i)));
    replaceLanes(rewriter, op, out);
    return success();
  }
};

struct Store : OpConversionPattern<vector::StoreOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::StoreOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getVectorType().getRank() != 1)
      return failure();
    SmallVector<Value> indices = scalarIndices(adaptor.getIndices());
    int64_t n = op.getVectorType().getNumElements();
    SmallVector<Value> value =
        lanes(rewriter, op.getLoc(), adaptor.getValueToStore(), n);
    for (int64_t i = 0; i < n; ++i)
      memref::StoreOp::create(rewriter, op.getLoc(), value[i],
                              adaptor.getBase().front(),
                              laneIndices(rewriter, op.getLoc(), indices, i));
    rewriter.eraseOp(op);
    return success();
  }
};

struct Insert : OpConversionPattern<vector::InsertOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::InsertOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ArrayRef<int64_t> position = op.getStaticPosition();
    ValueRange source = adaptor.getValueToStore();
    if (position.size() != 1 || ShapedType::isDynamic(position[0]) ||
        source.size() != 1)
      return failure();
    SmallVector<Value> out =
        lanes(rewriter, op.getLoc(), adaptor.getDest(), lanesOf(op.getType()));
    out[position[0]] = source.front();
    replaceLanes(rewriter, op, out);
    return success();
  }
};

struct Extract : OpConversionPattern<vector::ExtractOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::ExtractOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ArrayRef<int64_t> position = op.getStaticPosition();
    if (position.size() != 1 || ShapedType::isDynamic(position[0]) ||
        isa<VectorType>(op.getType()))
      return failure();
    rewriter.replaceOp(op,
                       lanes(rewriter, op.getLoc(), adaptor.getSource(),
                             lanesOf(op.getSource().getType()))[position[0]]);
    return success();
  }
};

struct Shuffle : OpConversionPattern<vector::ShuffleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::ShuffleOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getResultVectorType().getRank() != 1)
      return failure();
    SmallVector<Value> both = lanes(rewriter, op.getLoc(), adaptor.getV1(),
                                    lanesOf(op.getV1().getType()));
    llvm::append_range(both, lanes(rewriter, op.getLoc(), adaptor.getV2(),
                                   lanesOf(op.getV2().getType())));
    SmallVector<Value> out;
    for (int64_t i : op.getMask()) {
      if (i < 0 || i >= (int64_t)both.size())
        return failure(); // poison lanes
      out.push_back(both[i]);
    }
    replaceLanes(rewriter, op, out);
    return success();
  }
};

struct Slice : OpConversionPattern<vector::ExtractStridedSliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::ExtractStridedSliceOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getType().getRank() != 1)
      return failure();
    int64_t offset = cast<IntegerAttr>(op.getOffsets()[0]).getInt();
    int64_t size = cast<IntegerAttr>(op.getSizes()[0]).getInt();
    int64_t stride = cast<IntegerAttr>(op.getStrides()[0]).getInt();
    SmallVector<Value> source =
        lanes(rewriter, op.getLoc(), adaptor.getSource(),
              lanesOf(op.getSource().getType()));
    SmallVector<Value> out;
    for (int64_t i = 0; i < size; ++i)
      out.push_back(source[offset + i * stride]);
    replaceLanes(rewriter, op, out);
    return success();
  }
};

struct FromElements : OpConversionPattern<vector::FromElementsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::FromElementsOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getType().getRank() != 1)
      return failure();
    SmallVector<Value> out;
    for (ValueRange v : adaptor.getElements())
      out.push_back(v.front());
    replaceLanes(rewriter, op, out);
    return success();
  }
};

/// In lane order, as the CPU's ordered reduction would (any order is
/// allowed; this one is simple).
struct Reduction : OpConversionPattern<vector::ReductionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::ReductionOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> v = lanes(rewriter, op.getLoc(), adaptor.getVector(),
                                 lanesOf(op.getVector().getType()));
    Value acc = adaptor.getAcc().empty() ? Value() : adaptor.getAcc().front();
    for (Value x : v)
      acc =
          acc ? vector::makeArithReduction(rewriter, op.getLoc(), op.getKind(),
                                           acc, x, op.getFastmathAttr())
              : x;
    rewriter.replaceOp(op, acc);
    return success();
  }
};

/// A load or store through a 1-D unit-stride memref.reinterpret_cast (the
/// Hadamard rows' fast path) indexes the contiguous buffer it views: the
/// element offset + i, delinearized over the buffer's shape.
template <typename Op> struct ThroughReinterpretCast : OpRewritePattern<Op> {
  using OpRewritePattern<Op>::OpRewritePattern;
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    auto cast =
        op.getMemref().template getDefiningOp<memref::ReinterpretCastOp>();
    if (!cast || cast.getType().getRank() != 1 ||
        cast.getMixedStrides().size() != 1 ||
        getConstantIntValue(cast.getMixedStrides()[0]) != 1)
      return failure();
    auto source = dyn_cast<MemRefType>(cast.getSource().getType());
    if (!source || !source.hasStaticShape())
      return failure();
    auto [strides, offset] = source.getStridesAndOffset();
    if (ShapedType::isDynamic(offset) ||
        ArrayRef<int64_t>(strides) !=
            ArrayRef<int64_t>(computeSuffixProduct(source.getShape())))
      return failure();
    Location loc = op.getLoc();
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value linear =
        arith::AddIOp::create(rewriter, loc,
                              getValueOrCreateConstantIndexOp(
                                  rewriter, loc, cast.getMixedOffsets()[0]),
                              op.getIndices()[0]);
    linear = arith::SubIOp::create(rewriter, loc, linear, c(offset));
    SmallVector<Value> indices;
    for (int64_t stride : strides) {
      indices.push_back(
          arith::DivUIOp::create(rewriter, loc, linear, c(stride)));
      linear = arith::RemUIOp::create(rewriter, loc, linear, c(stride));
    }
    rewriter.modifyOpInPlace(op, [&] {
      op.getMemrefMutable().assign(cast.getSource());
      op.getIndicesMutable().assign(indices);
    });
    return success();
  }
};

struct GPUScalarizeVectorsPass
    : public seq::impl::SeqGPUScalarizeVectorsPassBase<
          GPUScalarizeVectorsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    // In-bounds 1-D transfers (the Hadamard rows) as vector.load/store
    // first.
    RewritePatternSet transfers(context);
    vector::populateVectorTransferLoweringPatterns(transfers,
                                                   /*maxTransferRank=*/1);
    if (failed(applyPatternsGreedily(getOperation(), std::move(transfers))))
      return signalPassFailure();
    TypeConverter converter;
    converter.addConversion([](Type t) { return t; });
    converter.addConversion(
        [](VectorType v,
           SmallVectorImpl<Type> &out) -> std::optional<LogicalResult> {
          if (!isWide(v))
            return std::nullopt;
          out.append(v.getNumElements(), v.getElementType());
          return success();
        });
    ConversionTarget target(*context);
    // Vector loads and stores on buffers of scalars go element by element
    // at any width: SPIR-V would bitcast the scalar pointer to a vector
    // pointer, which logical addressing (Vulkan) does not allow.
    auto onScalars = [](Operation *op) {
      Type element;
      if (auto load = dyn_cast<vector::LoadOp>(op))
        element = load.getMemRefType().getElementType();
      else if (auto store = dyn_cast<vector::StoreOp>(op))
        element = store.getMemRefType().getElementType();
      return element && !isa<VectorType>(element);
    };
    target.markUnknownOpDynamicallyLegal(
        [=](Operation *op) { return !hasWide(op) && !onScalars(op); });
    RewritePatternSet patterns(context);
    patterns.add<Elementwise>(converter, context);
    patterns.add<Constant, Broadcast, Load, Store, Insert, Extract, Shuffle,
                 Slice, FromElements, Reduction>(converter, context);
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      return signalPassFailure();
    RewritePatternSet casts(context);
    casts.add<ThroughReinterpretCast<memref::LoadOp>,
              ThroughReinterpretCast<memref::StoreOp>>(context);
    if (failed(applyPatternsGreedily(getOperation(), std::move(casts))))
      return signalPassFailure();
    WalkResult left = getOperation()->walk([&](Operation *op) {
      if (!hasWide(op) && !onScalars(op))
        return WalkResult::advance();
      op->emitError("'") << op->getName()
                         << "' on vectors is not scalarized for this GPU "
                            "target";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
