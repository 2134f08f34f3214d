//===- core/kv_view.cpp - read a session's KV caches ----------------------===//
//
// The caches' byte layout is the compiler's (include/seqc/Support/KVLayout.h):
// the runtime rebuilds it from the manifest's `kv_desc` line with the same
// code, so no offset is written down twice.
//
//===----------------------------------------------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/Support/KVLayout.h"
#include "seqc/Support/ParseNumber.h"
#include "seqc/artifact.h"

#include <cstring>

using namespace seqc::rt;
using seqc::artifact::Key;
using seqc::artifact::keyName;

namespace {

/// What makes a cache other than plain full precision, or "" when it is.
std::string unplainKind(const seqc::KVCacheDesc &d) {
  auto bits = [](const seqc::KVQuantDesc &q) {
    return q.quantized ? std::to_string(q.bits) + "-bit" : std::string("full");
  };
  if (d.evict != seqc::KVEvict::None)
    return std::string("scored (evict = ") +
           (d.evict == seqc::KVEvict::H2O ? "h2o" : "roco") + ", budget " +
           std::to_string(d.budget) + ")" +
           (d.keys.quantized || d.values.quantized ? " with quantized tokens"
                                                   : "");
  if (d.keys.quantized || d.values.quantized)
    return "quantized (keys " + bits(d.keys) + ", values " + bits(d.values) +
           ")";
  if (d.window > 0)
    return "evicting (a window of " + std::to_string(d.window) + " tokens)";
  if (d.elementBytes != 4)
    return "stored at " + std::to_string(d.elementBytes) +
           "-byte elements (f16 or bf16)";
  return "";
}

} // namespace

extern "C" {

seqc_status seqc_session_kv_view(const seqc_session *s, int64_t layer,
                                 seqc_kv_view *view) {
  if (!s || !view)
    return error("seqc_session_kv_view: null argument");
  const ModelInfo &info = s->model->info;
  auto entry = [&](Key key) -> const std::string * {
    auto it = info.manifest.find(keyName(key));
    return it == info.manifest.end() ? nullptr : &it->second;
  };
  const std::string *descText = entry(Key::KVDesc),
                    *layersText = entry(Key::KVLayers);
  if (!descText || !layersText)
    return error("seqc_session_kv_view: the model has no KV cache (its "
                 "manifest has no kv_desc and kv_layers)");
  seqc::KVCacheDesc desc;
  std::string why;
  if (!seqc::parseKVCacheDesc(*descText, desc, why))
    return error("seqc_session_kv_view: the manifest's kv_desc: %s",
                 why.c_str());
  std::string kind = unplainKind(desc);
  if (!kind.empty())
    return error("seqc_session_kv_view: the KV cache is %s; views cover "
                 "plain full-precision (f32, uncompressed) caches only",
                 kind.c_str());
  seqc::KVLayout layout;
  if (!seqc::computeKVLayout(desc, layout, why))
    return error("seqc_session_kv_view: the KV cache %s", why.c_str());
  int64_t layers;
  if (!seqc::parseInteger(*layersText, 1, INT32_MAX, layers, why))
    return error("seqc_session_kv_view: the manifest's kv_layers: %s",
                 why.c_str());
  if (layer < 0 || layer >= layers)
    return error("seqc_session_kv_view: layer %lld is out of range: the "
                 "model has %lld",
                 (long long)layer, (long long)layers);
  if (layout.bytes <= 0 || layers > (int64_t)s->state.size() / layout.bytes)
    return error("seqc_session_kv_view: %lld caches of %lld bytes do not fit "
                 "the state of %zu bytes",
                 (long long)layers, (long long)layout.bytes, s->state.size());
  if (seqc_status st = syncState(s))
    return st;
  const uint8_t *slot = s->state.data() + layer * layout.bytes;
  int64_t length;
  std::memcpy(&length, slot, sizeof length);
  view->layers = layers;
  view->heads = layout.heads;
  view->capacity = layout.capacity;
  view->head_dim = layout.headDim;
  view->strides[0] = layout.capacity * layout.headDim;
  view->strides[1] = layout.headDim;
  view->strides[2] = 1;
  view->tokens = length;
  view->element_type = "f32";
  view->element_bytes = 4;
  view->keys = slot + layout.keys;
  view->values = slot + layout.values;
  return nullptr;
}

} // extern "C"
