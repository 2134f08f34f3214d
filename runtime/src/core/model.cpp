//===- core/model.cpp - load an artifact and pick its driver --------------===//

#include "core/model.h"
#include "core/status.h"
#include "seqc/artifact.h"

#include <dlfcn.h>

using namespace seqc::rt;
using seqc::artifact::Key;
using seqc::artifact::keyName;

namespace {

/// Opens model.so (every target's artifact has one: it carries the manifest,
/// and the host code or embedded kernels its driver runs), reads the
/// manifest, and loads the executable with the driver the manifest's
/// `target` names.
seqc_status load(seqc_model &m) {
  ModelInfo &info = m.info;
  info.library = dlopen(info.libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!info.library)
    return error("%s: cannot load: %s", info.libraryPath.c_str(), dlerror());
  const char *manifest = static_cast<const char *>(
      dlsym(info.library, seqc::artifact::kManifestSymbol));
  if (!manifest)
    return error("%s: not a seqc model library (entry points or manifest "
                 "missing)",
                 info.libraryPath.c_str());
  if (seqc_status s = parseManifest(m, manifest))
    return s;
  auto target = info.manifest.find(keyName(Key::Target));
  std::string name = target == info.manifest.end()
                         ? seqc::artifact::kDefaultTarget
                         : target->second;
  m.driver = findDriver(name);
  if (!m.driver)
    return error("%s: compiled for target '%s', which this runtime has no "
                 "driver for (it has: %s)",
                 info.libraryPath.c_str(), name.c_str(), driverNames().c_str());
  if (seqc_status s = m.driver->load(info, m.executable))
    return s;
  return mapWeights(info.dir, m.weightsId, m.weightBytes, m.weights);
}

} // namespace

extern "C" {

seqc_status seqc_model_load(const char *dir, seqc_model **out) {
  if (!dir || !out)
    return error("seqc_model_load: null argument");
  *out = nullptr;
  auto *m = new seqc_model;
  m->info.dir = dir;
  m->info.libraryPath = m->info.dir + "/model.so";
  if (seqc_status s = load(*m)) {
    seqc_model_free(m);
    return s;
  }
  *out = m;
  return nullptr;
}

void seqc_model_free(seqc_model *m) {
  if (!m)
    return;
  unmapWeights(m->weights);
  m->executable.reset();
  if (m->info.library)
    dlclose(m->info.library);
  delete m;
}

const char *seqc_model_get(const seqc_model *m, const char *key) {
  auto it = m->info.manifest.find(key);
  return it == m->info.manifest.end() ? nullptr : it->second.c_str();
}

int32_t seqc_model_vocab(const seqc_model *m) { return m->info.vocab; }

size_t seqc_model_weight_bytes(const seqc_model *m) { return m->weightBytes; }

} // extern "C"
