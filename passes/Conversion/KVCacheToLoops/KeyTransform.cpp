//===- KeyTransform.cpp - reading back transformed cached keys ------------===//
//
// Grouped-head rotation, RoPE at read and latent up-projection of cached
// keys (see KVKeyTransform.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HadamardRow.h"
#include "passes/Conversion/KVCacheToLoops/KVKeyTransform.h"
#include "passes/Conversion/RopeAngle.h"

#include "seqc/Support/Rope.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::seq;
using namespace mlir::seq::kv;

void mlir::seq::kv::ropeTables(ImplicitLocOpBuilder &b, ModuleOp module,
                               KeyTransform &kt, float theta,
                               int64_t capacity) {
  int64_t half = kt.rotaryDim / 2;
  auto type = MemRefType::get({capacity, half}, b.getF32Type());
  std::string suffix = llvm::formatv("{0}x{1}_{2:x}", capacity, kt.rotaryDim,
                                     llvm::bit_cast<uint32_t>(theta));
  SymbolTable symbols(module);
  auto global = [&](StringRef kind, bool sine) -> Value {
    std::string name = ("__seqc_rope_" + kind + "_" + suffix).str();
    if (!symbols.lookup(name)) {
      std::vector<float> values =
          seqc::ropeTable(theta, kt.rotaryDim, capacity, sine);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(module.getBody());
      auto op = memref::GlobalOp::create(
          b, name, b.getStringAttr("private"), type,
          DenseElementsAttr::get(
              RankedTensorType::get({capacity, half}, b.getF32Type()),
              ArrayRef<float>(values)),
          /*constant=*/true, /*alignment=*/b.getI64IntegerAttr(64));
      symbols.insert(op);
    }
    return memref::GetGlobalOp::create(b, type, name);
  };
  kt.cosTable = global("cos", false);
  kt.sinTable = global("sin", true);
}

void KVKeyReader::readKey(Value h, Value pos, Value row,
                          function_ref<void(Value, Value)> get) {
  int64_t D = l.headDim, G = std::max<int64_t>(kt->groupHeads, 1);
  Value grp = ktGroup, first = h, off = idx(0);
  if (G > 1) {
    Value group = arith::DivUIOp::create(b, h, idx(G));
    Value perGroup = idx(G);
    first = mul(group, perGroup);
    Value inGroup = sub(h, first);
    Value width = idx(D);
    off = mul(inGroup, width);
  }
  for (int64_t g = 0; g < G; ++g) {
    Value dst = grp;
    if (G > 1) {
      dst = memref::SubViewOp::create(
          b, grp, ArrayRef<OpFoldResult>{b.getIndexAttr(g * D)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(D)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    }
    get(G > 1 ? add(first, idx(g)) : h, dst);
  }
  // The cache holds c·H·k (seq.hadamard); c·Hᵀ undoes it.
  if (kt->groupHeads)
    emitRowHadamard(b, grp, G * D, /*transpose=*/true, /*normalized=*/true,
                    ktBaseTmp);
  ropeInto(grp, off, D, pos, row);
}

void KVKeyReader::readLatentKey(Value h, Value pos, Value row,
                                function_ref<void(Value)> getKeys,
                                function_ref<void(Value)> getValues) {
  int64_t r = l.headDim, D = kt->headDim;
  getKeys(sub1(ktGroup, 0, r));
  getValues(sub1(ktGroup, r, r));
  Value first = mul(h, idx(D));
  loop(D, [&](Value d) {
    Value lo = idx(0);
    Value hi = idx(2 * r);
    Value zero = f(0.0f);
    Value k = reduce(lo, hi, zero, [&](Value i, Value a) {
      Value u =
          memref::LoadOp::create(b, kt->basis, ValueRange{add(first, d), i});
      Value c = memref::LoadOp::create(b, ktGroup, ValueRange{i});
      return arith::AddFOp::create(b, a, arith::MulFOp::create(b, u, c, fm),
                                   fm);
    });
    memref::StoreOp::create(b, k, ktGroup, ValueRange{add(idx(2 * r), d)});
  });
  ropeInto(ktGroup, idx(2 * r), D, pos, row);
}

Value KVKeyReader::sub1(Value buf, int64_t offset, int64_t n) {
  return memref::SubViewOp::create(
      b, buf, ArrayRef<OpFoldResult>{b.getIndexAttr(offset)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
}

void KVKeyReader::ropeInto(Value grp, Value off, int64_t D, Value pos,
                           Value row) {
  auto at = [&](Value d) {
    return memref::LoadOp::create(b, grp, ValueRange{add(off, d)});
  };
  int64_t rot = kt->rope ? kt->rotaryDim : 0, half = rot / 2;
  // RoPE as seq.rope's lowering computes it (same products and sums, no
  // contraction), so that keys match the unrotated model's.
  loop(half, [&](Value i) {
    Value p = kt->half ? i : mul(i, idx(2));
    Value q = kt->half ? add(i, idx(half)) : add(p, idx(1));
    Value x = at(p), y = at(q);
    Value cs, sn;
    if (kt->cosTable) {
      cs = memref::LoadOp::create(b, kt->cosTable, ValueRange{pos, i});
      sn = memref::LoadOp::create(b, kt->sinTable, ValueRange{pos, i});
    } else {
      // seqc::ropeAngle in f64: pos * exp(i * step), then cos and sin.
      std::tie(cs, sn) = emitRopeCosSin(b, b.getLoc(), pos, i, kt->ropeStep);
    }
    Value ny = arith::MulFOp::create(b, f(-1.0f), y);
    Value xc = arith::MulFOp::create(b, x, cs);
    Value ys = arith::MulFOp::create(b, ny, sn);
    Value rp = arith::AddFOp::create(b, xc, ys);
    Value yc = arith::MulFOp::create(b, y, cs);
    Value xs = arith::MulFOp::create(b, x, sn);
    Value rq = arith::AddFOp::create(b, yc, xs);
    memref::StoreOp::create(b, rp, row, ValueRange{p});
    memref::StoreOp::create(b, rq, row, ValueRange{q});
  });
  Value lo = idx(rot);
  Value hi = idx(D);
  loop(lo, hi,
       [&](Value d) { memref::StoreOp::create(b, at(d), row, ValueRange{d}); });
}
