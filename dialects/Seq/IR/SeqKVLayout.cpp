//===- SeqKVLayout.cpp - storage layout of !seq.kv_cache ------------------===//

#include "dialects/Seq/IR/SeqKVLayout.h"

using namespace mlir;
using namespace mlir::seq;

/// Bytes of a scalar type, rounded up.
static int64_t byteWidth(Type t) { return (t.getIntOrFloatBitWidth() + 7) / 8; }

static seqc::KVQuantDesc quantDesc(QuantEncodingAttr enc) {
  seqc::KVQuantDesc s;
  if (!enc)
    return s;
  s.quantized = true;
  s.bits = enc.getBits();
  s.group = enc.getGroup();
  s.perChannel = enc.getAxis() == 0;
  s.asymmetric = enc.getMode() == QuantMode::Asymmetric;
  s.scaleBytes = byteWidth(enc.getScaleType());
  return s;
}

seqc::KVCacheDesc mlir::seq::getKVCacheDesc(KVCacheType type) {
  seqc::KVCacheDesc d;
  d.heads = type.getHeads();
  d.headDim = type.getHeadDim();
  d.capacity = type.getCapacity();
  d.elementBytes = byteWidth(type.getElementType());
  d.keys = quantDesc(type.getKeyEncoding());
  d.values = quantDesc(type.getValueEncoding());
  d.sinks = type.getSinks();
  d.window = type.getWindow();
  if (EvictPolicyAttr evict = type.getEvict())
    d.evict = evict.getValue() == EvictPolicy::RoCo ? seqc::KVEvict::RoCo
                                                    : seqc::KVEvict::H2O;
  d.budget = type.getBudget();
  return d;
}

bool mlir::seq::getKVLayout(KVCacheType type, seqc::KVLayout &layout,
                            std::string &error) {
  return seqc::computeKVLayout(getKVCacheDesc(type), layout, error);
}
