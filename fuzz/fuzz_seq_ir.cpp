//===- fuzz_seq_ir.cpp - libFuzzer harness: the seq dialect's IR ----------===//
//
// Parses the input as an MLIR module with every dialect seqc registers
// (seqc-opt's), verifies it and, when it verifies, prints it and parses the
// printed form again, which must verify too (the dialect's custom parsers,
// printers and verifiers agree).
//
//===----------------------------------------------------------------------===//

#include "seqc/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

static mlir::DialectRegistry *registry;

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) {
  registry = new mlir::DialectRegistry;
  seqc::registerAllDialects(*registry);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext ctx(*registry, mlir::MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler quiet(&ctx, [&](mlir::Diagnostic &d) {
    diagnostics = d.str();
    return mlir::success();
  });
  mlir::ParserConfig config(&ctx, /*verifyAfterParse=*/true);
  // MLIR's lexer reads the byte after the text (a NUL, as in every buffer
  // seqc-opt reads from a file); libFuzzer's data has none.
  std::string source(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(source);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(text, config);
  if (!module)
    return 0;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  module->print(os);
  mlir::OwningOpRef<mlir::ModuleOp> again =
      mlir::parseSourceString<mlir::ModuleOp>(printed, config);
  if (!again) {
    std::fprintf(stderr,
                 "seqc fuzz: broken contract: the printed module does not "
                 "parse: %s\n%s\n",
                 diagnostics.c_str(), printed.c_str());
    std::abort();
  }
  return 0;
}
