//===- core/manifest.cpp - the manifest keys core needs -------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/artifact.h"

#include <sstream>

using namespace seqc::rt;
using seqc::artifact::Key;
using seqc::artifact::keyName;

seqc_status seqc::rt::parseManifest(seqc_model &m, const char *text) {
  ModelInfo &info = m.info;
  info.manifest = artifact::parseManifest(text);
  auto need = [&](Key key) -> const std::string * {
    auto it = info.manifest.find(keyName(key));
    return it == info.manifest.end() ? nullptr : &it->second;
  };
  const std::string *format = need(Key::Format), *vocab = need(Key::Vocab),
                    *shape = need(Key::StateShape),
                    *stateBytes = need(Key::StateBytes),
                    *context = need(Key::Context),
                    *bytes = need(Key::WeightsBytes),
                    *id = need(Key::WeightsId);
  if (!format || !vocab || !(shape || (stateBytes && context)) || !bytes || !id)
    return error("%s: the embedded manifest lacks required keys",
                 info.libraryPath.c_str());
  if (*format != std::to_string(artifact::kFormatVersion))
    return error("%s: artifact format %s is not supported by this runtime "
                 "(it reads format %d; recompile the model with this seqc)",
                 info.dir.c_str(), format->c_str(), artifact::kFormatVersion);
  info.vocab = (int32_t)std::stol(*vocab);
  // The state is one byte buffer either way: state_bytes of it, or the
  // floats of state_shape.
  if (stateBytes) {
    info.stateBytes = std::stoull(*stateBytes);
    m.context = std::stoll(*context);
  } else {
    std::istringstream s(*shape);
    int64_t floats = 1;
    for (int64_t d; s >> d;) {
      info.stateShape.push_back(d);
      floats *= d;
    }
    info.stateBytes = info.stateShape.empty() || floats <= 0 ? 0 : 4 * floats;
  }
  m.weightBytes = std::stoull(*bytes);
  m.weightsId = std::stoull(*id, nullptr, 16);
  if (info.vocab <= 0 || info.stateBytes == 0)
    return error("%s: the manifest's vocab or state shape is invalid",
                 info.dir.c_str());
  return nullptr;
}
