//===- RWKVBuilder.h - the RWKV builder, shared by its files ----*- C++ -*-===//
//
// The builder of the RWKV (and SpikeGPT) entry points, split by family:
// RWKV.cpp has the entries, the layer functions, the RWKV-4 block and what
// every version shares; RWKV567.cpp the RWKV-5/6/7 blocks and their
// matrix state; RWKVPerspectives.cpp RWKV-4's temporal perspectives (the
// residual stream as P copies, the perspective head, and their weights);
// RWKVState.cpp the WKV state kept quantized (--state, --state-rotate).
// The methods are documented at their definitions. Private to lib/Import.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_LIB_IMPORT_RWKVBUILDER_H
#define SEQC_LIB_IMPORT_RWKVBUILDER_H

#include "ModelBuilder.h"
#include "SpikeGPTBlock.h"
#include "dialects/Seq/IR/SeqStateLayout.h"
#include "seqc/Import/RWKV.h"

#include "llvm/Support/FormatVariadic.h"

#include <map>

namespace seqc::import {

/// Builds the RWKV-4 entry points. Values are f32 tensors; the matrices may
/// be f16 and are extended inside the products.
class RWKVBuilder : public ModelBuilder {
public:
  RWKVBuilder(MLIRContext *ctx, const RWKVConfig &cfg, const WeightBlob &blob,
              const SpikeGPTOptions *spiking)
      : ModelBuilder(ctx, blob, "blocks.", cfg.layers), cfg(cfg),
        spiking(spiking) {}

  /// The first layer that shares the common layer function (RWKV-7's layer 0
  /// has a function of its own: it defines v_first and has no v mixing).
  int64_t firstShared() const { return cfg.version == 7 ? 1 : 0; }

  OwningOpRef<ModuleOp> build() {
    return buildModule(spiking ? "spikegpt"
                               : llvm::formatv("rwkv{0}", cfg.version).str(),
                       firstShared(), cfg.prefillTokens);
  }

  /// State rows of width C per layer. RWKV-4: att x, aa, bb, pp, ffn x.
  /// RWKV-5/6/7: att x, ffn x, then the [H, N, N] matrix state as N rows.
  /// SpikeGPT: RWKV-4's, then the neurons' (SpikeGPTStateRow). A quantized
  /// WKV state takes wkvRows() rows in place of aa, bb, pp or the matrix.
  int64_t rowsPerLayer() const {
    if (cfg.version != 4)
      return 2 + wkvRows();
    return row4(spiking ? int64_t(kSpikeGPTRows) : int64_t(5));
  }

  /// RWKV-4's (and SpikeGPT's) state row `r` of the f32 layout (1 .. 3: aa,
  /// bb, pp; 4: ffn x; then SpikeGPTStateRow): from 4 on, moved by the rows
  /// a quantized WKV state takes instead of three (p, a's codes and scales:
  /// two rows, three with groups of one).
  int64_t row4(int64_t r) const { return r >= 4 ? r + wkvRows() - 3 : r; }

  /// The encoding of the WKV state kept quantized (--state), or null: the
  /// value axis is RWKV-4's channels, RWKV-5/6's last axis and RWKV-7's
  /// middle one (seq.wkv4 .. seq.wkv7).
  seq::QuantEncodingAttr stateQuant() const;
  /// The quantized WKV state's layout (one head's for RWKV-5/6/7).
  seq::QuantizedStateLayout stateLayout() const;
  /// Rows of width stateWidth() the WKV state takes in a layer.
  int64_t wkvRows() const;

  /// Temporal perspectives (RWKV-4): P copies of the residual stream, as a
  /// batch. The stream is [T*P, C] (row t*P + p), so that the projections
  /// are [T*P, C] x [C, C] products and the normalizations row-wise; the
  /// token shift and the WKV recurrence, channel-wise, see it as
  /// [T, P*C], and each state row holds P*C channels ([P, C], perspective
  /// major). Stock models (no combiner) have none of this.
  bool perspectives() const { return cfg.perspectives > 0; }
  int64_t numPerspectives() const {
    return std::max<int64_t>(cfg.perspectives, 1);
  }
  /// The width of a state row: C, or P*C with perspectives.
  int64_t stateWidth() const { return numPerspectives() * cfg.embd; }

private:
  const RWKVConfig &cfg;
  const SpikeGPTOptions *spiking;
  // The shared layer functions, by (token count, first-layer flag).
  std::map<std::pair<int64_t, bool>, func::FuncOp> layerFuncs;

  MemRefType stateType() {
    return MemRefType::get({cfg.layers, rowsPerLayer(), stateWidth()}, f32);
  }

  void buildInitState() override;
  Value layerNorm(Value x, StringRef prefix);
  Value stateRows(Value state, int64_t layer, int64_t row0, int64_t rows);
  Value setStateRows(Value state, Value rows, int64_t layer, int64_t row0);
  Value lerp(Value x, Value prev, Value m, Value offset = Value());
  Value channelMix(Value x, Value &state, int64_t l, int64_t shiftRow);
  Value residual(Value x, Value out, Value &state, int64_t row);
  Value layer4(Value x, Value &state, int64_t l);
  func::FuncOp layerFunc(int64_t tokens, bool firstLayer);
  void buildForward(StringRef name, int64_t tokens, bool allLogits) override;

  //===--------------------------------------------------------------------===//
  // RWKV-5/6/7 pieces (RWKV567.cpp)
  //===--------------------------------------------------------------------===//

  static Value decay(OpBuilder &nb, Location nl, Value v);
  Value lora(Value x, StringRef a, StringRef bName, BodyFn act);
  /// [T, C] <-> [T, H, N].
  Value splitHeads(Value x) {
    return ModelBuilder::splitHeads(x, cfg.heads, cfg.headSize);
  }
  AffineMap map3(ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> e;
    for (unsigned d : dims)
      e.push_back(b.getAffineDimExpr(d));
    return AffineMap::get(3, 0, e, ctx);
  }
  Value headSum(ValueRange ins, ArrayRef<AffineMap> maps, BodyFn f);
  Value heads3(ValueRange ins, ArrayRef<AffineMap> maps, BodyFn f);
  Value groupNorm(Value y, StringRef prefix);
  Value matrixState(Value state, int64_t l);
  Value setMatrixState(Value newState, Value matrix, int64_t l);
  Value wkvStateWords(Value state, int64_t row0);
  Value rotateValues(Value x, bool undo);
  Value setWkvStateWords(Value state, Value words, int64_t row0);
  Value layer567(Value x, Value &state, Value &vFirst, int64_t l);

  //===--------------------------------------------------------------------===//
  // Temporal perspectives (RWKV-4; RWKVPerspectives.cpp)
  //===--------------------------------------------------------------------===//

  int64_t streamRows(int64_t tokens) const;
  Value toTime(Value rows);
  Value toRows(Value seq);
  Value perspectiveRows3(Value seq);
  Value broadcastPerspectives(Value x);
  Value lastRows(Value x, int64_t P);
  Value perspectiveHead(Value h);
};

/// Adds layer `p`'s ("blocks.<l>.") time-mixing and channel-mixing vectors
/// of an RWKV-4 checkpoint with temporal perspectives to the blob; the
/// first problem goes to `reader`.
void addPerspectiveWeights(TensorReader &reader, BlobWriter &blob,
                           Checkpoint &ckpt, const RWKVConfig &cfg,
                           const std::string &p);

} // namespace seqc::import

#endif // SEQC_LIB_IMPORT_RWKVBUILDER_H
