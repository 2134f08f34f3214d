//===- ParseNumber.cpp - strict numbers for command-line flags ------------===//

#include "seqc/Support/ParseNumber.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace {

std::string rangeText(int64_t lo, int64_t hi) {
  return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

std::string realText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

} // namespace

bool seqc::parseInteger(const std::string &text, int64_t lo, int64_t hi,
                        int64_t &out, std::string &error) {
  std::string expected = "expected an integer in " + rangeText(lo, hi);
  size_t i = text.size() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (i == text.size()) {
    error = "'" + text + "': " + expected;
    return false;
  }
  for (size_t j = i; j < text.size(); ++j)
    if (text[j] < '0' || text[j] > '9') {
      error = "'" + text + "': " + expected;
      return false;
    }
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || v < lo || v > hi) {
    error = text + " is out of range: " + expected;
    return false;
  }
  out = v;
  return true;
}

bool seqc::parseReal(const std::string &text, double lo, double hi, double &out,
                     std::string &error) {
  std::string expected =
      "expected a number in [" + realText(lo) + ", " + realText(hi) + "]";
  // Digits, one point, an exponent: what strtod reads besides nan, inf and
  // hex floats, which no flag means.
  bool digits = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9')
      digits = true;
    else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+')
      digits = false, i = text.size();
  }
  char *end = nullptr;
  errno = 0;
  double v = digits ? std::strtod(text.c_str(), &end) : 0;
  if (!digits || !end || *end || errno == ERANGE || !std::isfinite(v)) {
    error = "'" + text + "': " + expected;
    return false;
  }
  if (!(v >= lo && v <= hi)) {
    error = text + " is out of range: " + expected;
    return false;
  }
  out = v;
  return true;
}

bool seqc::parseIntegerList(const std::string &text, int64_t lo, int64_t hi,
                            size_t maxItems, std::vector<int64_t> &out,
                            std::string &error) {
  out.clear();
  size_t at = 0;
  while (true) {
    size_t comma = text.find(',', at);
    std::string item = text.substr(
        at, comma == std::string::npos ? std::string::npos : comma - at);
    int64_t v;
    if (!parseInteger(item, lo, hi, v, error))
      return false;
    if (out.size() == maxItems) {
      error = "more than " + std::to_string(maxItems) + " items";
      return false;
    }
    out.push_back(v);
    if (comma == std::string::npos)
      return true;
    at = comma + 1;
  }
}
