//===- Schedule.cpp - an entry's host part as a static dispatch list ------===//
//
// After the GPU mapping, a model entry (seqc_init_state, seqc_step) is a
// host function of buffer bookkeeping around gpu.launch_func ops: scratch
// allocations, views of the weights buffer at constant byte offsets,
// subviews of the state. Nothing in it depends on a value computed at run
// time, so it is compiled to a schedule here, once: the dispatches in
// order, each kernel argument bound to (buffer, byte offset, bytes), where
// the buffer is one of the entry's arguments or one scratch arena. The
// runtime records the schedule into a command buffer once and replays it
// per token; no host code of the model runs at all.
//
// Binding offsets must be multiples of the device's
// minStorageBufferOffsetAlignment; 256 bytes is the largest value Vulkan
// allows, so bindings start at 256-byte boundaries everywhere and the rest
// of a view's offset goes into the kernel argument's layout (a static
// strided layout, which the SPIR-V and NVVM conversions linearize). Every
// kernel argument is rebased that way, so the kernels of one layer and the
// next become identical and the target can keep one copy.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUSCHEDULEPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Where a memref's element 0 (before its layout offset) lies.
struct Place {
  int64_t buffer; // an argument's number, or kScratch
  int64_t base;   // bytes into that buffer
};

/// The type `type` takes when its binding starts `shift` elements past its
/// base: the same shape and strides, the layout offset less `shift`.
MemRefType rebased(MemRefType type, int64_t offset) {
  auto [strides, old] = type.getStridesAndOffset();
  (void)old;
  MemRefLayoutAttrInterface layout;
  if (offset != 0 ||
      ArrayRef<int64_t>(strides) !=
          ArrayRef<int64_t>(computeSuffixProduct(type.getShape())))
    layout = StridedLayoutAttr::get(type.getContext(), offset, strides);
  return MemRefType::get(type.getShape(), type.getElementType(), layout,
                         type.getMemorySpace());
}

struct GPUSchedulePass
    : public seq::impl::SeqGPUSchedulePassBase<GPUSchedulePass> {

  struct Dispatch {
    gpu::LaunchFuncOp launch;
    SmallVector<int64_t> bindings; // (buffer, offset, bytes) per argument
    SmallVector<MemRefType> types; // each kernel argument's rebased type
  };

  LogicalResult schedule(func::FuncOp func, SmallVector<Dispatch> &out,
                         int64_t &scratch) {
    if (!func.getBody().hasOneBlock())
      return func.emitError("the host part of @")
             << func.getName()
             << " has control flow; a GPU schedule is a straight list of "
                "dispatches (entries with loops over tokens are not "
                "compiled for GPU targets yet)";
    DenseMap<Value, Place> places;
    for (BlockArgument arg : func.getArguments())
      if (isa<MemRefType>(arg.getType()))
        places[arg] = {arg.getArgNumber(), 0};
    scratch = 0;
    auto staticLayout = [](Operation *op, MemRefType type) -> LogicalResult {
      int64_t offset;
      SmallVector<int64_t> strides;
      if (!type.getElementType().isIntOrFloat())
        return op->emitError("a buffer of the GPU schedule needs integer or "
                             "float elements (their size is fixed), not ")
               << type;
      if (!type.hasStaticShape() ||
          failed(type.getStridesAndOffset(strides, offset)) ||
          ShapedType::isDynamic(offset) ||
          llvm::any_of(strides, ShapedType::isDynamic))
        return op->emitError("a buffer of the GPU schedule needs a static "
                             "shape and layout, not ")
               << type;
      return success();
    };
    for (Operation &op : func.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        if (ret.getNumOperands())
          return ret.emitError("a GPU entry returns nothing (its results "
                               "are written into its arguments)");
        continue;
      }
      if (isa<memref::DeallocOp>(op))
        continue;
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        MemRefType type = alloc.getType();
        if (failed(staticLayout(&op, type)))
          return failure();
        scratch = llvm::alignTo(scratch, seq::kGPUBindingAlignment);
        places[alloc] = {seq::kGPUScratchBuffer, scratch};
        scratch += seq::gpuBufferBytes(type);
        continue;
      }
      if (auto view = dyn_cast<memref::ViewOp>(op)) {
        auto shift = getConstantIntValue(view.getByteShift());
        auto it = places.find(view.getSource());
        if (!shift || it == places.end() || !view.getSizes().empty())
          return view.emitError("a view of the GPU schedule needs a constant "
                                "byte offset and static sizes");
        // A copy first: inserting may move the map's entries.
        Place source = it->second;
        places[view] = {source.buffer, source.base + *shift};
        continue;
      }
      if (auto like = dyn_cast<ViewLikeOpInterface>(op)) {
        auto it = places.find(like.getViewSource());
        if (it == places.end() || op.getNumResults() != 1)
          return op.emitError("a view of a buffer the GPU schedule does not "
                              "place");
        auto type = dyn_cast<MemRefType>(op.getResult(0).getType());
        if (!type || failed(staticLayout(&op, type)))
          return failure();
        Place source = it->second; // before inserting moves it
        places[op.getResult(0)] = source;
        continue;
      }
      if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
        Dispatch d;
        d.launch = launch;
        for (Value arg : launch.getKernelOperands()) {
          auto type = dyn_cast<MemRefType>(arg.getType());
          auto it = places.find(arg);
          if (!type || it == places.end())
            return launch.emitError("a kernel argument the GPU schedule "
                                    "cannot bind: ")
                   << arg.getType();
          if (failed(staticLayout(launch, type)))
            return failure();
          auto [strides, offset] = type.getStridesAndOffset();
          int64_t bytes = seq::gpuElementBytes(type);
          int64_t first = it->second.base + offset * bytes;
          int64_t start = llvm::alignDown(first, seq::kGPUBindingAlignment);
          if ((first - start) % bytes)
            return launch.emitError("a kernel argument at byte ")
                   << first << " is not aligned to its elements";
          int64_t extent = 1;
          for (auto [size, stride] : llvm::zip(type.getShape(), strides))
            extent += (size - 1) * stride;
          d.types.push_back(rebased(type, (first - start) / bytes));
          d.bindings.append(
              {it->second.buffer, start,
               (int64_t)llvm::alignTo(first - start + extent * bytes, 4)});
        }
        out.push_back(std::move(d));
        continue;
      }
      if (isMemoryEffectFree(&op) &&
          llvm::none_of(op.getResultTypes(), llvm::IsaPred<MemRefType>))
        continue; // constants and index arithmetic of the launches
      return op.emitError("the host part of @")
             << func.getName() << " has '" << op.getName()
             << "', which a GPU schedule cannot run (only scratch "
                "allocations, views and kernel launches)";
    }
    return success();
  }

  /// Gives `value` (a kernel argument or a subview of one) the type
  /// `type`, and the subviews of it the types that follow.
  static LogicalResult retype(gpu::GPUFuncOp kernel, Value value,
                              MemRefType type) {
    if (value.getType() == type)
      return success();
    for (Operation *user : value.getUsers()) {
      if (isa<memref::LoadOp, memref::StoreOp, vector::LoadOp, vector::StoreOp>(
              user))
        continue;
      auto subview = dyn_cast<memref::SubViewOp>(user);
      if (!subview)
        return user->emitError("kernel @")
               << kernel.getName() << ": an argument used by '"
               << user->getName() << "' cannot be rebased onto its binding";
      MemRefType result = subview.getType();
      auto inferred = memref::SubViewOp::inferRankReducedResultType(
          result.getShape(), type, subview.getMixedOffsets(),
          subview.getMixedSizes(), subview.getMixedStrides());
      if (failed(retype(kernel, subview.getResult(), inferred)))
        return failure();
    }
    value.setType(type);
    return success();
  }

  /// Makes the arguments bound to the same bytes with the same type one
  /// argument: the host part hands a kernel each view it uses, and views
  /// of one buffer at one place (a KV cache's length, read by every
  /// attention) would otherwise take a binding each, past the 32 storage
  /// buffers per stage a Vulkan device may stop at.
  static void mergeArguments(gpu::GPUFuncOp kernel, Dispatch &d) {
    auto fn = cast<FunctionOpInterface>(kernel.getOperation());
    for (unsigned j = 1; j < d.types.size();) {
      ArrayRef<int64_t> bound = ArrayRef<int64_t>(d.bindings).slice(3 * j, 3);
      unsigned i = 0;
      while (i < j && (d.types[i] != d.types[j] ||
                       ArrayRef<int64_t>(d.bindings).slice(3 * i, 3) != bound))
        ++i;
      if (i == j) {
        ++j;
        continue;
      }
      kernel.getArgument(j).replaceAllUsesWith(kernel.getArgument(i));
      (void)fn.eraseArgument(j);
      d.launch.getKernelOperandsMutable().erase(j);
      d.types.erase(d.types.begin() + j);
      d.bindings.erase(d.bindings.begin() + 3 * j,
                       d.bindings.begin() + 3 * j + 3);
    }
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    struct Entry {
      func::FuncOp func;
      SmallVector<Dispatch> dispatches;
      int64_t scratch = 0;
    };
    SmallVector<Entry> entries;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      Entry &e = entries.emplace_back();
      e.func = func;
      if (failed(schedule(func, e.dispatches, e.scratch)))
        return signalPassFailure();
    }
    // A kernel launched twice would need two argument types.
    DenseMap<gpu::GPUFuncOp, gpu::LaunchFuncOp> launched;
    SymbolTableCollection symbols;
    for (Entry &e : entries)
      for (Dispatch &d : e.dispatches) {
        auto kernel = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
            d.launch, d.launch.getKernel());
        if (!kernel)
          return signalPassFailure();
        if (!launched.try_emplace(kernel, d.launch).second) {
          d.launch.emitError("kernel @")
              << kernel.getName() << " is launched twice";
          return signalPassFailure();
        }
        // Rebase the kernel's arguments onto their bindings. The body
        // indexes them with (vector) loads and stores, and takes subviews
        // (a KV head's scratch), whose types follow.
        for (auto [arg, type] : llvm::zip(kernel.getArguments(), d.types))
          if (failed(retype(kernel, arg, type)))
            return signalPassFailure();
        mergeArguments(kernel, d);
        kernel.setFunctionType(FunctionType::get(
            &getContext(), kernel.getBody().getArgumentTypes(), {}));
      }
    // Rebased, the kernels of one layer and the next are the same: each
    // distinct kernel is kept once (its text: sizes are attributes of the
    // gpu.func), so the target converts and assembles it once.
    llvm::StringMap<SymbolRefAttr> distinct;
    SmallVector<Operation *> duplicates;
    auto canonical = [&](gpu::LaunchFuncOp launch) {
      auto kernel = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          launch, launch.getKernel());
      std::string text;
      llvm::raw_string_ostream os(text);
      // Values numbered within the function, not the module.
      kernel->print(os, OpPrintingFlags().useLocalScope().assumeVerified());
      auto [it, inserted] = distinct.try_emplace(text, launch.getKernel());
      if (!inserted)
        duplicates.push_back(kernel->getParentOp());
      return it->second;
    };
    // The schedule replaces the host part.
    for (Entry &e : entries) {
      func::FuncOp func = e.func;
      SmallVector<Attribute> list;
      for (Dispatch &d : e.dispatches) {
        gpu::KernelDim3 g = d.launch.getGridSizeOperandValues(),
                        t = d.launch.getBlockSizeOperandValues();
        SmallVector<int64_t> grid, block;
        for (Value v : {g.x, g.y, g.z})
          grid.push_back(getConstantIntValue(v).value_or(0));
        for (Value v : {t.x, t.y, t.z})
          block.push_back(getConstantIntValue(v).value_or(0));
        if (llvm::is_contained(grid, 0) || llvm::is_contained(block, 0)) {
          d.launch.emitError("a launch of the GPU schedule needs constant "
                             "sizes");
          return signalPassFailure();
        }
        list.push_back(b.getDictionaryAttr({
            b.getNamedAttr("kernel", canonical(d.launch)),
            b.getNamedAttr("grid", b.getDenseI64ArrayAttr(grid)),
            b.getNamedAttr("block", b.getDenseI64ArrayAttr(block)),
            b.getNamedAttr("bindings", b.getDenseI64ArrayAttr(d.bindings)),
        }));
      }
      func->setAttr(seq::kGPUScheduleAttr, b.getArrayAttr(list));
      func->setAttr(seq::kGPUScratchAttr, b.getI64IntegerAttr(e.scratch));
      for (Operation &op : func.getBody().front())
        op.dropAllReferences();
      func.getBody().front().clear();
      OpBuilder ob = OpBuilder::atBlockEnd(&func.getBody().front());
      func::ReturnOp::create(ob, func.getLoc());
    }
    for (Operation *gpuModule : duplicates)
      gpuModule->erase();
  }
};

} // namespace
