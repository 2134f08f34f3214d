//===- Rope.cpp - rotary position embedding angles ------------------------===//

#include "seqc/Support/Rope.h"

#include <cmath>

namespace seqc {

double ropeExponentStep(float theta, int64_t rotaryDim) {
  return -2.0 * std::log((double)theta) / rotaryDim;
}

double ropeAngle(double step, int64_t pos, int64_t pair) {
  return (double)pos * std::exp((double)pair * step);
}

std::pair<int64_t, int64_t> ropePairChannels(RopeStyle style, int64_t rotaryDim,
                                             int64_t pair) {
  if (style == RopeStyle::Half)
    return {pair, pair + rotaryDim / 2};
  return {2 * pair, 2 * pair + 1};
}

void ropeCosSin(float theta, int64_t rotaryDim, int64_t pos, float *cosOut,
                float *sinOut) {
  double step = ropeExponentStep(theta, rotaryDim);
  for (int64_t i = 0; i < rotaryDim / 2; ++i) {
    double ang = ropeAngle(step, pos, i);
    cosOut[i] = (float)std::cos(ang);
    sinOut[i] = (float)std::sin(ang);
  }
}

std::vector<float> ropeTable(float theta, int64_t rotaryDim, int64_t positions,
                             bool sine) {
  int64_t half = rotaryDim / 2;
  std::vector<float> values(positions * half);
  double step = ropeExponentStep(theta, rotaryDim);
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double ang = ropeAngle(step, p, i);
      values[p * half + i] = (float)(sine ? std::sin(ang) : std::cos(ang));
    }
  return values;
}

} // namespace seqc
