//===- InitAll.cpp - register what seqc's tools use -----------------------===//

#include "seqc/InitAll.h"

#include "dialects/Seq/IR/SeqDialect.h"
#include "passes/Codegen/CPU/Passes.h"
#include "passes/Conversion/Passes.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/AsyncToLLVM/AsyncToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Async/IR/Async.h"
#include "mlir/Dialect/Async/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/Extensions/InlinerExtension.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/Passes.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

void seqc::registerAllDialects(mlir::DialectRegistry &registry) {
  using namespace mlir;
  registry.insert<seq::SeqDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, scf::SCFDialect, memref::MemRefDialect,
                  bufferization::BufferizationDialect, vector::VectorDialect,
                  LLVM::LLVMDialect, gpu::GPUDialect, spirv::SPIRVDialect,
                  NVVM::NVVMDialect, cf::ControlFlowDialect,
                  index::IndexDialect, ub::UBDialect, async::AsyncDialect>();
  // What --convert-to-llvm needs to lower each dialect.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  vector::registerConvertVectorToLLVMInterface(registry);
  func::registerInlinerExtension(registry);
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);
}

namespace {
/// seq-cpu-pipeline's textual options (CPUPipelineOptions).
struct CPUPipelineCLOptions
    : public mlir::PassPipelineOptions<CPUPipelineCLOptions> {
  Option<std::string> int8Dot{
      *this, "int8-dot",
      llvm::cl::desc("Integer kernel for int8-weight products: none, avx2, "
                     "avxvnni or avx512vnni (the target must have it)"),
      llvm::cl::init("none")};
  Option<int64_t> activationBlock{
      *this, "activation-block",
      llvm::cl::desc("Activation channels sharing one int8 scale"),
      llvm::cl::init(32)};
};
} // namespace

void seqc::registerAllPasses() {
  using namespace mlir;
  seq::registerSeqTransformsPasses();
  seq::registerSeqConversionPasses();
  seq::registerSeqCPUCodegenPasses();
  PassPipelineRegistration<CPUPipelineCLOptions>(
      "seq-cpu-pipeline",
      "Lower seq ops through linalg, one-shot bufferization, buffer "
      "deallocation and loops to the LLVM dialect",
      [](OpPassManager &pm, const CPUPipelineCLOptions &cl) {
        seqc::CPUPipelineOptions options;
        options.int8Dot = cl.int8Dot;
        options.activationBlock = cl.activationBlock;
        seqc::buildCPUPipeline(pm, options);
      });
  registerTransformsPasses();
  registerConversionPasses();
  arith::registerArithPasses();
  registerAsyncPasses();
  bufferization::registerBufferizationPasses();
  bufferization::registerBufferizationPipelines();
  func::registerFuncPasses();
  registerGPUPasses();
  LLVM::registerLLVMPasses();
  registerLinalgPasses();
  math::registerMathPasses();
  memref::registerMemRefPasses();
  registerSCFPasses();
  spirv::registerSPIRVPasses();
  tensor::registerTensorPasses();
  vector::registerVectorPasses();
}

void seqc::buildCPUPipeline(mlir::OpPassManager &pm,
                            const CPUPipelineOptions &options) {
  std::string products =
      "func.func(seq-parallelize-products{int8-dot=" + options.int8Dot +
      " activation-block=" + std::to_string(options.activationBlock) + "}),";
  // A fixed textual pipeline of upstream passes: one place to read it.
  std::string text =
      "convert-seq-to-linalg,convert-seq-hadamard-to-loops,"
      "convert-seq-kv-to-loops,canonicalize,"
      // Results stored into a caller's buffer are computed there.
      "eliminate-empty-tensors,"
      "one-shot-bufferize{bufferize-function-boundaries},"
      // A function result that is its argument's buffer (a layer's state,
      // updated in place) is dropped: callers use their own buffer, and
      // the copy back into it folds away.
      "drop-equivalent-buffer-results,"
      "buffer-deallocation-pipeline,"
      // Vector writes into buffers whose innermost stride is not 1 (a
      // caller's strided view) become loops; unit-stride ones stay.
      "func.func(convert-vector-to-scf),"
      // Matrix products on all threads: scf.parallel, split into tasks
      // for the async runtime ABI (which seqc's runtime provides).
      + products +
      "async-parallel-for{async-dispatch=false num-workers=-1 "
      "min-task-size=512},"
      // Then the loops marked parallel (attention over KV heads): a
      // task per iteration.
      "func.func(seq-parallelize-loops),"
      "async-parallel-for{async-dispatch=false num-workers=-1 "
      "min-task-size=1},"
      "async-to-async-runtime,async-runtime-ref-counting,"
      "async-runtime-ref-counting-opt,"
      "func.func(seq-strided-copy-to-linalg,convert-linalg-to-loops),"
      "expand-strided-metadata,"
      "lower-affine,convert-scf-to-cf,convert-async-to-llvm,"
      "convert-vector-to-llvm,"
      "convert-to-llvm,"
      "reconcile-unrealized-casts";
  if (failed(mlir::parsePassPipeline(text, pm, llvm::errs())))
    llvm::report_fatal_error("seq-cpu-pipeline: invalid pipeline text");
}
