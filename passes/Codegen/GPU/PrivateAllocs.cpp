//===- PrivateAllocs.cpp - a thread's scratch in private memory -----------===//
//
// Described in Passes.td (seq-gpu-private-allocs).
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/GPU/Passes.h"

#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQGPUPRIVATEALLOCSPASS
#include "passes/Codegen/GPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

struct GPUPrivateAllocsPass
    : public seq::impl::SeqGPUPrivateAllocsPassBase<GPUPrivateAllocsPass> {
  using SeqGPUPrivateAllocsPassBase::SeqGPUPrivateAllocsPassBase;

  /// Workgroup memory, before or after the memory spaces are mapped to
  /// SPIR-V storage classes.
  static bool isWorkgroup(MemRefType type) {
    Attribute space = type.getMemorySpace();
    if (auto gpuSpace = dyn_cast_or_null<gpu::AddressSpaceAttr>(space))
      return gpuSpace.getValue() == gpu::AddressSpace::Workgroup;
    if (auto storage = dyn_cast_or_null<spirv::StorageClassAttr>(space))
      return storage.getValue() == spirv::StorageClass::Workgroup;
    if (auto number = dyn_cast_or_null<IntegerAttr>(space))
      return number.getInt() == 3;
    return false;
  }

  /// The thread's index within its workgroup (x fastest), and the
  /// workgroup's threads; null when the kernel's workgroup size is not
  /// known.
  static std::pair<Value, int64_t> threadIndex(OpBuilder &b,
                                               gpu::GPUFuncOp kernel) {
    DenseI32ArrayAttr known = kernel.getKnownBlockSizeAttr();
    if (!known)
      return {nullptr, 0};
    ArrayRef<int32_t> size = known.asArrayRef();
    Location loc = kernel.getLoc();
    Value x = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value y = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::y);
    Value z = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::z);
    auto c = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    Value yz = arith::AddIOp::create(
        b, loc, y, arith::MulIOp::create(b, loc, z, c(size[1])));
    Value id = arith::AddIOp::create(
        b, loc, x, arith::MulIOp::create(b, loc, yz, c(size[0])));
    return {id, (int64_t)size[0] * size[1] * size[2]};
  }

  void runOnOperation() override {
    if (memorySpace != "none" && memorySpace != "function" &&
        memorySpace != "workgroup") {
      getOperation().emitError("seq-gpu-private-allocs: memory-space=")
          << memorySpace << ": expected none, function or workgroup";
      return signalPassFailure();
    }
    bool slices = memorySpace == "workgroup";
    Attribute space;
    if (memorySpace == "function")
      space = spirv::StorageClassAttr::get(&getContext(),
                                           spirv::StorageClass::Function);
    if (slices)
      space = gpu::AddressSpaceAttr::get(&getContext(),
                                         gpu::AddressSpace::Workgroup);
    for (auto kernel : getOperation().getOps<gpu::GPUFuncOp>()) {
      auto threadAllocs = [&] {
        SmallVector<memref::AllocOp> allocs;
        kernel.walk([&](memref::AllocOp op) {
          if (!isWorkgroup(op.getType()))
            allocs.push_back(op);
        });
        return allocs;
      };
      if (threadAllocs().empty())
        continue;
      // Views of the buffers (a row collapsed) folded into the loads and
      // stores, which are then all that use them.
      RewritePatternSet folds(&getContext());
      memref::populateFoldMemRefAliasOpPatterns(folds);
      if (failed(applyPatternsGreedily(kernel, std::move(folds))))
        return signalPassFailure();
      SmallVector<memref::AllocOp> allocs = threadAllocs();
      OpBuilder b = OpBuilder::atBlockBegin(&kernel.getBody().front());
      Value thread;
      int64_t threads = 1;
      if (slices) {
        std::tie(thread, threads) = threadIndex(b, kernel);
        if (!thread) {
          kernel.emitError("kernel @")
              << kernel.getName()
              << " allocates per-thread scratch, and its workgroup size is "
                 "not known";
          return signalPassFailure();
        }
      }
      int64_t bytes = 0;
      for (memref::AllocOp op : allocs) {
        MemRefType type = op.getType();
        if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat() ||
            !type.getLayout().isIdentity()) {
          op.emitError("kernel @")
              << kernel.getName()
              << " allocates a buffer of a dynamic size, a layout or "
                 "non-scalar elements, which no thread can take from "
                 "private memory: "
              << type;
          return signalPassFailure();
        }
        bytes += threads * seq::gpuBufferBytes(type);
        if (bytes > maxBytes) {
          op.emitError("kernel @")
              << kernel.getName() << " allocates " << bytes
              << " bytes of scratch for its threads, more than the "
              << (int64_t)maxBytes << " allowed (max-bytes)";
          return signalPassFailure();
        }
        for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
          if (isa<memref::DeallocOp>(user))
            user->erase();
        if (space) {
          for (OpOperand &use : op->getUses())
            if (!isa<memref::LoadOp, memref::StoreOp>(use.getOwner())) {
              use.getOwner()->emitError("kernel @")
                  << kernel.getName()
                  << ": a thread's scratch buffer is used by an op that is "
                     "not a load or a store";
              return signalPassFailure();
            }
        }
        if (!slices) {
          auto alloca = memref::AllocaOp::create(
              b, op.getLoc(),
              MemRefType::get(type.getShape(), type.getElementType(),
                              type.getLayout(), space),
              op.getAlignmentAttr());
          op->replaceAllUsesWith(alloca);
          op.erase();
          continue;
        }
        // One workgroup array, a slice per thread: index 0 is the thread.
        SmallVector<int64_t> shape = {threads};
        llvm::append_range(shape, type.getShape());
        Value all = memref::AllocOp::create(
            b, op.getLoc(),
            MemRefType::get(shape, type.getElementType(),
                            MemRefLayoutAttrInterface(), space));
        for (Operation *user : llvm::make_early_inc_range(op->getUsers())) {
          OpBuilder ub(user);
          SmallVector<Value> at = {thread};
          if (auto load = dyn_cast<memref::LoadOp>(user)) {
            llvm::append_range(at, load.getIndices());
            load.replaceAllUsesWith(
                memref::LoadOp::create(ub, load.getLoc(), all, at).getResult());
          } else {
            auto store = cast<memref::StoreOp>(user);
            llvm::append_range(at, store.getIndices());
            memref::StoreOp::create(ub, store.getLoc(), store.getValue(), all,
                                    at);
          }
          user->erase();
        }
        op.erase();
      }
    }
  }
};

} // namespace
