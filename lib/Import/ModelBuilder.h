//===- ModelBuilder.h - shared pieces of the model importers ----*- C++ -*-===//
//
// What every importer needs: the weight blob writer (BlobWriter.h), a
// shape-checking tensor reader, and ModelBuilder, the base
// of the IR builders: entry functions, weights by reference (seq.weight
// through the module's weight table; relative to the layer argument inside
// a shared layer function), and the elementwise, product and reduction
// building blocks on f32 tensors. The CPU ABI (the mapped blob as an
// argument, views at byte offsets, C-interface entries) is seq-cpu-abi's.
// Private to lib/Import.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_MODELBUILDER_H
#define SEQC_LIB_IMPORT_MODELBUILDER_H

#include "BlobWriter.h"
#include "seqc/Import/Checkpoint.h"
#include "seqc/Import/RWKV.h"
#include "seqc/Support/CheckedMath.h"

#include "dialects/Seq/IR/SeqDialect.h"
#include "dialects/Seq/IR/SeqOps.h"
#include "dialects/Seq/IR/SeqQ4Product.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace seqc::import {
// Private to lib/Import: the builders spell MLIR names unqualified.
using namespace mlir;

/// Reads checkpoint tensors for the blob, checking each one's shape against
/// the shape the model needs. The first problem is kept as the error, and
/// from then on every read returns an empty vector without allocating: a
/// hostile config can make the *expected* shape far larger than the file, so
/// nothing is ever sized from it. Callers stop at the first error (check
/// `failed()` before using what they read; the helpers below cope with
/// empty inputs).
struct TensorReader {
  Checkpoint &ckpt;
  std::string arch;
  llvm::Error err = llvm::Error::success();

  ~TensorReader() { llvm::consumeError(std::move(err)); }

  bool failed() { return (bool)err; }

  /// The tensor `name`, which must have `shape` (leading 1s of the stored
  /// shape are ignored: [1, 1, C] reads as [C]), as f32; empty after an
  /// error.
  std::vector<float> get(const std::string &name, std::vector<int64_t> shape) {
    if (err)
      return {};
    const Tensor *t = ckpt.find(name);
    if (!t) {
      err = llvm::createStringError(ckpt.path() + ": " + arch +
                                    " checkpoint is missing tensor '" + name +
                                    "'");
      return {};
    }
    std::vector<int64_t> have = t->shape;
    while (have.size() > shape.size() && have.front() == 1)
      have.erase(have.begin());
    if (have != shape) {
      Tensor want;
      want.shape = shape;
      want.dtype = t->dtype;
      err = llvm::createStringError(ckpt.path() + ": " + arch + " tensor '" +
                                    name + "' is " + t->describe() +
                                    ", expected " + want.describe());
      return {};
    }
    // The shape matched a tensor of the file: its size is what the file
    // holds. Its pages of the mapped file are not needed any more.
    std::vector<float> values = t->toF32();
    ckpt.releasePages(*t);
    return values;
  }
};

/// `rows x cols` row-major -> `cols x rows`.
/// Empty when `m` is not that size (a read that failed).
inline std::vector<float> transpose(const std::vector<float> &m, int64_t rows,
                                    int64_t cols) {
  std::optional<int64_t> n = checkedMul(rows, cols);
  if (!n || (int64_t)m.size() != *n)
    return {};
  std::vector<float> t(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[c * rows + r] = m[r * cols + c];
  return t;
}

/// The storage of a model's projection matrices under `--weights=format`.
inline DType matrixDType(WeightFormat format) {
  switch (format) {
  case WeightFormat::F32:
    return DType::F32;
  case WeightFormat::F16:
    return DType::F16;
  case WeightFormat::Int8:
    return DType::I8;
  case WeightFormat::Q4:
    return DType::Q4;
  case WeightFormat::Q5:
    return DType::Q5;
  case WeightFormat::Q6:
    return DType::Q6;
  case WeightFormat::Q8:
    return DType::Q8;
  case WeightFormat::Q4K:
    return DType::Q4K;
  case WeightFormat::Q5K:
    return DType::Q5K;
  case WeightFormat::Q6K:
    return DType::Q6K;
  case WeightFormat::Gguf: // per tensor: the overload below
    break;
  }
  return DType::F32;
}

/// The storage of the matrix read from `tensor` under `--weights=format`:
/// matrixDType(format), or for Gguf the format of the tensor's GGML type:
/// the one that keeps its values (Q4_0: q4, Q5_0: q5, Q8_0: q8, Q4_K: q4k,
/// Q5_K: q5k, Q6_K: q6k, Q3_K: q6k, whose blocks hold its values exactly,
/// F16 and BF16: fp16, F32: fp32) or, for the types seqc has no format of,
/// one quantized again: Q4_1 and Q5_1 as q8, whose step is an eighth of
/// theirs or less, so it adds a small fraction of their own error (a format
/// of 5 or 6 bits on another grid would about double it); Q2_K as q6k, whose
/// sub-blocks are Q2_K's and whose step is a tenth of Q2_K's or less.
inline DType matrixDType(WeightFormat format, const Tensor *tensor) {
  if (format != WeightFormat::Gguf)
    return matrixDType(format);
  if (!tensor)
    return DType::F32;
  if (!tensor->blocks)
    return tensor->dtype == DType::F32 ? DType::F32 : DType::F16;
  switch (tensor->blocks->id) {
  case 2: // Q4_0
    return DType::Q4;
  case 6: // Q5_0
    return DType::Q5;
  case 12: // Q4_K
    return DType::Q4K;
  case 13: // Q5_K
    return DType::Q5K;
  case 10: // Q2_K
  case 11: // Q3_K
  case 14: // Q6_K
    return DType::Q6K;
  default: // Q8_0; Q4_1, Q5_1
    return DType::Q8;
  }
}

/// Under a group format (--weights=q4 .. q8, q4k), every input width of the
/// model's projections
/// (`widths`: what each is, and its size) must be a whole number of groups
/// (32 channels); an error naming the first that is not.
inline llvm::Error
checkQ4Widths(WeightFormat format, llvm::StringRef model,
              ArrayRef<std::pair<llvm::StringRef, int64_t>> widths) {
  if (!isGroupFormat(format))
    return llvm::Error::success();
  for (auto [what, width] : widths)
    if (width % mlir::seq::kQ4Group)
      return llvm::createStringError(llvm::formatv(
          "--weights={0} scales the inputs of a projection in groups of {1} "
          "channels; this {2} has {3} = {4}",
          stringifyWeightFormat(format), mlir::seq::kQ4Group, model, what,
          width));
  return llvm::Error::success();
}

/// --weights=gguf reads the formats from a GGUF file's tensor types: an
/// error for any other checkpoint.
inline llvm::Error checkWeightSource(WeightFormat format,
                                     const Checkpoint &ckpt) {
  if (format != WeightFormat::Gguf || ckpt.format() == "gguf")
    return llvm::Error::success();
  return llvm::createStringError(
      "--weights=gguf keeps the types of a GGUF file's tensors; " +
      ckpt.path() + " is a " + ckpt.format() +
      " checkpoint: choose fp32, fp16, int8, q8, q6, q5, q4, q4k or q6k");
}

/// Base of the model IR builders. Values are f32 tensors; matrices may be
/// f16, int8 or q4 and are converted inside the products.
class ModelBuilder {
public:
  /// `layerRoot` is the weight-name prefix of the layers ("blocks." for
  /// RWKV, "layers." for LLaMA): weights named `<root><l>.` belong to layer
  /// `l`, which a shared layer function is given as an index.
  ModelBuilder(mlir::MLIRContext *ctx, const WeightBlob &blob,
               std::string layerRoot, int64_t layers)
      : ctx(ctx), b(ctx), loc(mlir::UnknownLoc::get(ctx)), blob(blob),
        layerRoot(std::move(layerRoot)) {
    f32 = b.getF32Type();
    for (const WeightBlob::Entry &e : blob.entries)
      entries[e.name] = &e;
    layerStart.assign(layers, UINT64_MAX);
    for (const WeightBlob::Entry &e : blob.entries) {
      llvm::StringRef n = e.name;
      int64_t l;
      if (n.consume_front(this->layerRoot) &&
          !n.take_until([](char c) { return c == '.'; }).getAsInteger(10, l) &&
          l >= 0 && l < layers)
        layerStart[l] = std::min<uint64_t>(layerStart[l], e.offset);
    }
  }

  virtual ~ModelBuilder() = default;

  /// The module: the model kind as `seq.model`, the blob's layout as
  /// `seq.weights`, the state initializer, and the step (1 token), prefill
  /// and prefill_all (T tokens) entries. Null when layers first .. L-1 are
  /// not laid out uniformly. `prefillTokens` > 0 makes seqc_prefill take
  /// exactly that many tokens (a GPU target's static schedule).
  OwningOpRef<ModuleOp> buildModule(StringRef kind, int64_t firstShared,
                                    int64_t prefillTokens) {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    mlir::seq::SeqDialect::ModelAttrHelper(ctx).setAttr(module->getOperation(),
                                                        b.getStringAttr(kind));
    (*module)->setAttr(mlir::seq::WeightTableAttr::kAttrName, weightTable());
    b.setInsertionPointToEnd(module->getBody());
    if (!checkUniformLayers(firstShared))
      return nullptr;
    buildInitState();
    buildForward("seqc_step", 1, /*allLogits=*/false);
    buildForward("seqc_prefill",
                 prefillTokens > 0 ? prefillTokens : ShapedType::kDynamic,
                 false);
    buildForward("seqc_prefill_all", ShapedType::kDynamic, true);
    return module;
  }

  /// The blob's entries by name: offset and tensor type.
  mlir::seq::WeightTableAttr weightTable() {
    SmallVector<NamedAttribute> named;
    for (const WeightBlob::Entry &e : blob.entries)
      named.emplace_back(
          b.getStringAttr(e.name),
          mlir::seq::WeightEntryAttr::get(ctx, e.offset, weightType(e)));
    return mlir::seq::WeightTableAttr::get(ctx, layerRoot,
                                           b.getDictionaryAttr(named));
  }

  RankedTensorType weightType(const WeightBlob::Entry &e) {
    Type elt = e.dtype == DType::F32   ? f32
               : e.dtype == DType::F16 ? (Type)b.getF16Type()
                                       : (Type)b.getIntegerType(8);
    return RankedTensorType::get(e.shape, elt);
  }

  /// Checks that layers first .. L-1 have the same weights at the same
  /// offsets relative to their layer's start (so one function, given the
  /// start, serves them all).
  bool checkUniformLayers(int64_t first) {
    std::string rep = layerRoot + std::to_string(first) + ".";
    for (const WeightBlob::Entry &e : blob.entries) {
      if (!llvm::StringRef(e.name).starts_with(rep))
        continue;
      std::string suffix = e.name.substr(rep.size());
      for (int64_t l = first + 1; l < (int64_t)layerStart.size(); ++l) {
        const WeightBlob::Entry *o =
            entries.lookup(layerRoot + std::to_string(l) + "." + suffix);
        if (!o || o->offset - layerStart[l] != e.offset - layerStart[first])
          return false;
      }
    }
    return true;
  }

protected:
  virtual void buildInitState() = 0;
  /// An entry for `tokens` tokens (static 1 or dynamic): logits of the last
  /// token, or of every token when `allLogits`.
  virtual void buildForward(StringRef name, int64_t tokens, bool allLogits) = 0;

  using BodyFn = llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

  mlir::MLIRContext *ctx;
  OpBuilder b;
  Location loc;
  const WeightBlob &blob;
  std::string layerRoot;
  mlir::Type f32;
  llvm::StringMap<const WeightBlob::Entry *> entries;
  // Inside a layer function: the layer argument, the layer whose names the
  // code uses, and that layer's name prefix.
  Value layerIndex;
  int64_t repLayer = 0;
  std::string layerPrefix;
  // Byte offset of each layer's first weight.
  std::vector<uint64_t> layerStart;
  llvm::StringMap<Value> weightValues; // Per function.

  func::FuncOp startFunc(StringRef name, TypeRange args) {
    auto fn =
        func::FuncOp::create(b, loc, name, FunctionType::get(ctx, args, {}));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    return fn;
  }

  void endFunc(func::FuncOp fn) {
    func::ReturnOp::create(b, loc);
    b.setInsertionPointAfter(fn);
    weightValues.clear();
  }

  static Value cst(OpBuilder &nb, Location nl, float v) {
    return arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(v));
  }

  void store(Value tensor, Value memref) {
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), tensor, memref, /*restrict=*/true, /*writable=*/true);
  }

  /// A blob entry as a tensor: a reference by name (seq.weight).
  Value weight(StringRef name) {
    auto cached = weightValues.find(name);
    if (cached != weightValues.end())
      return cached->second;
    const WeightBlob::Entry *e = entries.lookup(name);
    assert(e && "weight missing from the blob");
    Value t;
    if (layerIndex && name.starts_with(layerPrefix))
      // Inside a shared layer function: relative to its layer argument.
      t = mlir::seq::WeightOp::create(b, loc, weightType(*e),
                                      name.drop_front(layerPrefix.size()),
                                      layerIndex);
    else
      t = mlir::seq::WeightOp::create(b, loc, weightType(*e), name, Value());
    weightValues[name] = t;
    return t;
  }

  /// Dimension `d` of a tensor as an OpFoldResult.
  OpFoldResult dim(Value t, int64_t d) {
    auto type = cast<RankedTensorType>(t.getType());
    if (!type.isDynamicDim(d))
      return b.getIndexAttr(type.getDimSize(d));
    return tensor::DimOp::create(b, loc, t, d).getResult();
  }

  Value empty(ArrayRef<OpFoldResult> sizes) {
    return tensor::EmptyOp::create(b, loc, sizes, f32);
  }

  Value zeros(ArrayRef<OpFoldResult> sizes) {
    Value zero = cst(b, loc, 0.0f);
    Value init = empty(sizes);
    return linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{init})
        .getResult(0);
  }

  static Value ext(OpBuilder &nb, Location nl, Value v) {
    if (v.getType().isF32())
      return v;
    if (v.getType().isInteger(8))
      return arith::SIToFPOp::create(nb, nl, nb.getF32Type(), v);
    return arith::ExtFOp::create(nb, nl, nb.getF32Type(), v);
  }

  /// Elementwise over [T, C]: inputs are [T, C] or broadcast [C].
  Value elementwise(ArrayRef<Value> inputs,
                    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
    Value shapeSource;
    for (Value in : inputs)
      if (cast<RankedTensorType>(in.getType()).getRank() == 2)
        shapeSource = in;
    assert(shapeSource && "elementwise needs a [T, C] input");
    Value out = empty({dim(shapeSource, 0), dim(shapeSource, 1)});
    SmallVector<AffineMap> maps;
    for (Value in : inputs)
      maps.push_back(cast<RankedTensorType>(in.getType()).getRank() == 2
                         ? b.getMultiDimIdentityMap(2)
                         : AffineMap::get(2, 0, b.getAffineDimExpr(1), ctx));
    maps.push_back(b.getMultiDimIdentityMap(2));
    return linalg::GenericOp::create(
               b, loc, TypeRange{out.getType()}, inputs, ValueRange{out}, maps,
               SmallVector<utils::IteratorType>(2,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 SmallVector<Value> in;
                 for (Value a : args.drop_back())
                   in.push_back(ext(nb, nl, a));
                 linalg::YieldOp::create(nb, nl, fn(nb, nl, in));
               })
        .getResult(0);
  }

  /// y[t, n] = sum_k x[t, k] * W[n, k] (W as stored: [out, in]).
  Value matmulT(Value x, Value w) {
    Value out = zeros({dim(x, 0), dim(w, 0)});
    MLIRContext *c = ctx;
    // Loops (n, t, k): the output channel outermost, so that one weight row
    // stays in cache while every token uses it (prefill reads the weights
    // once, not once per token); k innermost for a contiguous dot product.
    AffineExpr n = getAffineDimExpr(0, c), t = getAffineDimExpr(1, c),
               k = getAffineDimExpr(2, c);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {t, k}, c),
                                   AffineMap::get(3, 0, {n, k}, c),
                                   AffineMap::get(3, 0, {t, n}, c)};
    return reduceProducts(x, w, out, maps);
  }

  /// out + sum over the last loop of x * w, the other loops parallel, with
  /// `maps` indexing x, w and out; marked for seq-parallelize-products.
  Value reduceProducts(Value x, Value w, Value out, ArrayRef<AffineMap> maps) {
    // Reassociation lets LLVM vectorize the reduction.
    auto fm = arith::FastMathFlagsAttr::get(
        ctx, arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
    SmallVector<utils::IteratorType> iterators(maps.front().getNumDims() - 1,
                                               utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    auto product = linalg::GenericOp::create(
        b, loc, TypeRange{out.getType()}, ValueRange{x, w}, ValueRange{out},
        maps, iterators, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value xa = ext(nb, nl, a[0]);
          Value wa = ext(nb, nl, a[1]);
          Value prod = arith::MulFOp::create(nb, nl, xa, wa, fm);
          linalg::YieldOp::create(
              nb, nl,
              arith::AddFOp::create(nb, nl, a[2], prod, fm).getResult());
        });
    // Worth spreading over threads (seq-parallelize-products).
    mlir::seq::SeqDialect::ParallelAttrHelper(ctx).setAttr(product,
                                                           UnitAttr::get(ctx));
    return product.getResult(0);
  }

  /// A model projection: x · Wᵀ with W stored f32, f16, int8 with one f32
  /// scale per output row (`<name>.scale`, applied after the integer
  /// weights' dot products), or in a group format (the products of
  /// SeqQ4Product.h).
  Value linear(Value x, const std::string &name) {
    const WeightBlob::Entry *e = entries.lookup(name);
    if (int bits = groupBits(e->dtype)) {
      // One op-creating call per statement: the ops' order is fixed.
      Value w = weight(name);
      SmallVector<Value, 2> planes;
      for (int bit = 4; bit < bits && bits < 8; ++bit)
        planes.push_back(weight(name + ".bit" + std::to_string(bit)));
      Value scale = weight(name + ".scale");
      Value out = zeros({dim(x, 0), b.getIndexAttr(e->shape[0])});
      linalg::GenericOp product;
      if (e->dtype == DType::Q8) {
        product = mlir::seq::buildQ8Product(b, loc, x, w, scale, out);
      } else if (e->dtype == DType::Q6K) {
        Value d = weight(name + ".d");
        product = mlir::seq::buildQ6KProduct(b, loc, x, w, planes[0], planes[1],
                                             scale, d, out);
      } else if (e->dtype != DType::Q4K && e->dtype != DType::Q5K) {
        product = mlir::seq::buildQ4Product(b, loc, x, w, planes, scale, out);
      } else {
        Value mins = weight(name + ".min");
        Value d = weight(name + ".d");
        Value dmin = weight(name + ".dmin");
        product = mlir::seq::buildQ4KProduct(b, loc, x, w, planes, scale, mins,
                                             d, dmin, out);
      }
      mlir::seq::SeqDialect::ParallelAttrHelper(ctx).setAttr(
          product, UnitAttr::get(ctx));
      return product.getResult(0);
    }
    Value y = matmulT(x, weight(name));
    if (e->dtype != DType::I8)
      return y;
    return mul(y, weight(name + ".scale"));
  }

  /// Sum over the rows of f(x) ([T, C] -> [T]).
  Value rowSum(Value x, Value rowInput,
               function_ref<Value(OpBuilder &, Location, Value, Value)> f) {
    Value out = zeros({dim(x, 0)});
    SmallVector<Value> ins = {x};
    SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(2)};
    AffineMap row = AffineMap::get(2, 0, b.getAffineDimExpr(0), ctx);
    if (rowInput) {
      ins.push_back(rowInput);
      maps.push_back(row);
    }
    maps.push_back(row);
    return linalg::GenericOp::create(
               b, loc, TypeRange{out.getType()}, ins, ValueRange{out}, maps,
               SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                                utils::IteratorType::reduction},
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 Value v = f(nb, nl, a[0], rowInput ? a[1] : Value());
                 linalg::YieldOp::create(
                     nb, nl,
                     arith::AddFOp::create(nb, nl, a.back(), v).getResult());
               })
        .getResult(0);
  }

  static Value sigmoid(OpBuilder &nb, Location nl, Value v) {
    Value e = math::ExpOp::create(nb, nl, arith::NegFOp::create(nb, nl, v));
    Value one = cst(nb, nl, 1.0f);
    Value den = arith::AddFOp::create(nb, nl, cst(nb, nl, 1.0f), e);
    return arith::DivFOp::create(nb, nl, one, den);
  }

  Value add(Value a, Value c) {
    return elementwise({a, c}, [](OpBuilder &nb, Location nl, ValueRange v) {
      return arith::AddFOp::create(nb, nl, v[0], v[1]).getResult();
    });
  }

  Value mul(Value a, Value c) {
    return elementwise({a, c}, [](OpBuilder &nb, Location nl, ValueRange v) {
      return arith::MulFOp::create(nb, nl, v[0], v[1]).getResult();
    });
  }

  static Value silu(OpBuilder &nb, Location nl, Value v) {
    return arith::MulFOp::create(nb, nl, v, sigmoid(nb, nl, v));
  }
  /// [T, H*D] -> [T, H, D] and back.
  Value splitHeads(Value x, int64_t heads, int64_t headDim) {
    auto type = cast<RankedTensorType>(x.getType());
    return tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({type.getDimSize(0), heads, headDim}, f32), x,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{dim(x, 0), b.getIndexAttr(heads),
                                  b.getIndexAttr(headDim)});
  }
  Value joinHeads(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    return tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get(
            {type.getDimSize(0), type.getDimSize(1) * type.getDimSize(2)}, f32),
        x, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  /// A [T, C] generic over x, per-row [T] statistics and per-channel [C]
  /// weights: body(x, rows..., cols...) (normalizations).
  Value rowwise(Value x, ValueRange rows, ValueRange cols, BodyFn body) {
    Value out = empty({dim(x, 0), dim(x, 1)});
    AffineMap id = b.getMultiDimIdentityMap(2);
    AffineMap row = AffineMap::get(2, 0, b.getAffineDimExpr(0), ctx);
    AffineMap col = AffineMap::get(2, 0, b.getAffineDimExpr(1), ctx);
    SmallVector<Value> ins = {x};
    SmallVector<AffineMap> maps = {id};
    for (Value r : rows) {
      ins.push_back(r);
      maps.push_back(row);
    }
    for (Value c : cols) {
      ins.push_back(c);
      maps.push_back(col);
    }
    maps.push_back(id);
    return linalg::GenericOp::create(
               b, loc, TypeRange{out.getType()}, ins, ValueRange{out}, maps,
               SmallVector<utils::IteratorType>(2,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 linalg::YieldOp::create(nb, nl, body(nb, nl, a.drop_back()));
               })
        .getResult(0);
  }

  /// While a shared layer function is built: weight names of layer `rep`
  /// become references relative to its layer argument (argument 0).
  /// Restores the entry's references on scope exit.
  class LayerScope {
  public:
    LayerScope(ModelBuilder &mb, func::FuncOp fn, int64_t rep)
        : mb(mb), savedViews(std::move(mb.weightValues)) {
      mb.weightValues.clear();
      mb.layerIndex = fn.getArgument(0);
      mb.repLayer = rep;
      mb.layerPrefix = mb.layerRoot + std::to_string(rep) + ".";
    }
    ~LayerScope() {
      mb.weightValues = std::move(savedViews);
      mb.layerIndex = Value();
    }

  private:
    ModelBuilder &mb;
    llvm::StringMap<Value> savedViews;
  };

  /// Rows `tokens[t]` of the [V, C] table `name` as a [T, C] f32 tensor.
  Value embedTokens(Value tokens, StringRef name) {
    Value table = weight(name);
    int64_t C = cast<RankedTensorType>(table.getType()).getDimSize(1);
    Value init = empty({dim(tokens, 0), b.getIndexAttr(C)});
    AffineMap tokMap = AffineMap::get(2, 0, b.getAffineDimExpr(0), ctx);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{tokens},
               ValueRange{init},
               SmallVector<AffineMap>{tokMap, b.getMultiDimIdentityMap(2)},
               SmallVector<utils::IteratorType>(2,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 Value row = arith::IndexCastOp::create(
                     nb, nl, nb.getIndexType(), a[0]);
                 Value col = linalg::IndexOp::create(nb, nl, 1);
                 Value v = tensor::ExtractOp::create(nb, nl, table,
                                                     ValueRange{row, col});
                 linalg::YieldOp::create(nb, nl, ext(nb, nl, v));
               })
        .getResult(0);
  }

  /// The last row of a [T, C] tensor, as [1, C].
  Value lastRow(Value x) {
    int64_t C = cast<RankedTensorType>(x.getType()).getDimSize(1);
    Value T = getValueOrCreateConstantIndexOp(b, loc, dim(x, 0));
    Value last = arith::SubIOp::create(
        b, loc, T, arith::ConstantIndexOp::create(b, loc, 1));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({1, C}, f32), x,
        ArrayRef<OpFoldResult>{last, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(C)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
};

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_MODELBUILDER_H
