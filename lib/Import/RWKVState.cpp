//===- RWKVState.cpp - a WKV state kept quantized -------------------------===//
//
// --state, --state-group and --state-rotate: the options' checks, the
// encoding the WKV ops get, and where the quantized words lie in a layer's
// state rows (dialects/Seq/IR/SeqStateLayout.h has the words' layout). The
// RWKV builder's other methods are in RWKV.cpp and RWKV567.cpp.
//
//===----------------------------------------------------------------------===//

#include "RWKVBuilder.h"
#include "seqc/Import/Importer.h"
#include "seqc/Support/Hadamard.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace seqc;
using namespace seqc::import;
using namespace mlir;

/// The encoding of a WKV state in codes of `bits` bits and groups of
/// `group`: symmetric, grouped along the value axis (RWKV-4's channels,
/// RWKV-5/6's last axis, RWKV-7's middle one).
static seq::QuantEncodingAttr stateEncoding(MLIRContext *ctx,
                                            const RWKVConfig &cfg,
                                            unsigned bits, int64_t group) {
  int64_t axis = cfg.version == 4 ? 0 : cfg.version == 7 ? 1 : 2;
  return seq::QuantEncodingAttr::get(ctx, bits, group, axis,
                                     seq::QuantMode::Symmetric);
}

llvm::Error seqc::applyStateOptions(MLIRContext *ctx, RWKVConfig &cfg,
                                    const ImportOptions &options,
                                    std::string &format) {
  format = "f32";
  if (options.stateRotate && !options.stateBits)
    return llvm::createStringError(
        "--state-rotate applies to a quantized state: give --state=int8 or "
        "--state=int4");
  if (options.stateRotate && cfg.version == 4)
    return llvm::createStringError(
        "--state-rotate applies to RWKV-5/6/7, whose heads' values share "
        "their decays; RWKV-4 decays each channel by its own rate, so a "
        "rotation across channels would not commute with the recurrence");
  if (options.stateRotate && !factorizeHadamardOrder(cfg.headSize))
    return llvm::createStringError(llvm::formatv(
        "--state-rotate: the {0} heads have {1} channels, an order with no "
        "Hadamard matrix seqc can build ({2})",
        cfg.name(), cfg.headSize, describeSupportedHadamardOrders()));
  if (!options.stateBits)
    return llvm::Error::success();
  std::string flags = llvm::formatv("--state=int{0} --state-group={1}",
                                    options.stateBits, options.stateGroup);
  if (options.stateBits != 4 && options.stateBits != 8)
    return llvm::createStringError(flags +
                                   ": a quantized state has 4 or 8 bits");
  if (options.stateGroup < 1)
    return llvm::createStringError(flags + ": the group must be positive");
  seq::QuantEncodingAttr enc =
      stateEncoding(ctx, cfg, options.stateBits, options.stateGroup);
  int64_t axis = enc.getAxis();
  int64_t n = cfg.version == 4
                  ? std::max<int64_t>(cfg.perspectives, 1) * cfg.embd
                  : cfg.headSize;
  SmallVector<int64_t> shape =
      cfg.version == 4 ? SmallVector<int64_t>{n} : SmallVector<int64_t>{n, n};
  if (std::optional<std::string> problem =
          seq::stateQuantProblem(enc, shape, axis))
    return llvm::createStringError(
        llvm::formatv("{0}: cannot keep the {1} state of {2} quantized: {3}",
                      flags, cfg.name(),
                      cfg.version == 4 ? "width " + std::to_string(n)
                                       : "head size " + std::to_string(n),
                      *problem)
            .str());
  cfg.stateBits = options.stateBits;
  cfg.stateGroup = options.stateGroup;
  cfg.stateRotate = options.stateRotate;
  format = llvm::formatv("int{0} group {1}{2}", cfg.stateBits, cfg.stateGroup,
                         cfg.stateRotate ? " rotated" : "");
  return llvm::Error::success();
}

seq::QuantEncodingAttr RWKVBuilder::stateQuant() const {
  if (!cfg.stateBits)
    return {};
  return stateEncoding(ctx, cfg, cfg.stateBits, cfg.stateGroup);
}

seq::QuantizedStateLayout RWKVBuilder::stateLayout() const {
  int64_t W = stateWidth(), N = cfg.headSize;
  if (cfg.version == 4)
    return seq::quantizedStateLayout(cfg.stateBits, cfg.stateGroup, {W}, W);
  return seq::quantizedStateLayout(cfg.stateBits, cfg.stateGroup, {N, N}, 0);
}

int64_t RWKVBuilder::wkvRows() const {
  if (!cfg.stateBits)
    return cfg.version == 4 ? 3 : cfg.headSize;
  int64_t words = stateLayout().words() * (cfg.version == 4 ? 1 : cfg.heads);
  return (words + stateWidth() - 1) / stateWidth();
}

/// The quantized WKV state's words in rows row0 .. row0 + wkvRows() - 1:
/// [words] (RWKV-4) or [H, words of a head].
Value RWKVBuilder::wkvStateWords(Value state, int64_t row0) {
  int64_t R = wkvRows(), W = stateWidth();
  Value rows = stateRows(state, 0, row0, R);
  if (R > 1)
    rows = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({R * W}, f32), rows,
        ArrayRef<ReassociationIndices>{{0, 1}});
  int64_t perHead = stateLayout().words(),
          heads = cfg.version == 4 ? 1 : cfg.heads;
  Value words = tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({heads * perHead}, f32), rows,
      ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(heads * perHead)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  if (cfg.version == 4)
    return words;
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({heads, perHead}, f32), words,
      ArrayRef<ReassociationIndices>{{0, 1}});
}

/// `state` with the quantized WKV state's words put back at row0 (the
/// words after them in the last row are left as they are).
Value RWKVBuilder::setWkvStateWords(Value state, Value words, int64_t row0) {
  int64_t R = wkvRows(), W = stateWidth();
  auto type = cast<RankedTensorType>(words.getType());
  if (type.getRank() == 2)
    words = tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get({type.getDimSize(0) * type.getDimSize(1)}, f32),
        words, ArrayRef<ReassociationIndices>{{0, 1}});
  int64_t n = cast<RankedTensorType>(words.getType()).getDimSize(0);
  Value rows = stateRows(state, 0, row0, R);
  if (R > 1)
    rows = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({R * W}, f32), rows,
        ArrayRef<ReassociationIndices>{{0, 1}});
  rows = tensor::InsertSliceOp::create(
      b, loc, words, rows, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  if (R > 1)
    rows = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({R, W}, f32), rows,
        ArrayRef<ReassociationIndices>{{0, 1}});
  return setStateRows(state, rows, 0, row0);
}

/// With --state-rotate, the value vectors entering a WKV recurrence
/// rotated by a normalized Hadamard matrix per head, and its output rotated
/// back (`undo`): the state then holds each head's values rotated (exactly:
/// the update is linear in the value axis and the decays act on the keys),
/// which spreads an outlier value channel over the head before the state is
/// quantized. Without it, `x` itself.
Value RWKVBuilder::rotateValues(Value x, bool undo) {
  if (!cfg.stateRotate)
    return x;
  auto op = seq::HadamardOp::create(b, loc, x.getType(), x);
  op.setBlockSizeAttr(b.getI64IntegerAttr(cfg.headSize));
  op.setTransposeAttr(b.getBoolAttr(undo));
  return op.getResult();
}
