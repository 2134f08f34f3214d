//===- SelectTop.cpp - lower seq.select_top to loops
//-----------------------===//
//
// The positions of the k largest scores in ascending order: the radix
// selection of RadixSelect.h (the k-th largest score, then every score
// above it and the first ones equal to it), written into a fresh buffer in
// one pass over the scores, so the indices come out sorted by position with
// no sort.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Buffers.h"
#include "passes/Conversion/RadixSelect.h"
#include "passes/Conversion/SeqToLinalg/Common.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::seq;

namespace {

struct SelectTopLowering : OpConversionPattern<SelectTopOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SelectTopOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value scores = readBuffer(b, adaptor.getScore());
    Value n = memref::DimOp::create(b, scores, 0);
    Value k = arith::MinSIOp::create(b, adaptor.getK(), n);
    auto outType = MemRefType::get({ShapedType::kDynamic}, b.getIndexType());
    Value out = memref::AllocOp::create(b, outType, ValueRange{k});
    auto bitsAt = [&](Value j) {
      return orderedScoreBits(b, memref::LoadOp::create(b, scores, j));
    };
    RadixSelection sel = radixSelect(b, n, k, bitsAt);
    Value zero = arith::ConstantIndexOp::create(b, 0);
    auto loop = scf::ForOp::create(
        b, zero, n, arith::ConstantIndexOp::create(b, 1),
        ValueRange{zero, arith::ConstantIntOp::create(b, b.getI32Type(), 0)});
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      Value j = loop.getInductionVar();
      Value at = loop.getRegionIterArgs()[0];
      auto [taken, tie] =
          radixTakes(b, sel, bitsAt(j), loop.getRegionIterArgs()[1]);
      auto store = scf::IfOp::create(b, taken, /*withElseRegion=*/false);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      memref::StoreOp::create(b, j, out, at);
      b.setInsertionPointAfter(store);
      Value one = arith::IndexCastOp::create(
          b, b.getIndexType(),
          arith::ExtUIOp::create(b, b.getI32Type(), taken));
      scf::YieldOp::create(
          b, ValueRange{arith::AddIOp::create(b, at, one),
                        arith::AddIOp::create(
                            b, loop.getRegionIterArgs()[1],
                            arith::ExtUIOp::create(b, b.getI32Type(), tie))});
    }
    Value result = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({ShapedType::kDynamic}, b.getIndexType()), out,
        /*restrict=*/true, /*writable=*/true);
    if (result.getType() != op.getType())
      result = tensor::CastOp::create(b, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::seq::tolinalg::addSelectTopLowering(RewritePatternSet &patterns) {
  patterns.add<SelectTopLowering>(patterns.getContext());
}
