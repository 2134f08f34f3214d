//===- NeuroTarget.h - the neuromorphic (NIR) target ------------*- C++ -*-===//
//
// --target=neuro: a hybrid partition of a spiking model. The LIF populations
// (seq.lif) are written as a NIR 1.0.8 graph (model.nir, HDF5), one
// Input -> LIF -> Output population per LIF site and layer; everything NIR
// cannot express (LayerNorm, WKV, projections of real-valued inputs, the
// head) is the host part, compiled for the CPU as model.so so that the
// artifact runs through the runtime and counts its spikes. The manifest
// records the dense host part's multiply-accumulates per layer, which
// `seqc-run report` turns, with the spikes counted at run time, into the
// operation and energy report.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TARGET_NEUROTARGET_H
#define SEQC_TARGET_NEUROTARGET_H

#include "llvm/Support/Error.h"

#include <memory>

namespace seqc {

class TargetBackend;
struct TargetOptions;

struct NeuroTargetOptions {
  /// Seconds of one model step (one token) on the neuromorphic clock: NIR's
  /// LIF is continuous (tau in seconds), SpikeGPT's is discrete (tau in
  /// steps), so tau = tau_steps * dt. 1e-4 s is the NIR converters' own.
  double dt = 1e-4;
};

llvm::Expected<std::unique_ptr<TargetBackend>>
createNeuroTarget(const TargetOptions &options);

} // namespace seqc

#endif // SEQC_TARGET_NEUROTARGET_H
