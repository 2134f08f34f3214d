//===- SpikeGPTBlock.h - the spiking residual of a SpikeGPT block -*- C++
//-*-===//
//
// The hook by which the RWKV-4 builder (RWKV.cpp) becomes SpikeGPT's: where
// RWKV-4 adds a block half's output to the residual, SpikeGPT adds the spikes
// of LIF neurons driven by it. Private to lib/Import.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_SPIKEGPTBLOCK_H
#define SEQC_LIB_IMPORT_SPIKEGPTBLOCK_H

#include "seqc/Import/SpikeGPT.h"

#include "mlir/IR/Builders.h"

namespace seqc::import {

struct SpikingResidual {
  mlir::Value x;        // [T, C]: x + spikes
  mlir::Value membrane; // [C]: after the last token
  mlir::Value counts;   // [C]: counts + spikes of the T tokens
};

/// x + LIF(out) over T tokens ([T, C] f32), the neurons' membrane `membrane`
/// and spike counts `counts` ([C]) going in and coming out updated.
SpikingResidual buildSpikingResidual(mlir::OpBuilder &b, mlir::Location loc,
                                     mlir::Value x, mlir::Value out,
                                     mlir::Value membrane, mlir::Value counts,
                                     const SpikeGPTOptions &options);

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_SPIKEGPTBLOCK_H
