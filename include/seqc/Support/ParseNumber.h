//===- ParseNumber.h - strict numbers for command-line flags ----*- C++ -*-===//
//
// Every numeric flag of seqc and seqc-run is read by these: the whole text
// must be the number (no "8x", no "2.7" for a count, no empty text), and it
// must lie in the flag's range, so a mistyped or hostile value is an error
// that names the flag and the range instead of a silent truncation, a
// wrap-around or a huge allocation. No MLIR or LLVM (the runtime's tools use
// it too).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_PARSENUMBER_H
#define SEQC_SUPPORT_PARSENUMBER_H

#include <cstdint>
#include <string>
#include <vector>

namespace seqc {

/// Reads a decimal integer (optional sign, digits only) in [lo, hi]. On
/// failure returns false and sets `error` to "expected an integer in
/// [lo, hi]" or the like (without the flag's name, which the caller adds).
bool parseInteger(const std::string &text, int64_t lo, int64_t hi, int64_t &out,
                  std::string &error);

/// Reads a finite decimal number in [lo, hi] (no "nan", "inf" or hex).
bool parseReal(const std::string &text, double lo, double hi, double &out,
               std::string &error);

/// Reads a comma-separated list of integers in [lo, hi] (at least one; at
/// most `maxItems`).
bool parseIntegerList(const std::string &text, int64_t lo, int64_t hi,
                      size_t maxItems, std::vector<int64_t> &out,
                      std::string &error);

} // namespace seqc

#endif // SEQC_SUPPORT_PARSENUMBER_H
