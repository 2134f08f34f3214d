//===- GPURunCommon.h - command-line helpers of the GPU run tools -*- C++
//-*-===//
//
// What seqc-vulkan-run and seqc-cuda-run share: their --in/--out ARG=FILE
// and count arguments, reading and writing raw files, and the error line
// prefixed with the tool's name. Header-only, with no dependency beyond the
// C++ library, so each tool stays a single source over its own driver.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TOOLS_GPURUNCOMMON_H
#define SEQC_TOOLS_GPURUNCOMMON_H

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>

namespace seqc::gpurun {

/// Prints "TOOL: MSG" to stderr; returns exit status 1.
inline int fail(const char *tool, const std::string &msg) {
  std::cerr << tool << ": " << msg << "\n";
  return 1;
}

/// Parses "A=FILE" (A: one to four decimal digits, FILE non-empty).
inline bool parseBindingFile(const std::string &arg, unsigned &binding,
                             std::string &file) {
  size_t eq = arg.find('=');
  if (eq == 0 || eq == std::string::npos || eq + 1 == arg.size() || eq > 4)
    return false;
  for (size_t i = 0; i < eq; ++i)
    if (arg[i] < '0' || arg[i] > '9')
      return false;
  binding = std::stoul(arg.substr(0, eq));
  file = arg.substr(eq + 1);
  return true;
}

/// Parses a whole decimal number from 1 to `max`.
inline bool parseCount(const char *text, long max, long &out) {
  char *end;
  out = std::strtol(text, &end, 10);
  return *text && !*end && out >= 1 && out <= max;
}

inline bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  out.assign(std::istreambuf_iterator<char>(in),
             std::istreambuf_iterator<char>());
  return true;
}

/// Takes `--in|--out ARG=FILE` (`flag`, `value`) for `kernel`: the input
/// file is read into `inputs`, the output file named in `outputs`, both by
/// binding; `bindingOf(ARG)` is the binding of function argument ARG, or
/// negative when the kernel uses no buffer there. Returns the error message,
/// empty on success.
template <typename BindingOf>
std::string takeBindingFile(const std::string &flag, const std::string &value,
                            const std::string &kernel, BindingOf bindingOf,
                            std::map<unsigned, std::string> &inputs,
                            std::map<unsigned, std::string> &outputs) {
  unsigned fnArg;
  std::string file;
  if (!parseBindingFile(value, fnArg, file))
    return flag + " " + value + ": expected ARGUMENT=FILE";
  int b = bindingOf(fnArg);
  if (b < 0)
    return flag + " " + value + ": argument " + std::to_string(fnArg) + " of " +
           kernel + " is not a buffer its kernel uses";
  if (flag == "--out") {
    outputs[b] = file;
    return "";
  }
  if (!readFile(file, inputs[b]))
    return file + ": cannot read";
  return "";
}

inline bool writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), bytes.size());
  return bool(out);
}

} // namespace seqc::gpurun

#endif // SEQC_TOOLS_GPURUNCOMMON_H
