//===- Calibration.cpp - KV statistics from seqc-run calibrate ------------===//

#include "seqc/Import/Calibration.h"
#include "seqc/Support/JsonDepth.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace llvm;

Error seqc::attachKVCalibration(mlir::ModuleOp module, StringRef path,
                                int64_t layers, bool covariance) {
  auto fail = [&](const Twine &why) {
    return createStringError(path + ": " + why);
  };
  auto buf = MemoryBuffer::getFile(path);
  if (!buf)
    return fail("cannot read: " + buf.getError().message());
  std::string deep;
  if (!checkJsonDepth((*buf)->getBufferStart(), (*buf)->getBufferSize(), deep))
    return fail(deep);
  Expected<json::Value> parsed = json::parse((*buf)->getBuffer());
  if (!parsed)
    return fail("not valid JSON: " + toString(parsed.takeError()));
  const json::Object *o = parsed->getAsObject();
  if (!o || o->getInteger("seqc_kv_calibration") != 1)
    return fail("not a key calibration written by seqc-run calibrate (no "
                "\"seqc_kv_calibration\": 1)");
  mlir::seq::KVCacheType type;
  module->walk([&](mlir::seq::KVLoadOp op) { type = op.getCache().getType(); });
  if (!type)
    return fail("the model has no KV cache to calibrate");
  int64_t L = layers, H = type.getHeads(), D = type.getHeadDim();
  std::optional<int64_t> l = o->getInteger("layers"),
                         h = o->getInteger("kv_heads"),
                         d = o->getInteger("head_dim");
  if (!l || !h || !d || *l != L || *h != H || *d != D)
    return fail(formatv("statistics of {0} layers x {1} KV heads x {2} "
                        "channels; this model has {3} x {4} x {5}",
                        l.value_or(0), h.value_or(0), d.value_or(0), L, H, D)
                    .str());
  const json::Array *values = o->getArray("key_absmax");
  if (!values || (int64_t)values->size() != L * H * D)
    return fail("key_absmax must list " + Twine(L * H * D) + " numbers");
  SmallVector<float> absmax;
  for (const json::Value &v : *values) {
    std::optional<double> x = v.getAsNumber();
    if (!x || !std::isfinite(*x) || *x < 0)
      return fail("key_absmax holds a value that is not a finite "
                  "non-negative number");
    absmax.push_back((float)*x);
  }
  mlir::MLIRContext *ctx = module.getContext();
  mlir::Builder b(ctx);
  auto attr = mlir::DenseFPElementsAttr::get(
      mlir::RankedTensorType::get({L, H, D}, b.getF32Type()),
      ArrayRef<float>(absmax));
  mlir::DenseFPElementsAttr covarianceAttr;
  // The joint second moment of [keys before RoPE; values].
  if (covariance) {
    const json::Array *cov = o->getArray("kv_covariance");
    if (!cov)
      return fail("has no kv_covariance (seqc-run calibrate --covariance "
                  "writes it); --kv-rank needs it");
    int64_t N = 2 * H * D;
    if ((int64_t)cov->size() != L * N * N)
      return fail("kv_covariance must list " + Twine(L * N * N) + " numbers");
    SmallVector<float> values;
    values.reserve(L * N * N);
    for (const json::Value &v : *cov) {
      std::optional<double> x = v.getAsNumber();
      if (!x || !std::isfinite(*x))
        return fail("kv_covariance holds a value that is not a finite number");
      values.push_back((float)*x);
    }
    covarianceAttr = mlir::DenseFPElementsAttr::get(
        mlir::RankedTensorType::get({L, N, N}, b.getF32Type()),
        ArrayRef<float>(values));
  }
  module->setAttr(mlir::seq::KVCalibrationAttr::kAttrName,
                  mlir::seq::KVCalibrationAttr::get(ctx, attr, covarianceAttr));
  return Error::success();
}
