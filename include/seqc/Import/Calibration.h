//===- Calibration.h - KV statistics from seqc-run calibrate ----*- C++ -*-===//
//
// `seqc-run calibrate` measures a model's keys and values over text and
// writes JSON; `seqc compile --kv-calibration` reads it back here, checks it
// against the model (layers, KV heads, head size, finite values) and
// attaches it to the module as `seq.kv_calibration`, where the passes that
// need statistics (seq-balance-kv, seq-low-rank-kv, seq-fuse-hadamard's
// channel reordering) find it.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_IMPORT_CALIBRATION_H
#define SEQC_IMPORT_CALIBRATION_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

namespace seqc {

/// Reads the statistics at `path` and attaches them to `module` (which has
/// `layers` layers of KV caches). The joint K/V covariance is read only when
/// `covariance` is set (it is layers x N x N numbers).
llvm::Error attachKVCalibration(mlir::ModuleOp module, llvm::StringRef path,
                                int64_t layers, bool covariance);

} // namespace seqc

#endif // SEQC_IMPORT_CALIBRATION_H
