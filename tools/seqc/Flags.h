//===- Flags.h - strict, bounded numeric flags of seqc ----------*- C++ -*-===//
//
// Every numeric flag of seqc is parsed by seqc::parseInteger / parseReal
// (seqc/Support/ParseNumber.h, which seqc-run uses too): decimal only, the
// whole text, and within the bounds its declaration states, e.g.
//
//   cl::opt<int64_t, false, seqc::IntFlag<int64_t, 1, kMaxContext>>
//   context(...)
//
// so that "8x", "2.5", "-5" or 2^40 are errors naming the flag and the
// range, never a truncation, a silently ignored value or a huge allocation.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TOOLS_SEQC_FLAGS_H
#define SEQC_TOOLS_SEQC_FLAGS_H

#include "seqc/Support/ParseNumber.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

namespace seqc {

/// Integers of type T in [Lo, Hi].
/// What the parsers below produce: converts to the option's type. (LLVM's
/// own parsers are final, and a parser of the option's own type would have
/// to be one of them.)
template <typename T> struct FlagValue {
  T value{};
  operator T() const { return value; }
};

template <typename T>
class FlagParser : public llvm::cl::basic_parser<FlagValue<T>> {
public:
  using llvm::cl::basic_parser<FlagValue<T>>::basic_parser;
  llvm::StringRef getValueName() const override { return "number"; }
};

/// Integers of type T in [Lo, Hi].
template <typename T, int64_t Lo, int64_t Hi>
class IntFlag : public FlagParser<T> {
public:
  using FlagParser<T>::FlagParser;
  bool parse(llvm::cl::Option &o, llvm::StringRef, llvm::StringRef arg,
             FlagValue<T> &value) {
    int64_t v;
    std::string why;
    if (!parseInteger(arg.str(), Lo, Hi, v, why))
      return o.error(why);
    value.value = (T)v;
    return false;
  }
};

/// Finite reals (no nan, inf or hex; ranges that depend on other flags are
/// checked by the option's validation).
class RealFlag : public FlagParser<double> {
public:
  using FlagParser<double>::FlagParser;
  bool parse(llvm::cl::Option &o, llvm::StringRef, llvm::StringRef arg,
             FlagValue<double> &value) {
    std::string why;
    if (!parseReal(arg.str(), -1e300, 1e300, value.value, why))
      return o.error(why);
    return false;
  }
};

/// Bounds of the flags: far above what any model needs, low enough that
/// products of them cannot overflow or ask for absurd allocations.
constexpr int64_t kMaxTokens = int64_t(1) << 24;
constexpr int64_t kMaxChannels = int64_t(1) << 16;

} // namespace seqc

// --print-options of a flag whose parser produces FlagValue<T>.
template <typename T>
struct llvm::cl::OptionDiffPrinter<seqc::FlagValue<T>, T> {
  template <typename Parser>
  void print(const Option &o, const Parser &p, const T &,
             const OptionValue<T> &, size_t globalWidth) {
    p.printOptionNoValue(o, globalWidth);
  }
};

#endif // SEQC_TOOLS_SEQC_FLAGS_H
