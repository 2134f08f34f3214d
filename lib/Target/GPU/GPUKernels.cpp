//===- GPUKernels.cpp - what the GPU targets share about kernels ----------===//

#include "seqc/Target/GPUKernels.h"
#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/STLExtras.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include <map>

using namespace llvm;

namespace {

/// The manifest's name of a binding's element type.
std::string elementName(mlir::Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isF64())
    return "f64";
  if (type.isInteger())
    return "i" + std::to_string(type.getIntOrFloatBitWidth());
  return "";
}

/// "r", "w" or "rw": how the kernel uses its argument.
std::string accessOf(mlir::BlockArgument arg) {
  bool read = false, written = false;
  for (mlir::Operation *user : arg.getUsers()) {
    auto effects = dyn_cast<mlir::MemoryEffectOpInterface>(user);
    if (!effects) {
      // Unknown use (a view, a call): assume both.
      read = written = true;
      continue;
    }
    SmallVector<mlir::MemoryEffects::EffectInstance> list;
    effects.getEffectsOnValue(arg, list);
    for (auto &e : list) {
      read |= isa<mlir::MemoryEffects::Read>(e.getEffect());
      written |= isa<mlir::MemoryEffects::Write>(e.getEffect());
    }
    // Views (subview, cast) of the argument report no effect on it.
    if (list.empty() && user->getNumResults())
      read = written = true;
  }
  return written ? (read ? "rw" : "w") : "r";
}

} // namespace

Error seqc::checkKernelModule(mlir::ModuleOp module, StringRef target) {
  // Seq ops are the model level: the GPU mapping starts from loops.
  mlir::Operation *seqOp = nullptr;
  module.walk([&](mlir::Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "seq") {
      seqOp = op;
      return mlir::WalkResult::interrupt();
    }
    return mlir::WalkResult::advance();
  });
  if (seqOp) {
    std::string loc;
    raw_string_ostream os(loc);
    if (auto fileLoc = dyn_cast<mlir::FileLineColLoc>(seqOp->getLoc()))
      os << fileLoc.getFilename().getValue() << ":" << fileLoc.getLine() << ":"
         << fileLoc.getColumn();
    else
      seqOp->getLoc().print(os);
    return createStringError(
        loc + ": '" + seqOp->getName().getStringRef() + "': the " + target +
        " target compiles kernel modules written as loops on memrefs; seq "
        "ops belong to whole models, which are compiled from their "
        "checkpoints");
  }
  if (module->hasAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName()))
    return createStringError("the kernel module already holds GPU kernels; "
                             "give functions of loops on memrefs");
  return Error::success();
}

Expected<SmallVector<seqc::KernelLaunch>>
seqc::collectKernelLaunches(mlir::ModuleOp module) {
  SmallVector<KernelLaunch> out;
  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    if (func.isExternal())
      continue;
    SmallVector<mlir::gpu::LaunchFuncOp> launches;
    func.walk([&](mlir::gpu::LaunchFuncOp l) { launches.push_back(l); });
    if (launches.size() != 1)
      return createStringError(
          formatv("function @{0}: {1} kernels; each function of a kernel "
                  "module must map to exactly one (its outermost parallel "
                  "loop nest)",
                  func.getName(), launches.size()));
    KernelLaunch k;
    k.function = func.getName().str();
    k.launch = launches.front();
    k.gpuModule = module.lookupSymbol<mlir::gpu::GPUModuleOp>(
        k.launch.getKernelModuleName());
    if (k.gpuModule)
      k.kernel = k.gpuModule.lookupSymbol<mlir::gpu::GPUFuncOp>(
          k.launch.getKernelName());
    if (!k.kernel)
      return createStringError("function @" + func.getName() +
                               ": its kernel @" +
                               k.launch.getKernelName().getValue() +
                               " is missing after the lowering");

    mlir::gpu::KernelDim3 g = k.launch.getGridSizeOperandValues(),
                          b = k.launch.getBlockSizeOperandValues();
    for (mlir::Value v : {g.x, g.y, g.z})
      k.grid.push_back(mlir::getConstantIntValue(v).value_or(0));
    for (mlir::Value v : {b.x, b.y, b.z})
      k.block.push_back(mlir::getConstantIntValue(v).value_or(0));
    if (is_contained(k.grid, 0) || is_contained(k.block, 0))
      return createStringError("function @" + func.getName() +
                               ": the launch's sizes are not constants");

    // Outlining orders a kernel's arguments by first use: each binding
    // records the function argument it is.
    for (auto [i, arg] : enumerate(k.launch.getKernelOperands())) {
      auto type = cast<mlir::MemRefType>(arg.getType());
      auto blockArg = dyn_cast<mlir::BlockArgument>(arg);
      if (!blockArg || blockArg.getOwner() != &func.getBody().front())
        return createStringError(
            formatv("function @{0}: the kernel uses a buffer that is not an "
                    "argument of the function (allocate buffers outside)",
                    func.getName()));
      std::string binding =
          describeBinding(k.kernel.getArgument(i), type.getNumElements(),
                          blockArg.getArgNumber());
      if (binding.empty())
        return createStringError(
            formatv("function @{0}: argument {1} has elements of a type "
                    "the runtime does not bind",
                    func.getName(), i));
      k.bindings.push_back(std::move(binding));
    }
    out.push_back(std::move(k));
  }
  if (out.empty())
    return createStringError("the kernel module has no functions");
  return out;
}

std::string seqc::describeBinding(mlir::BlockArgument kernelArg, uint64_t count,
                                  unsigned arg) {
  std::string element =
      elementName(cast<mlir::MemRefType>(kernelArg.getType()).getElementType());
  if (element.empty())
    return "";
  return formatv("{0}:{1}:{2}:{3}", element, count, accessOf(kernelArg), arg)
      .str();
}

namespace {
/// The buffers a model entry takes, in order (the importers' entry ABI with
/// the weights first, as seq-cpu-abi makes it).
std::optional<SmallVector<StringRef>> entryBuffers(mlir::func::FuncOp func) {
  unsigned n = func.getNumArguments();
  if (func.getName() == "seqc_init_state" && n == 1)
    return SmallVector<StringRef>{"state"};
  if ((func.getName() == "seqc_step" || func.getName() == "seqc_prefill") &&
      (n == 3 || n == 4)) {
    SmallVector<StringRef> names;
    if (n == 4)
      names.push_back("weights");
    names.append({"tokens", "state", "logits"});
    return names;
  }
  return std::nullopt;
}
} // namespace

Expected<std::vector<seqc::EntrySchedule>>
seqc::collectSchedules(mlir::ModuleOp module, StringRef target,
                       int64_t maxBindingBytes, StringRef limitName) {
  std::vector<EntrySchedule> out;
  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    auto list =
        func->getAttrOfType<mlir::ArrayAttr>(mlir::seq::kGPUScheduleAttr);
    auto scratch =
        func->getAttrOfType<mlir::IntegerAttr>(mlir::seq::kGPUScratchAttr);
    if (!list || !scratch)
      continue;
    EntrySchedule entry;
    entry.name = func.getName().str();
    auto buffers = entryBuffers(func);
    if (!buffers)
      return createStringError("entry @" + func.getName() + " is not one the " +
                               target + " runtime runs");
    entry.args = *buffers;
    entry.scratch = scratch.getInt();
    for (mlir::Attribute a : list) {
      auto d = cast<mlir::DictionaryAttr>(a);
      auto ref = cast<mlir::SymbolRefAttr>(d.get("kernel"));
      ArrayRef<int64_t> bindings =
          cast<mlir::DenseI64ArrayAttr>(d.get("bindings")).asArrayRef();
      ScheduledDispatch dispatch;
      dispatch.gpuModule = ref.getRootReference().getValue().str();
      auto gpuModule =
          module.lookupSymbol<mlir::gpu::GPUModuleOp>(dispatch.gpuModule);
      dispatch.kernel = gpuModule
                            ? gpuModule.lookupSymbol<mlir::gpu::GPUFuncOp>(
                                  ref.getLeafReference())
                            : nullptr;
      if (!dispatch.kernel ||
          bindings.size() != 3 * dispatch.kernel.getNumArguments())
        return createStringError("entry @" + func.getName() + ": kernel " +
                                 dispatch.gpuModule +
                                 " is missing after the lowering");
      llvm::append_range(
          dispatch.grid,
          cast<mlir::DenseI64ArrayAttr>(d.get("grid")).asArrayRef());
      llvm::append_range(
          dispatch.block,
          cast<mlir::DenseI64ArrayAttr>(d.get("block")).asArrayRef());
      for (unsigned i = 0; i < dispatch.kernel.getNumArguments(); ++i) {
        int64_t buffer = bindings[3 * i], offset = bindings[3 * i + 1],
                bytes = bindings[3 * i + 2];
        mlir::BlockArgument arg = dispatch.kernel.getArgument(i);
        auto type = cast<mlir::MemRefType>(arg.getType());
        int64_t element = (type.getElementTypeBitWidth() + 7) / 8;
        if (bytes > maxBindingBytes)
          return createStringError(formatv(
              "entry @{0}: kernel {1} binds {2} bytes, more than {3} ({4})",
              func.getName(), dispatch.gpuModule, bytes, limitName,
              maxBindingBytes));
        std::string binding = describeBinding(arg, bytes / element, i);
        if (binding.empty() || bytes % element)
          return createStringError("entry @" + func.getName() + ": kernel " +
                                   dispatch.gpuModule +
                                   " binds elements of a type the runtime "
                                   "does not bind");
        StringRef name = buffer == mlir::seq::kGPUScratchBuffer
                             ? StringRef("scratch")
                         : buffer >= 0 && buffer < (int64_t)buffers->size()
                             ? (*buffers)[buffer]
                             : StringRef();
        if (name.empty())
          return createStringError("entry @" + func.getName() +
                                   ": a binding of a buffer it does not take");
        dispatch.bindings.push_back(std::move(binding));
        dispatch.refs.push_back(
            formatv("{0}@{1}+{2}", name, offset, bytes).str());
      }
      entry.dispatches.push_back(std::move(dispatch));
    }
    out.push_back(std::move(entry));
  }
  if (out.empty())
    return createStringError("the " + target +
                             " lowering left no entry schedule");
  return out;
}

std::string seqc::scheduleLine(const EntrySchedule &entry,
                               ArrayRef<std::string> kernels) {
  std::string line =
      formatv("args={0} scratch={1}", join(entry.args, ","), entry.scratch)
          .str();
  for (auto [d, kernel] : llvm::zip(entry.dispatches, kernels))
    line += formatv(" dispatch={0}:{1}", kernel, join(d.refs, ",")).str();
  return line;
}

void seqc::ModelKernels::addTo(Manifest &table) const {
  for (auto &[key, value] : entries)
    table.add(StringRef(key), value);
  for (auto &[key, value] : lines)
    table.add(StringRef(key), value);
}

Expected<seqc::ModelKernels> seqc::tableModelKernels(
    std::vector<EntrySchedule> &schedules,
    function_ref<Expected<std::string>(ScheduledDispatch &, StringRef)>
        entryOf) {
  ModelKernels out;
  std::map<std::string, std::string> named; // gpu.module -> kernel name
  for (EntrySchedule &entry : schedules) {
    SmallVector<std::string> kernels;
    for (ScheduledDispatch &d : entry.dispatches) {
      auto [it, inserted] = named.try_emplace(
          d.gpuModule, "k" + std::to_string(out.names.size()));
      if (inserted) {
        auto value = entryOf(d, it->second);
        if (!value)
          return value.takeError();
        out.names.push_back(it->second);
        out.entries.push_back(
            {artifact::kKernelKeyPrefix + it->second, std::move(*value)});
      }
      kernels.push_back(it->second);
      ++out.dispatches;
    }
    out.lines.push_back({artifact::kScheduleKeyPrefix + entry.name,
                         scheduleLine(entry, kernels)});
  }
  return out;
}

std::string seqc::joinInts(ArrayRef<int64_t> v) {
  return join(map_range(v, [](int64_t x) { return std::to_string(x); }), ",");
}

std::string seqc::kernelsFile(StringRef magic, const Manifest &manifest,
                              StringRef code) {
  std::string text = manifest.text();
  std::string file = formatv("{0} {1}\n", magic, text.size()).str();
  file += text;
  file.resize(alignTo(file.size(), 16), '\0');
  file += code;
  return file;
}
