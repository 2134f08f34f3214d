//===- JsonDepth.h - refuse deeply nested JSON before parsing ---*- C++ -*-===//
//
// Recursive JSON parsers (llvm::json::parse among them) recurse once per
// level of nesting, so a file of a million '[' overflows the stack. seqc
// reads JSON that users download (safetensors headers, config.json,
// tokenizer files, calibration statistics); every reader checks the depth
// first with this scan, which is iterative and skips string contents.
// No MLIR or LLVM: the runtime's tokenizer reader uses it too.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_JSONDEPTH_H
#define SEQC_SUPPORT_JSONDEPTH_H

#include <cstddef>
#include <string>

namespace seqc {

/// Nesting deeper than any JSON seqc reads legitimately needs (safetensors
/// headers and configs are 2-3 levels deep, tokenizer files about 5).
constexpr unsigned kMaxJsonDepth = 64;

/// Whether the arrays and objects of `text` nest at most `maxDepth` levels.
/// Otherwise `error` says where ("nested deeper than 64 levels at byte N").
/// Only the nesting is checked: the parser still checks the syntax.
bool checkJsonDepth(const char *text, size_t size, std::string &error,
                    unsigned maxDepth = kMaxJsonDepth);

} // namespace seqc

#endif // SEQC_SUPPORT_JSONDEPTH_H
