//===- SplitProducts.cpp - products whose weights exceed one binding ------===//
//
// Described in Passes.td (seq-gpu-split-products).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/IR/Builders.h"

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
  }
};

} // namespace
