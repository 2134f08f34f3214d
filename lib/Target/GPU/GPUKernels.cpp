//===- GPUKernels.cpp - what the GPU targets share about kernels ----------===//

#include "seqc/Target/GPUKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

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
