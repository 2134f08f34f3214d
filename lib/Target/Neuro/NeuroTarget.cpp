//===- NeuroTarget.cpp - the neuromorphic (NIR) target --------------------===//
//
// The hybrid partition: the first pass of the pipeline reads the spiking
// partition (SpikingPartition.cpp) before the CPU pipeline lowers the whole
// module for the host; the second replaces the populations by event-driven
// code (EventCode.cpp). serialize() writes event.c (the event code as C,
// EventC.cpp), model.so (the CPU target's, which compiles event.c into it;
// the runtime's event driver runs it) and model.nir (the populations,
// NIRWriter.cpp); the manifest gets the host part's multiply-accumulates per
// layer for `seqc-run report`.
//
//===----------------------------------------------------------------------===//

#include "SpikingPartition.h"

#include "seqc/Target/Target.h"

#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>

using namespace llvm;
using namespace seqc::neuro;

namespace {

class NeuroTarget : public seqc::TargetBackend {
public:
  NeuroTarget(std::unique_ptr<seqc::TargetBackend> host,
              seqc::NeuroTargetOptions options)
      : host(std::move(host)), options(options),
        partition(std::make_shared<SpikingPartition>()) {}

  StringRef getName() const override { return "neuro"; }

  ArrayRef<StringRef> getExecutableFiles() const override {
    // model.so first: weights.bin's header checks it.
    static const StringRef files[] = {"model.so", "model.nir", "event.c"};
    return files;
  }

  seqc::TargetDescription describe() const override {
    // The host part is the CPU target's code; the runtime's event driver
    // runs it and reads the event code's counters.
    seqc::TargetDescription d = host->describe();
    d.target = "event";
    return d;
  }

  void registerDialects(mlir::DialectRegistry &registry) const override {
    host->registerDialects(registry);
  }

  void buildPipeline(mlir::OpPassManager &pm) const override {
    pm.addPass(createSpikingPartitionPass(partition));
    pm.addPass(createEventCodePass(partition));
    host->buildPipeline(pm);
  }

  void completeManifest(seqc::Manifest &manifest) const override {
    SmallVector<std::string> macs, fanout;
    for (uint64_t m : partition->layerMacs)
      macs.push_back(std::to_string(m));
    for (const Population &p : partition->populations)
      if (p.layer == 0)
        fanout.push_back(std::to_string(p.fanout));
    manifest.add(seqc::artifact::Key::NeuroLayerMacs, join(macs, " "));
    manifest.add(seqc::artifact::Key::NeuroHeadMacs,
                 Twine(partition->headMacs));
    manifest.add(seqc::artifact::Key::NeuroSiteFanout, join(fanout, " "));
    manifest.add(seqc::artifact::Key::EventCounters,
                 Twine(eventCounterCount(*partition)));
  }

  Error serialize(mlir::ModuleOp module, const seqc::Manifest &manifest,
                  const seqc::ArtifactWriter &artifact,
                  const seqc::ProgressFn &progress) override {
    NIROptions nir;
    nir.dt = options.dt;
    if (auto sites = manifest.get(seqc::artifact::Key::SpikeSites)) {
      SmallVector<StringRef> names;
      sites->split(names, ' ', -1, false);
      if ((int64_t)names.size() == partition->sitesPerLayer)
        for (StringRef n : names)
          nir.siteNames.push_back(n.str());
    }
    if (auto d = manifest.get(seqc::artifact::Key::Description))
      nir.description = d->str();
    warnAboutNIR(nir.siteNames);
    auto image = writeNIR(*partition, nir);
    if (!image)
      return image.takeError();
    if (partition->eventC.empty())
      return createStringError("--target=neuro: no event code was generated");
    // The host target compiles event.c into model.so (TargetOptions'
    // cpu.cSources).
    if (Error e = artifact.create())
      return e;
    if (Error e = artifact.writeFile("event.c", partition->eventC))
      return e;
    if (Error e = host->serialize(module, manifest, artifact, progress)) {
      // Not left beside an artifact without its model.so.
      sys::fs::remove(artifact.path("event.c"));
      return e;
    }
    progress(formatv("writing model.nir ({0} LIF populations, {1} neurons)",
                     partition->populations.size(), neurons())
                 .str());
    return artifact.writeFile("model.nir", *image);
  }

private:
  std::unique_ptr<seqc::TargetBackend> host;
  seqc::NeuroTargetOptions options;
  std::shared_ptr<SpikingPartition> partition;

  int64_t neurons() const {
    int64_t n = 0;
    for (const Population &p : partition->populations)
      n += p.neurons;
    return n;
  }

  /// What NIR's LIF cannot say: the population names, the first few.
  void warnAboutNIR(const std::vector<std::string> &siteNames) const {
    auto warn = [&](bool (*differs)(const Population &), const Twine &what) {
      SmallVector<std::string> names;
      for (const Population &p : partition->populations)
        if (differs(p))
          names.push_back(populationName(p, siteNames));
      if (names.empty())
        return;
      std::string list = join(ArrayRef(names).take_front(4), ", ");
      if (names.size() > 4)
        list += formatv(", ... ({0} in all)", names.size()).str();
      WithColor::warning(errs(), "seqc")
          << "model.nir: population" << (names.size() > 1 ? "s " : " ") << list
          << ": " << what << "\n";
    };
    warn([](const Population &p) { return p.fireGE; },
         "fire on v >= v_threshold, NIR's LIF on v > v_threshold; the "
         "metadata records fire=ge, and a simulator that follows NIR "
         "differs when a membrane equals the threshold exactly");
    warn([](const Population &p) { return !p.hardReset; },
         "reset by subtracting the threshold, which NIR's LIF cannot "
         "express (it resets to v_reset); the metadata records reset=soft");
  }
};

} // namespace

Expected<std::unique_ptr<seqc::TargetBackend>>
seqc::createNeuroTarget(const TargetOptions &options) {
  const NeuroTargetOptions &o = options.neuro;
  if (!(o.dt > 0) || !std::isfinite(o.dt)) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", o.dt);
    return createStringError(std::string("--neuro-dt=") + text +
                             ": expected a positive number of seconds per "
                             "step");
  }
  // The host part, with the event code's C compiled into its model.so.
  TargetOptions hostOptions = options;
  hostOptions.cpu.cSources.push_back("event.c");
  auto host = createCPUTarget(hostOptions);
  if (!host)
    return host.takeError();
  return std::make_unique<NeuroTarget>(std::move(*host), o);
}
