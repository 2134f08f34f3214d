//===- SanitizerDefaults.cpp - ASan options of sanitized executables ------===//
//
// Linked into every executable of a sanitizer build (SEQC_SANITIZE). LLVM's
// headers poison and unpoison the slabs of BumpPtrAllocator when they are
// compiled with ASan: inlined into seqc's instrumented code they poison
// memory that the same allocator, inlined into Debian's uninstrumented
// libMLIR.so, hands out without unpoisoning, and ASan then reports a
// use-after-poison in MLIR's own code. Manual poisoning is therefore off;
// every instrumented access is still checked. $ASAN_OPTIONS adds to this.
//
//===----------------------------------------------------------------------===//

extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}
