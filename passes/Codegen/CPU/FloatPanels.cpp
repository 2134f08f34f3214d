//===- FloatPanels.cpp - prefill float products by weight panels ----------===//
//
// A prefill product y[t, n] += x[t, k] * w[n, k] with f32 (or f16, bf16)
// weights, computed the way BLAS kernels compute a matrix product: the
// weight rows are cut into panels of two vectors' width, each panel is
// converted to f32 and transposed once per chunk of the reduction into a
// buffer that stays in L1, and tiles of several tokens by one panel
// accumulate in vector registers, each step loading two weight vectors and
// broadcasting one activation per token. The scalar tiles of
// ParallelizeProducts.cpp reload every token's activations from L2 for
// each group of four rows; here an activation is read once per panel and
// chunk, and every load feeds several FMAs.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/IntegerDot.h"
#include "passes/Codegen/CPU/ProductTiles.h"

#include "dialects/Seq/IR/SeqDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace {

/// Reduction channels per panel chunk: a panel of 2 x 16 f32 lanes takes
/// 16 KiB of buffer, a token tile's activations 4 KiB.
constexpr int64_t kChunk = 128;

/// Weight elements a product needs for panels: a smaller one keeps the
/// scalar tiles, whose single fork and join cost less than the panels'
/// two (the activations' copy, then the panels), and whose code compiles
/// faster (the small models of the tests compiled 1.4x slower with every
/// product in panels).
constexpr int64_t kMinElements = 1 << 16;

/// Bytes of packed activations per block of tokens: every panel's task
/// reads all of them, so they must stay in L2 (a 4096-channel product
/// with 512 tokens a block, 8 MiB, ran 1.2x slower than its 1024-channel
/// neighbours).
constexpr int64_t kBlockBytes = 1 << 20;

/// The operands of a float product the panels compute.
struct FloatProduct {
  Value x, w, y;
  int64_t N, K;
};

bool unitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1;
}

/// Whether `v` is block argument `arg` of the body, or its extension to f32.
bool isArgument(Value v, BlockArgument arg) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    v = ext.getIn();
  return v == arg;
}

/// y[t, n] += x[t, k] * w[n, k] over loops (n, t, k): f32 x and y, f32, f16
/// or bf16 w (extended in the body), static w whose rows are contiguous
/// and a whole number of `lanes`-wide panels pairs and vectors long, y's
/// rows contiguous.
std::optional<FloatProduct> matchFloatProduct(linalg::GenericOp op,
                                              int64_t lanes) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3 || op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray()[2] != utils::IteratorType::reduction)
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  AffineExpr n, t, k;
  bindDims(ctx, n, t, k);
  SmallVector<AffineMap> want = {AffineMap::get(3, 0, {t, k}, ctx),
                                 AffineMap::get(3, 0, {n, k}, ctx),
                                 AffineMap::get(3, 0, {t, n}, ctx)};
  if (op.getIndexingMapsArray() != want)
    return std::nullopt;
  auto xType = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto wType = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto yType = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!xType || !wType || !yType || !xType.getElementType().isF32() ||
      !yType.getElementType().isF32() ||
      !isa<Float32Type, Float16Type, BFloat16Type>(wType.getElementType()) ||
      !wType.hasStaticShape() || !unitInnerStride(wType) ||
      !unitInnerStride(yType))
    return std::nullopt;
  int64_t N = wType.getDimSize(0), K = wType.getDimSize(1);
  if (N % (2 * lanes) || K % lanes || xType.getDimSize(1) != K ||
      N * K < kMinElements)
    return std::nullopt;
  // The body: acc + a * b, a and b the arguments or their extensions.
  Block *body = op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  BlockArgument a = body->getArgument(0), b = body->getArgument(1),
                acc = body->getArgument(2);
  Value product = add.getLhs() == acc   ? add.getRhs()
                  : add.getRhs() == acc ? add.getLhs()
                                        : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul || !((isArgument(mul.getLhs(), a) && isArgument(mul.getRhs(), b)) ||
                (isArgument(mul.getLhs(), b) && isArgument(mul.getRhs(), a))))
    return std::nullopt;
  // Nothing but the extensions, the product and the sum.
  for (Operation &inner : body->without_terminator())
    if (!isa<arith::ExtFOp, arith::MulFOp, arith::AddFOp>(inner))
      return std::nullopt;
  return FloatProduct{op.getDpsInputs()[0], op.getDpsInputs()[1],
                      op.getDpsInits()[0], N, K};
}

/// The lowering of one product by panels of `2 * lanes` rows.
struct PanelLowering {
  OpBuilder &b;
  Location l;
  FloatProduct p;
  int64_t lanes, panel, tileTokens;
  VectorType vec;

  Value cst(int64_t v) { return arith::ConstantIndexOp::create(b, l, v); }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, l, a, c); }
  Value add(Value a, int64_t c) { return c ? add(a, cst(c)) : a; }

  /// Transposes the `lanes` x `lanes` block `rows` in registers: at each
  /// level d (lanes / 2 .. 1), rows i and i + d (i without bit d) swap the
  /// halves that hold column bit d unlike their row bit d.
  void transpose(SmallVectorImpl<Value> &rows) {
    for (int64_t d = lanes / 2; d >= 1; d /= 2)
      for (int64_t i = 0; i < lanes; ++i) {
        if (i & d)
          continue;
        SmallVector<int64_t> lo, hi;
        for (int64_t c = 0; c < lanes; ++c) {
          lo.push_back(c & d ? lanes + c - d : c);
          hi.push_back(c & d ? lanes + c : c + d);
        }
        Value r = rows[i], s = rows[i + d];
        rows[i] = vector::ShuffleOp::create(b, l, r, s, lo);
        rows[i + d] = vector::ShuffleOp::create(b, l, r, s, hi);
      }
  }

  /// buf[k][c] = f32(w[n0 + c, k0 + k]) for k < kc, c < panel: blocks of
  /// lanes x lanes loaded by rows, converted and transposed.
  void pack(Value buf, Value n0, Value k0, Value kc) {
    Type wElem = cast<MemRefType>(p.w.getType()).getElementType();
    auto wVec = VectorType::get({lanes}, wElem);
    scf::ForOp::create(
        b, l, cst(0), kc, cst(lanes), ValueRange{},
        [&](OpBuilder &, Location, Value k, ValueRange) {
          // The panel's blocks of rows in a loop, not unrolled: the same
          // speed, half the code to compile.
          scf::ForOp::create(
              b, l, cst(0), cst(panel), cst(lanes), ValueRange{},
              [&](OpBuilder &, Location, Value c0, ValueRange) {
                SmallVector<Value> rows;
                Value r0 = add(n0, c0), kk = add(k0, k);
                for (int64_t i = 0; i < lanes; ++i) {
                  Value row = vector::LoadOp::create(
                      b, l, wVec, p.w, ValueRange{add(r0, i), kk});
                  if (wElem != vec.getElementType())
                    row = arith::ExtFOp::create(b, l, vec, row);
                  rows.push_back(row);
                }
                transpose(rows);
                for (int64_t j = 0; j < lanes; ++j) {
                  Value at = arith::MulIOp::create(b, l, add(k, j), cst(panel));
                  vector::StoreOp::create(b, l, rows[j], buf,
                                          ValueRange{add(at, c0)});
                }
                scf::YieldOp::create(b, l);
              });
          scf::YieldOp::create(b, l);
        });
  }

  /// Prefetches into L2 the panel's weights of the chunk after k0 (the
  /// last chunk: itself again), which the tiles of this chunk leave time
  /// to arrive; the packing of a chunk otherwise waited on memory for its
  /// 32 short row segments (a fifth of the product's time).
  void prefetchNextChunk(Value n0, Value k0, int64_t chunk) {
    auto wType = cast<MemRefType>(p.w.getType());
    int64_t perLine = 64 / (wType.getElementTypeBitWidth() / 8);
    Value next = arith::MinUIOp::create(b, l, add(k0, chunk), cst(p.K - chunk));
    scf::ForOp::create(b, l, cst(0), cst(panel), cst(1), ValueRange{},
                       [&](OpBuilder &, Location, Value r, ValueRange) {
                         Value row = add(n0, r);
                         for (int64_t c = 0; c < chunk; c += perLine)
                           memref::PrefetchOp::create(
                               b, l, p.w, ValueRange{row, add(next, c)},
                               /*isWrite=*/false, /*localityHint=*/2,
                               /*isDataCache=*/true);
                         scf::YieldOp::create(b, l);
                       });
  }

  /// Tokens t0 .. t0 + tr by the panel at n0 over the chunk k0 .. k0 + kc:
  /// the outputs in registers, one FMA per token and weight vector. Token
  /// i's activation at channel k comes from `xAt(i, k)`.
  void tile(Value buf, Value n0, Value t0, int64_t tr, Value k0, Value kc,
            function_ref<Value(int64_t, Value)> xAt) {
    int64_t vectors = panel / lanes;
    SmallVector<Value> accs;
    for (int64_t i = 0; i < tr; ++i)
      for (int64_t j = 0; j < vectors; ++j)
        accs.push_back(vector::LoadOp::create(
            b, l, vec, p.y, ValueRange{add(t0, i), add(n0, j * lanes)}));
    auto loop = scf::ForOp::create(
        b, l, cst(0), kc, cst(1), accs,
        [&](OpBuilder &, Location, Value k, ValueRange acc) {
          Value at = arith::MulIOp::create(b, l, k, cst(panel));
          SmallVector<Value> w;
          for (int64_t j = 0; j < vectors; ++j)
            w.push_back(vector::LoadOp::create(b, l, vec, buf,
                                               ValueRange{add(at, j * lanes)}));
          SmallVector<Value> next;
          for (int64_t i = 0; i < tr; ++i) {
            Value bx =
                vector::BroadcastOp::create(b, l, vec, xAt(i, add(k0, k)));
            for (int64_t j = 0; j < vectors; ++j)
              next.push_back(
                  vector::FMAOp::create(b, l, bx, w[j], acc[i * vectors + j]));
          }
          scf::YieldOp::create(b, l, next);
        });
    for (int64_t i = 0; i < tr; ++i)
      for (int64_t j = 0; j < vectors; ++j)
        vector::StoreOp::create(b, l, loop.getResult(i * vectors + j), p.y,
                                ValueRange{add(t0, i), add(n0, j * lanes)});
  }

  /// The tokens in blocks of up to kBlockBytes of activations, one after
  /// the other: each block's activations copied into tiles (xp[j][k][i]:
  /// token i of tile j at channel k, so that a tile's step reads one
  /// contiguous run instead of tileTokens rows a multiple of 4 KiB apart,
  /// which share their L1 sets), then a task per panel over the block.
  void lower(Value T) {
    int64_t tilesPerBlock =
        std::clamp<int64_t>(kBlockBytes / (p.K * 4 * tileTokens), 4, 64);
    int64_t block = tilesPerBlock * tileTokens;
    auto xpType = MemRefType::get({block * p.K}, vec.getElementType());
    scf::ForOp::create(
        b, l, cst(0), T, cst(block), ValueRange{},
        [&](OpBuilder &, Location, Value t0, ValueRange) {
          Value left = arith::SubIOp::create(b, l, T, t0);
          Value len = arith::MinUIOp::create(b, l, left, cst(block));
          Value tiles = arith::DivUIOp::create(b, l, len, cst(tileTokens));
          Value xp = memref::AllocOp::create(b, l, xpType, ValueRange{},
                                             b.getI64IntegerAttr(64));
          packActivations(xp, t0, tiles);
          Value tiled = arith::MulIOp::create(b, l, tiles, cst(tileTokens));
          auto panels = scf::ForOp::create(
              b, l, cst(0), cst(p.N), cst(panel), ValueRange{},
              [&](OpBuilder &, Location, Value n0, ValueRange) {
                panelBody(xp, n0, t0, tiles, add(t0, tiled), add(t0, len));
                scf::YieldOp::create(b, l);
              });
          // A task per panel (seq-parallelize-loops), each packing its
          // weights once per chunk for every token of the block.
          seq::SeqDialect::ParallelAttrHelper(b.getContext())
              .setAttr(panels, b.getUnitAttr());
          memref::DeallocOp::create(b, l, xp);
          scf::YieldOp::create(b, l);
        });
  }

  /// xp[(j * K + k) * tileTokens + i] = x[t0 + j * tileTokens + i, k] for
  /// j < tiles, on all threads.
  void packActivations(Value xp, Value t0, Value tiles) {
    scf::ParallelOp::create(
        b, l, ValueRange{cst(0), cst(0)}, ValueRange{tiles, cst(p.K)},
        ValueRange{cst(1), cst(1)}, [&](OpBuilder &, Location, ValueRange ivs) {
          Value j = ivs[0], k = ivs[1];
          Value row = arith::MulIOp::create(b, l, j, cst(tileTokens));
          Value at = arith::MulIOp::create(
              b, l,
              arith::AddIOp::create(
                  b, l, arith::MulIOp::create(b, l, j, cst(p.K)), k),
              cst(tileTokens));
          for (int64_t i = 0; i < tileTokens; ++i) {
            Value v = memref::LoadOp::create(
                b, l, p.x, ValueRange{add(add(t0, row), i), k});
            memref::StoreOp::create(b, l, v, xp, ValueRange{add(at, i)});
          }
        });
  }

  /// One panel over the block: per chunk of the reduction, its weights
  /// packed, then the tiles from the packed activations, then the tokens
  /// from `tiledEnd` to `end` (the last block's, fewer than a tile) one at
  /// a time from x.
  void panelBody(Value xp, Value n0, Value t0, Value tiles, Value tiledEnd,
                 Value end) {
    int64_t chunk = std::min(kChunk, p.K);
    auto bufType = MemRefType::get({chunk * panel}, vec.getElementType());
    // On the heap: a task's stack may be small, and an alloca in the loop
    // the task runs its panels in would grow it by one buffer per panel.
    Value buf = memref::AllocOp::create(b, l, bufType, ValueRange{},
                                        b.getI64IntegerAttr(64));
    scf::ForOp::create(
        b, l, cst(0), cst(p.K), cst(chunk), ValueRange{},
        [&](OpBuilder &, Location, Value k0, ValueRange) {
          Value left = arith::SubIOp::create(b, l, cst(p.K), k0);
          Value kc = arith::MinUIOp::create(b, l, left, cst(chunk));
          pack(buf, n0, k0, kc);
          if (p.K > chunk)
            prefetchNextChunk(n0, k0, chunk);
          scf::ForOp::create(
              b, l, cst(0), tiles, cst(1), ValueRange{},
              [&](OpBuilder &, Location, Value j, ValueRange) {
                Value base = arith::MulIOp::create(b, l, j, cst(p.K));
                Value t =
                    add(t0, arith::MulIOp::create(b, l, j, cst(tileTokens)));
                tile(buf, n0, t, tileTokens, k0, kc,
                     [&](int64_t i, Value k) -> Value {
                       Value at = arith::MulIOp::create(b, l, add(base, k),
                                                        cst(tileTokens));
                       return memref::LoadOp::create(b, l, xp,
                                                     ValueRange{add(at, i)});
                     });
                scf::YieldOp::create(b, l);
              });
          scf::ForOp::create(
              b, l, tiledEnd, end, cst(1), ValueRange{},
              [&](OpBuilder &, Location, Value t, ValueRange) {
                tile(buf, n0, t, 1, k0, kc, [&](int64_t, Value k) -> Value {
                  return memref::LoadOp::create(b, l, p.x, ValueRange{t, k});
                });
                scf::YieldOp::create(b, l);
              });
          scf::YieldOp::create(b, l);
        });
    memref::DeallocOp::create(b, l, buf);
  }
};

} // namespace

LogicalResult seq::cpu::lowerFloatPanels(RewriterBase &rewriter,
                                         linalg::GenericOp op, int64_t lanes) {
  if (lanes != 8 && lanes != 16)
    return failure();
  std::optional<FloatProduct> product = matchFloatProduct(op, lanes);
  if (!product)
    return failure();
  // Prefill only: a single static token is decode's product.
  auto xType = cast<MemRefType>(product->x.getType());
  if (!xType.isDynamicDim(0) && xType.getDimSize(0) < kTileTokens)
    return failure();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op.getLoc();
  PanelLowering lowering{rewriter,
                         loc,
                         *product,
                         lanes,
                         2 * lanes,
                         lanes == 16 ? 8 : 6,
                         VectorType::get({lanes}, rewriter.getF32Type())};
  lowering.lower(memrefDim(rewriter, loc, product->x, 0));
  return success();
}
