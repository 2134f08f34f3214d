//===- Q4Encode.cpp - one group of weights as q4
//---------------------------===//
//
// BlobWriter::quantizeQ4Group (ModelBuilder.h): the q4 encoder of the weight
// writer, apart from the header every importer includes.
//
//===----------------------------------------------------------------------===//

#include "ModelBuilder.h"

using namespace seqc;
using namespace seqc::import;

float BlobWriter::quantizeQ4Group(const float *x, uint8_t *codes) {
  constexpr int64_t G = mlir::seq::kQ4Group;
  // A NaN or infinite weight: the group decodes to NaN, as the f32
  // product would give NaN (codes 8: d · 0 is NaN too).
  if (!std::all_of(x, x + G, [](float v) { return std::isfinite(v); })) {
    std::fill(codes, codes + G, 8);
    return std::numeric_limits<float>::quiet_NaN();
  }
  int64_t at = 0;
  for (int64_t j = 1; j < G; ++j)
    if (std::fabs(x[j]) > std::fabs(x[at]))
      at = j;
  // Whether codes for scale d give back every value exactly (stops at
  // the first that does not); the codes are written as it goes.
  auto code = [&](int64_t j, float d) {
    double div = d != 0 ? d : 1.0;
    return std::clamp(std::floor((double)x[j] / div + 0.5) + 8, 0.0, 15.0);
  };
  auto exact = [&](float d) {
    for (int64_t j = 0; j < G; ++j) {
      double q = code(j, d);
      codes[j] = (uint8_t)q;
      if (d * (float)(q - 8) != x[j])
        return false;
    }
    return true;
  };
  auto scale = [&](int k) { return halfToFloat(floatToHalf(x[at] / k)); };
  float standard = scale(-8);
  if (exact(standard))
    return standard;
  for (int k : {7, -7, 6, -6, 5, -5, 4, -4, 3, -3, 2, -2, 1, -1})
    if (float d = scale(k); d != 0 && exact(d))
      return d;
  // Rounded: the standard codes, all of them.
  for (int64_t j = 0; j < G; ++j)
    codes[j] = (uint8_t)code(j, standard);
  return standard;
}
