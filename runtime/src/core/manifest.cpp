//===- core/manifest.cpp - the manifest keys core needs -------------------===//
//
// The manifest comes from a file that may have been edited or damaged: every
// number is read strictly and range-checked (seqc/Support/ParseNumber.h), and
// a bad one is an error naming the key, never an exception or a wrap-around.
//
//===----------------------------------------------------------------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/Support/Checksum.h"
#include "seqc/Support/ParseNumber.h"
#include "seqc/artifact.h"

#include <sstream>

using namespace seqc::rt;
using seqc::artifact::Key;
using seqc::artifact::keyName;

namespace {

// Bounds far above any model seqc compiles, low enough that products of
// them cannot overflow 64 bits.
constexpr int64_t kMaxVocab = INT32_MAX;
constexpr int64_t kMaxStateBytes = int64_t(1) << 40;
constexpr int64_t kMaxWeightBytes = int64_t(1) << 48;

} // namespace

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
                    *id = need(Key::WeightsId),
                    *checksum = need(Key::WeightsChecksum);
  // state_bytes comes with context (attention models), whether or not a
  // state_shape is there too.
  if (!format || !vocab || !(shape || stateBytes) || (stateBytes && !context) ||
      !bytes || !id)
    return error("%s: the embedded manifest lacks required keys",
                 info.libraryPath.c_str());
  if (*format != std::to_string(artifact::kFormatVersion))
    return error("%s: artifact format %s is not supported by this runtime "
                 "(it reads format %d; recompile the model with this seqc)",
                 info.dir.c_str(), format->c_str(), artifact::kFormatVersion);
  std::string why;
  auto number = [&](Key key, const std::string &text, int64_t lo, int64_t hi,
                    int64_t &out) -> seqc_status {
    if (parseInteger(text, lo, hi, out, why))
      return nullptr;
    return error("%s: the manifest's %s: %s", info.libraryPath.c_str(),
                 keyName(key), why.c_str());
  };
  int64_t v;
  if (seqc_status s = number(Key::Vocab, *vocab, 1, kMaxVocab, v))
    return s;
  info.vocab = (int32_t)v;
  // The state is one byte buffer either way: state_bytes of it, or the
  // floats of state_shape.
  if (stateBytes) {
    if (seqc_status s =
            number(Key::StateBytes, *stateBytes, 1, kMaxStateBytes, v))
      return s;
    info.stateBytes = (size_t)v;
    if (seqc_status s = number(Key::Context, *context, 1, INT32_MAX, v))
      return s;
    m.context = v;
    m.wholePrompts = need(Key::KVSelect) != nullptr;
  } else {
    std::istringstream in(*shape);
    int64_t floats = 1;
    for (std::string word; in >> word;) {
      if (seqc_status s = number(Key::StateShape, word, 1, kMaxStateBytes, v))
        return s;
      if (floats > kMaxStateBytes / 4 / v)
        return error("%s: the manifest's state_shape %s is too large",
                     info.libraryPath.c_str(), shape->c_str());
      info.stateShape.push_back(v);
      floats *= v;
    }
    if (info.stateShape.empty())
      return error("%s: the manifest's state_shape is empty",
                   info.libraryPath.c_str());
    info.stateBytes = (size_t)(4 * floats);
  }
  if (seqc_status s = number(Key::WeightsBytes, *bytes, 0, kMaxWeightBytes, v))
    return s;
  m.weightBytes = (uint64_t)v;
  uint64_t idValue = 0;
  std::string idDigits = id->compare(0, 2, "0x") == 0 ? id->substr(2) : *id;
  if (idDigits.size() != 16 || !parseChecksum("xxh64:" + idDigits, idValue))
    return error("%s: the manifest's weights_id '%s' is not 0x and 16 hex "
                 "digits",
                 info.libraryPath.c_str(), id->c_str());
  m.weightsId = idValue;
  if (checksum) {
    if (!parseChecksum(*checksum, m.weightsChecksum))
      return error("%s: the manifest's weights_checksum '%s' is not "
                   "xxh64:<16 hex digits>",
                   info.libraryPath.c_str(), checksum->c_str());
    m.hasWeightsChecksum = true;
  }
  return nullptr;
}
