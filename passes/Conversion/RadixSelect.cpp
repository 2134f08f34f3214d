//===- RadixSelect.cpp - the k largest of n f32 scores, without sorting ---===//

#include "passes/Conversion/RadixSelect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cstdint>

using namespace mlir;
using namespace mlir::seq;

static Value i32(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIntOp::create(b, b.getI32Type(), v);
}

Value mlir::seq::orderedScoreBits(ImplicitLocOpBuilder &b, Value score) {
  // x + 0 turns -0 into +0; then the sign bit flipped for positive values,
  // every bit for negative ones.
  Value s = arith::AddFOp::create(
      b, score, arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f)));
  Value bits = arith::BitcastOp::create(b, b.getI32Type(), s);
  Value sign = arith::ShRSIOp::create(b, bits, i32(b, 31));
  Value flip = arith::OrIOp::create(b, sign, i32(b, INT32_MIN));
  return arith::XOrIOp::create(b, bits, flip);
}

/// How many of the n scores satisfy `pred(u, threshold)` (index).
static Value countScores(ImplicitLocOpBuilder &b, Value n,
                         function_ref<Value(Value)> bitsAt,
                         arith::CmpIPredicate pred, Value threshold) {
  Value zero = arith::ConstantIndexOp::create(b, 0);
  auto loop = scf::ForOp::create(
      b, zero, n, arith::ConstantIndexOp::create(b, 1), ValueRange{zero});
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(loop.getBody());
  Value hit =
      arith::CmpIOp::create(b, pred, bitsAt(loop.getInductionVar()), threshold);
  Value one = arith::IndexCastOp::create(
      b, b.getIndexType(), arith::ExtUIOp::create(b, b.getI32Type(), hit));
  scf::YieldOp::create(b, ValueRange{arith::AddIOp::create(
                              b, loop.getRegionIterArgs()[0], one)});
  b.setInsertionPointAfter(loop);
  return loop.getResult(0);
}

RadixSelection mlir::seq::radixSelect(ImplicitLocOpBuilder &b, Value n, Value k,
                                      function_ref<Value(Value)> bitsAt) {
  // The largest t with #{u >= t} >= k, bit by bit from the top: the k-th
  // largest score (all ones when k = 0, which then takes nothing).
  auto loop = scf::ForOp::create(b, arith::ConstantIndexOp::create(b, 0),
                                 arith::ConstantIndexOp::create(b, 32),
                                 arith::ConstantIndexOp::create(b, 1),
                                 ValueRange{i32(b, 0)});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    Value prefix = loop.getRegionIterArgs()[0];
    Value bit = arith::SubIOp::create(
        b, i32(b, 31),
        arith::IndexCastOp::create(b, b.getI32Type(), loop.getInductionVar()));
    Value cand = arith::OrIOp::create(b, prefix,
                                      arith::ShLIOp::create(b, i32(b, 1), bit));
    Value count = countScores(b, n, bitsAt, arith::CmpIPredicate::uge, cand);
    Value enough =
        arith::CmpIOp::create(b, arith::CmpIPredicate::sge, count, k);
    scf::YieldOp::create(
        b, ValueRange{arith::SelectOp::create(b, enough, cand, prefix)});
  }
  RadixSelection sel;
  sel.kth = loop.getResult(0);
  Value above = countScores(b, n, bitsAt, arith::CmpIPredicate::ugt, sel.kth);
  sel.ties = arith::IndexCastOp::create(b, b.getI32Type(),
                                        arith::SubIOp::create(b, k, above));
  return sel;
}

std::pair<Value, Value> mlir::seq::radixTakes(ImplicitLocOpBuilder &b,
                                              const RadixSelection &sel,
                                              Value u, Value tiesTaken) {
  Value tie = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, u, sel.kth),
      arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tiesTaken, sel.ties));
  Value taken = arith::OrIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, u, sel.kth), tie);
  return {taken, tie};
}
