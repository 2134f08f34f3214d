//===- core/model.cpp - load an artifact and pick its driver --------------===//

#include "core/model.h"
#include "core/status.h"
#include "drivers/cpu/async_runtime.h"
#include "seqc/artifact.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <dlfcn.h>
#include <unistd.h>

using namespace seqc::rt;
using seqc::artifact::Key;
using seqc::artifact::keyName;

namespace {

/// The manifest against the layout the code reports (kCodeLayoutSymbol): a
/// session's buffers are sized from the manifest, the code writes what it
/// was compiled for.
seqc_status checkCodeLayout(const seqc_model &m) {
  const ModelInfo &info = m.info;
  const auto *layout = static_cast<const uint64_t *>(
      dlsym(info.library, seqc::artifact::kCodeLayoutSymbol));
  if (!layout)
    return error("%s: the library does not report its state layout (%s); "
                 "compiled by an older seqc: recompile the model",
                 info.libraryPath.c_str(), seqc::artifact::kCodeLayoutSymbol);
  if (layout[0] + 1 < (uint64_t)seqc::artifact::kCodeLayoutWords)
    return error("%s: the library's %s is malformed", info.libraryPath.c_str(),
                 seqc::artifact::kCodeLayoutSymbol);
  struct {
    const char *what;
    uint64_t manifest, code;
  } checks[] = {{"state bytes", info.stateBytes, layout[1]},
                {"vocabulary", (uint64_t)info.vocab, layout[2]},
                {"weight bytes", m.weightBytes, layout[3]}};
  for (const auto &c : checks)
    if (c.manifest != c.code)
      return error("%s: the manifest's %s (%llu) do not match the compiled "
                   "code's (%llu); the manifest was edited or damaged",
                   info.libraryPath.c_str(), c.what,
                   (unsigned long long)c.manifest, (unsigned long long)c.code);
  return nullptr;
}

/// Opens model.so (every target's artifact has one: it carries the manifest,
/// and the host code or embedded kernels its driver runs), reads the
/// manifest, and loads the executable with the driver the manifest's
/// `target` names.
seqc_status load(seqc_model &m, int verify, int pages) {
  ModelInfo &info = m.info;
  // model.so is checked before dlopen maps it: a damaged library would
  // fault inside dlopen, before any status could be returned.
  if (access(info.libraryPath.c_str(), F_OK) != 0) {
    int err = errno;
    std::string kernels = info.dir + "/" + seqc::artifact::kKernelsFile;
    if (access(kernels.c_str(), F_OK) == 0) {
      // The first word of kernels.bin names the GPU target.
      char magic[8] = {0};
      FILE *f = fopen(kernels.c_str(), "rb");
      bool cuda = f && fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
                  memcmp(magic, seqc::artifact::kCudaKernelsMagic, 8) == 0;
      if (f)
        fclose(f);
      return error("%s: a kernel artifact (%s), not a model: run its kernels "
                   "with %s",
                   info.dir.c_str(), seqc::artifact::kKernelsFile,
                   cuda ? "seqc-cuda-run" : "seqc-vulkan-run");
    }
    return error("%s: cannot load: %s", info.libraryPath.c_str(),
                 strerror(err));
  }
  seqc::artifact::WeightsHeader header;
  if (seqc_status s = readWeightsHeader(info.dir, header))
    return s;
  if (seqc_status s = checkLibrary(info.libraryPath, header))
    return s;
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
  if (seqc_status s = checkCodeLayout(m))
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
  return mapWeights(info.dir, m, verify, pages, m.weights);
}

} // namespace

extern "C" {

seqc_status seqc_model_load(const char *dir, seqc_model **out) {
  return seqc_model_load_with(dir, nullptr, out);
}

seqc_status seqc_model_load_with(const char *dir,
                                 const seqc_load_options *options,
                                 seqc_model **out) {
  if (!dir || !out)
    return error("seqc_model_load: null argument");
  *out = nullptr;
  int verify = options ? options->verify_weights : SEQC_VERIFY_AUTO;
  if (verify != SEQC_VERIFY_AUTO && verify != SEQC_VERIFY_ALWAYS &&
      verify != SEQC_VERIFY_NEVER)
    return error("seqc_model_load_with: verify_weights %d is not a "
                 "SEQC_VERIFY_* mode",
                 verify);
  int pages = options ? options->weight_pages : SEQC_PAGES_FILE;
  if (pages != SEQC_PAGES_FILE && pages != SEQC_PAGES_HUGE_COPY)
    return error("seqc_model_load_with: weight_pages %d is not a "
                 "SEQC_PAGES_* mode",
                 pages);
  auto *m = new seqc_model;
  m->info.dir = dir;
  m->info.libraryPath = m->info.dir + "/model.so";
  if (seqc_status s = load(*m, verify, pages)) {
    seqc_model_free(m);
    return s;
  }
  *out = m;
  return nullptr;
}

void seqc_model_free(seqc_model *m) {
  if (!m)
    return;
  // A worker may still be returning through the model's code from the task
  // that ended its last step: wait for it before the code is unloaded.
  if (m->info.library)
    seqc::cpu::waitForRunningTasks();
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

size_t seqc_model_weight_huge_bytes(const seqc_model *m) {
  return hugeBytes(m->weights);
}

int seqc_model_weight_pages(const seqc_model *m) { return m->weights.pages; }

size_t seqc_model_counters(const seqc_model *m, int64_t *out, size_t n) {
  return m->executable ? m->executable->counters(out, n) : 0;
}

} // extern "C"
