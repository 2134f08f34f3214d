//===- SplitProducts.cpp - products whose weights exceed one binding ------===//
//
// Described in Passes.td (seq-gpu-split-products).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/IR/Builders.h"

#include <functional>
#include <limits>

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUSPLITPRODUCTSPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

struct GPUSplitProductsPass
    : public seq::impl::SeqGPUSplitProductsPassBase<GPUSplitProductsPass> {
  using Base::Base;

  /// Splits `op` into products over consecutive ranges of the parallel
  /// loop that indexes the first dimension of its largest buffer, each
  /// range's slices of every buffer within `limit` bytes.
  LogicalResult split(linalg::GenericOp op, int64_t limit, int64_t maxRows) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    OpOperand *largest = nullptr;
    int64_t most = 0;
    for (OpOperand &operand : op->getOpOperands()) {
      auto type = dyn_cast<MemRefType>(operand.get().getType());
      if (!type || !type.hasStaticShape())
        return success(); // left to the target's checks
      if (seq::gpuBufferBytes(type) > most) {
        most = seq::gpuBufferBytes(type);
        largest = &operand;
      }
    }
    if (!largest)
      return success();
    auto type = cast<MemRefType>(largest->get().getType());
    bool tooLarge = most > limit;
    if (!tooLarge && (type.getRank() < 1 || type.getDimSize(0) <= maxRows))
      return success();
    // Too many rows only: a product that cannot be split is left to the
    // target's grid checks.
    auto refuse = [&](const Twine &why) -> LogicalResult {
      if (!tooLarge)
        return success();
      return op.emitError("a product's buffer of ")
             << most << " bytes exceeds one storage binding (" << limit
             << " usable bytes), and " << why;
    };
    AffineMap map = op.getMatchingIndexingMap(largest);
    auto dim = dyn_cast<AffineDimExpr>(map.getResult(0));
    if (!dim ||
        op.getIteratorTypesArray()[dim.getPosition()] !=
            utils::IteratorType::parallel ||
        type.getRank() < 1 || ranges[dim.getPosition()] != type.getDimSize(0))
      return refuse("its first dimension is not a parallel loop of the "
                    "product to split it along");
    unsigned p = dim.getPosition();
    // Every other use of the loop must be a whole dimension of a buffer,
    // and the body must not read its index.
    if (!op.getBody()->getOps<linalg::IndexOp>().empty())
      return refuse("the product reads its loop indices");
    for (OpOperand &operand : op->getOpOperands())
      for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults())
        if (e.isFunctionOfDim(p) && !isa<AffineDimExpr>(e))
          return refuse("the product indexes a buffer by an expression of "
                        "the loop it would be split along");
    int64_t rowBytes = most / type.getDimSize(0);
    int64_t rows = std::min(limit / rowBytes, maxRows);
    if (rows == 0)
      return op.emitError("one row of a product's buffer (")
             << rowBytes << " bytes) exceeds one storage binding (" << limit
             << " usable bytes)";
    int64_t n = ranges[p];
    OpBuilder b(op);
    Location loc = op.getLoc();
    for (int64_t lo = 0; lo < n; lo += rows) {
      int64_t size = std::min(rows, n - lo);
      SmallVector<Value> operands;
      for (OpOperand &operand : op->getOpOperands()) {
        Value v = operand.get();
        auto t = cast<MemRefType>(v.getType());
        AffineMap m = op.getMatchingIndexingMap(&operand);
        SmallVector<OpFoldResult> offsets(t.getRank(), b.getIndexAttr(0));
        SmallVector<OpFoldResult> sizes,
            strides(t.getRank(), b.getIndexAttr(1));
        for (int64_t d : t.getShape())
          sizes.push_back(b.getIndexAttr(d));
        bool sliced = false;
        for (auto [i, e] : llvm::enumerate(m.getResults()))
          if (auto d = dyn_cast<AffineDimExpr>(e); d && d.getPosition() == p) {
            offsets[i] = b.getIndexAttr(lo);
            sizes[i] = b.getIndexAttr(size);
            sliced = true;
          }
        if (sliced)
          v = memref::SubViewOp::create(b, loc, v, offsets, sizes, strides);
        operands.push_back(v);
      }
      Operation *chunk = b.clone(*op);
      chunk->setOperands(operands);
    }
    op.erase();
    return success();
  }

  /// Replaces `load`, which indexes a buffer larger than `limit` bytes by
  /// its first dimension at a value known only at run time (an embedding
  /// row by token), by loads from row ranges of it that each fit in one
  /// binding, the range chosen by the index. `pieces` keeps each buffer's
  /// ranges (first row, subview), made once after the buffer.
  LogicalResult
  splitGather(memref::LoadOp load, int64_t limit,
              DenseMap<Value, SmallVector<std::pair<int64_t, Value>>> &pieces) {
    Value buffer = load.getMemRef();
    MemRefType type = load.getMemRefType();
    int64_t n = type.getDimSize(0);
    int64_t rowBytes = seq::gpuBufferBytes(type) / n;
    int64_t rows = limit / rowBytes;
    if (rows == 0)
      return load.emitError("one row of a buffer this load reads (")
             << rowBytes << " bytes) exceeds one storage binding (" << limit
             << " usable bytes)";
    auto &ranges = pieces[buffer];
    if (ranges.empty()) {
      OpBuilder b(&getContext());
      if (Operation *def = buffer.getDefiningOp())
        b.setInsertionPointAfter(def);
      else
        b.setInsertionPointToStart(cast<BlockArgument>(buffer).getOwner());
      for (int64_t lo = 0; lo < n; lo += rows) {
        SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0)),
            sizes, strides(type.getRank(), b.getIndexAttr(1));
        for (int64_t d : type.getShape())
          sizes.push_back(b.getIndexAttr(d));
        offsets[0] = b.getIndexAttr(lo);
        sizes[0] = b.getIndexAttr(std::min(rows, n - lo));
        ranges.emplace_back(lo,
                            memref::SubViewOp::create(b, load.getLoc(), buffer,
                                                      offsets, sizes, strides));
      }
    }
    OpBuilder b(load);
    Location loc = load.getLoc();
    Value row = load.getIndices()[0];
    // if row < second range's first row: range 0; else if ...: range 1 ...
    std::function<Value(size_t)> pick = [&](size_t i) -> Value {
      auto [lo, piece] = ranges[i];
      auto read = [&, lo = lo, piece = piece](OpBuilder &ib) {
        SmallVector<Value> at(load.getIndices());
        at[0] = arith::SubIOp::create(
            ib, loc, row, arith::ConstantIndexOp::create(ib, loc, lo));
        return memref::LoadOp::create(ib, loc, piece, at).getResult();
      };
      if (i + 1 == ranges.size())
        return read(b);
      Value inRange = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::ult, row,
          arith::ConstantIndexOp::create(b, loc, ranges[i + 1].first));
      auto choice = scf::IfOp::create(b, loc, load.getType(), inRange,
                                      /*withElseRegion=*/true);
      b.setInsertionPointToStart(choice.thenBlock());
      scf::YieldOp::create(b, loc, read(b));
      b.setInsertionPointToStart(choice.elseBlock());
      scf::YieldOp::create(b, loc, pick(i + 1));
      b.setInsertionPointAfter(choice);
      return choice.getResult(0);
    };
    load.replaceAllUsesWith(pick(0));
    load.erase();
    return success();
  }

  void runOnOperation() override {
    // A binding starts up to 252 bytes before its view (256-byte aligned
    // offsets, seq-gpu-schedule).
    int64_t limit = maxBindingBytes > 0
                        ? maxBindingBytes - seq::kGPUBindingAlignment
                        : std::numeric_limits<int64_t>::max();
    SmallVector<linalg::GenericOp> products;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->hasAttr("seq.parallel") && op.hasPureBufferSemantics())
        products.push_back(op);
    });
    for (linalg::GenericOp op : products)
      if (failed(split(op, limit, maxWorkgroups)))
        return signalPassFailure();
    // Gathers: a load inside an op's body (a kernel's, after the mapping)
    // of a buffer from outside it that exceeds one binding.
    SmallVector<memref::LoadOp> gathers;
    getOperation().walk([&](memref::LoadOp load) {
      MemRefType type = load.getMemRefType();
      if (type.hasStaticShape() && type.getRank() >= 1 &&
          type.getLayout().isIdentity() && seq::gpuBufferBytes(type) > limit &&
          load->getParentRegion() != load.getMemRef().getParentRegion())
        gathers.push_back(load);
    });
    DenseMap<Value, SmallVector<std::pair<int64_t, Value>>> pieces;
    for (memref::LoadOp load : gathers)
      if (failed(splitGather(load, limit, pieces)))
        return signalPassFailure();
  }
};

} // namespace
