//===- StridedCopyToLinalg.cpp - strided memref.copy as linalg.copy -------===//

#include "passes/Codegen/CPU/Passes.h"

namespace mlir::seq {
#define GEN_PASS_DEF_SEQSTRIDEDCOPYTOLINALGPASS
#include "passes/Codegen/CPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {
struct SeqStridedCopyToLinalgPass
    : public seq::impl::SeqStridedCopyToLinalgPassBase<
          SeqStridedCopyToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) {
      auto src = dyn_cast<MemRefType>(op.getSource().getType());
      auto dst = dyn_cast<MemRefType>(op.getTarget().getType());
      if (src && dst &&
          (all ||
           !(src.getLayout().isIdentity() && dst.getLayout().isIdentity())))
        copies.push_back(op);
    });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), op.getSource(), op.getTarget());
      op.erase();
    }
  }
};
} // namespace
