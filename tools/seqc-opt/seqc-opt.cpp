//===- seqc-opt.cpp - mlir-opt for seqc -----------------------------------===//
//
// Parses, verifies, transforms and prints IR in the seq dialect and the
// upstream dialects seqc's pipelines use, like mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "seqc/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  seqc::registerAllDialects(registry);
  seqc::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "seqc optimizer driver\n", registry));
}
