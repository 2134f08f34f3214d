//===- TargetMachine.cpp - the CPU the code is compiled for ---------------===//

#include "TargetMachine.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace llvm;

Expected<std::unique_ptr<TargetMachine>>
seqc::cpu::makeTargetMachine(StringRef cpu) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  Triple triple(sys::getProcessTriple());
  std::string err;
  const Target *t = TargetRegistry::lookupTarget(triple, err);
  if (!t)
    return createStringError("no LLVM target for " + triple.str() + ": " + err);
  std::string cpuName =
      cpu == "native" ? sys::getHostCPUName().str() : cpu.str();
  std::unique_ptr<MCSubtargetInfo> sti(
      t->createMCSubtargetInfo(triple, cpuName, ""));
  if (!sti || !sti->isCPUStringValid(cpuName))
    return createStringError("--cpu=" + cpuName +
                             ": not a CPU that LLVM knows "
                             "for " +
                             triple.str() +
                             " (try 'generic', 'x86-64-v3' or 'native')");
  std::string features;
  if (cpu == "native") {
    SubtargetFeatures f;
    for (const auto &kv : sys::getHostCPUFeatures())
      f.AddFeature(kv.getKey(), kv.getValue());
    features = f.getString();
  }
  TargetOptions options;
  std::unique_ptr<TargetMachine> tm(
      t->createTargetMachine(triple, cpuName, features, options, Reloc::PIC_,
                             std::nullopt, CodeGenOptLevel::Aggressive));
  if (!tm)
    return createStringError("cannot create a target machine for " + cpuName);
  return tm;
}

std::string seqc::cpu::usedCpuFeatures(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  std::string list;
  for (StringRef f : {
#define SEQC_CPU_FEATURE(name) #name,
#include "seqc/cpu_features.def"
       })
    if (sti->checkFeatures(("+" + f).str()))
      list += (list.empty() ? "" : ",") + f.str();
  return list;
}

Expected<seqc::Int8Kernel> seqc::cpu::chooseInt8Kernel(const TargetMachine &tm,
                                                       StringRef request) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  struct Kernel {
    Int8Kernel kernel;
    StringRef features;
  };
  // Widest first: auto takes the first one the target has.
  const Kernel kernels[] = {{Int8Kernel::AVX512VNNI, "+avx512vnni,+avx512bw"},
                            {Int8Kernel::AVXVNNI, "+avxvnni"},
                            {Int8Kernel::AVX2, "+avx2"}};
  if (request == "none")
    return Int8Kernel::None;
  for (const Kernel &k : kernels) {
    bool has = sti->checkFeatures(k.features);
    if (request == "auto" && has)
      return k.kernel;
    if (request == stringifyInt8Kernel(k.kernel)) {
      if (!has)
        return createStringError("--int8-dot=" + request + ": the target CPU " +
                                 tm.getTargetCPU() + " lacks " + k.features);
      return k.kernel;
    }
  }
  if (request == "auto")
    return Int8Kernel::None;
  return createStringError(
      "--int8-dot=" + request +
      ": expected auto, none, avx2, avxvnni or avx512vnni");
}

Expected<unsigned> seqc::cpu::chooseVectorWidth(const TargetMachine &tm,
                                                StringRef request) {
  bool avx512 = tm.getMCSubtargetInfo()->checkFeatures("+avx512f");
  if (request == "auto")
    return avx512 ? 512u : 0u;
  if (request == "256")
    return 256u;
  if (request == "512") {
    if (!avx512)
      return createStringError("--vector-width=512: the target CPU " +
                               tm.getTargetCPU() + " lacks avx512f");
    return 512u;
  }
  return createStringError("--vector-width=" + request +
                           ": expected auto, 256 or 512");
}

Expected<int64_t> seqc::cpu::chooseFloatLanes(const TargetMachine &tm,
                                              unsigned vectorWidth,
                                              StringRef request) {
  if (request == "tiles")
    return 0;
  if (request != "auto" && request != "panels")
    return createStringError("--float-prefill=" + request +
                             ": expected auto, panels or tiles");
  if (vectorWidth == 512)
    return 16;
  if (tm.getMCSubtargetInfo()->checkFeatures("+avx2,+fma"))
    return 8;
  if (request == "panels")
    return createStringError("--float-prefill=panels: the target CPU " +
                             tm.getTargetCPU() + " lacks +avx2,+fma");
  return 0;
}
