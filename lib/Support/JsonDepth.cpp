//===- JsonDepth.cpp - refuse deeply nested JSON before parsing -----------===//

#include "seqc/Support/JsonDepth.h"

bool seqc::checkJsonDepth(const char *text, size_t size, std::string &error,
                          unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < size; ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // The escaped character cannot end the string.
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth) {
        error = "JSON nested deeper than " + std::to_string(maxDepth) +
                " levels at byte " + std::to_string(i);
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}
