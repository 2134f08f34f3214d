//===- IntegerDot.cpp - pieces the x86 integer kernels share --------------===//

#include "passes/Codegen/CPU/IntegerDot.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::seq::cpu;

Value IntegerDot::splat(VectorType type, Attribute value) {
  return arith::ConstantOp::create(b, l, type,
                                   DenseElementsAttr::get(type, value));
}

Value IntegerDot::intrinsic(StringRef name, Type result, ValueRange args) {
  return LLVM::CallIntrinsicOp::create(b, l, result, b.getStringAttr(name),
                                       args)
      .getResult(0);
}

Value IntegerDot::vpdpbusd(Value acc, Value u, Value s) {
  return intrinsic(bytes == 64 ? "llvm.x86.avx512.vpdpbusd.512"
                               : "llvm.x86.avx512.vpdpbusd.256",
                   vec(lanes, b.getI32Type()), {acc, u, s});
}

Value IntegerDot::pairSums(Value u, Value s) {
  Type i16 = b.getI16Type(), i32 = b.getI32Type();
  Value pairs =
      intrinsic("llvm.x86.avx2.pmadd.ub.sw", vec(bytes / 2, i16), {u, s});
  return intrinsic("llvm.x86.avx2.pmadd.wd", vec(lanes, i32),
                   {pairs, splat(vec(bytes / 2, i16), b.getI16IntegerAttr(1))});
}

Value IntegerDot::dotSmallUnsigned(Value acc, Value u, Value s) {
  if (kernel != seqc::Int8Kernel::AVX2)
    return vpdpbusd(acc, u, s);
  return arith::AddIOp::create(b, l, acc, pairSums(u, s));
}

scf::ForOp seq::cpu::forLoop(
    OpBuilder &b, Location l, int64_t lb, int64_t ub, int64_t step,
    ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)> body) {
  Value lo = arith::ConstantIndexOp::create(b, l, lb);
  Value hi = arith::ConstantIndexOp::create(b, l, ub);
  Value stride = arith::ConstantIndexOp::create(b, l, step);
  return scf::ForOp::create(
      b, l, lo, hi, stride, inits,
      [&](OpBuilder &b, Location l, Value iv, ValueRange args) {
        scf::YieldOp::create(b, l, body(b, iv, args));
      });
}

Value seq::cpu::quantizeActivationBlock(
    OpBuilder &b, Location l, Value x, Value t, Value base, int64_t block,
    function_ref<void(OpBuilder &, Value j, Value q)> store) {
  auto f32 = cast<FloatType>(b.getF32Type());
  auto cst = [&](OpBuilder &b, float v) -> Value {
    return arith::ConstantFloatOp::create(b, l, f32, APFloat(v));
  };
  auto element = [&](OpBuilder &b, Value j) -> Value {
    Value k = arith::AddIOp::create(b, l, base, j);
    return memref::LoadOp::create(b, l, x, ValueRange{t, k});
  };
  Value amax = forLoop(b, l, 0, block, 1, {cst(b, 0)},
                       [&](OpBuilder &b, Value j, ValueRange m) {
                         Value a = math::AbsFOp::create(b, l, element(b, j));
                         return SmallVector<Value>{
                             arith::MaximumFOp::create(b, l, m[0], a)};
                       })
                   .getResult(0);
  Value scale = arith::DivFOp::create(b, l, amax, cst(b, 127));
  Value positive =
      arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, amax, cst(b, 0));
  Value ratio = arith::DivFOp::create(b, l, cst(b, 127), amax);
  Value zero = cst(b, 0);
  Value inverse = arith::SelectOp::create(b, l, positive, ratio, zero);
  forLoop(b, l, 0, block, 1, {}, [&](OpBuilder &b, Value j, ValueRange) {
    Value r = math::RoundEvenOp::create(
        b, l, arith::MulFOp::create(b, l, element(b, j), inverse));
    Value low = arith::MaxNumFOp::create(b, l, r, cst(b, -127));
    Value high = cst(b, 127);
    r = arith::MinNumFOp::create(b, l, low, high);
    store(b, j, arith::FPToSIOp::create(b, l, b.getI8Type(), r));
    return SmallVector<Value>{};
  });
  return scale;
}

void seq::cpu::forEachTokenBlock(
    RewriterBase &rewriter, Location loc, Value T, bool staticSingleToken,
    int64_t blocks, bool parallel,
    function_ref<void(OpBuilder &, Location, Value, Value)> body) {
  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value count = arith::ConstantIndexOp::create(rewriter, loc, blocks);
  auto loopBody = [&](OpBuilder &b, Location l, ValueRange ivs) {
    body(b, l, ivs[0], ivs[1]);
  };
  if (parallel && !staticSingleToken)
    scf::ParallelOp::create(rewriter, loc, ValueRange{c0, c0},
                            ValueRange{T, count}, ValueRange{c1, c1}, loopBody);
  else
    scf::buildLoopNest(rewriter, loc, ValueRange{c0, c0}, ValueRange{T, count},
                       ValueRange{c1, c1}, loopBody);
}

Value seq::cpu::memrefDim(RewriterBase &rewriter, Location loc, Value m,
                          unsigned d) {
  return getValueOrCreateConstantIndexOp(
      rewriter, loc, memref::getMixedSize(rewriter, loc, m, d));
}

void seq::cpu::forEachOutputTile(RewriterBase &rewriter, Location loc, Value N,
                                 Value T, int64_t rowExtent,
                                 int64_t tokenExtent, bool parallel,
                                 TileFn tile) {
  auto extent = [](int64_t v) -> std::optional<int64_t> {
    if (ShapedType::isDynamic(v))
      return std::nullopt;
    return v;
  };
  std::optional<int64_t> rows = extent(rowExtent);
  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
  if (parallel && isTiled(rows, extent(tokenExtent))) {
    parallelTiles(rewriter, loc, *rows, T, tile);
  } else if (parallel) {
    scf::ParallelOp::create(rewriter, loc, ValueRange{c0, c0}, ValueRange{N, T},
                            ValueRange{c1, c1},
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              tile(b, l, ivs[0], ivs[1], 1, 1);
                            });
  } else {
    scf::buildLoopNest(rewriter, loc, ValueRange{c0, c0}, ValueRange{N, T},
                       ValueRange{c1, c1},
                       [&](OpBuilder &b, Location l, ValueRange ivs) {
                         tile(b, l, ivs[0], ivs[1], 1, 1);
                       });
  }
}
