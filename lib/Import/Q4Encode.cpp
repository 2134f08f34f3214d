//===- Q4Encode.cpp - weights in the group formats ------------------------===//
//
// BlobWriter::quantizeGroup, BlobWriter::addGroups and
// BlobWriter::addSuperBlocks (BlobWriter.h): the group-format encoders of
// the weight writer (q4, q5, q6, q8, q4k, q6k), apart from the header every
// importer includes.
//
//===----------------------------------------------------------------------===//

#include "BlobWriter.h"

#include "dialects/Seq/IR/SeqQ4Product.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

using namespace seqc;
using namespace seqc::import;

float BlobWriter::quantizeGroup(const float *x, uint8_t *codes, int bits) {
  constexpr int64_t G = mlir::seq::kQ4Group;
  // Codes stand for c - middle; q8's are symmetric (-127 .. 127).
  const bool q8 = bits == 8;
  const double middle = 1 << (bits - 1), lowest = q8 ? middle - 127 : 0,
               highest = q8 ? middle + 127 : 2 * middle - 1;
  // A NaN or infinite weight: the group decodes to NaN, as the f32
  // product would give NaN (codes of 0: d · 0 is NaN too).
  if (!std::all_of(x, x + G, [](float v) { return std::isfinite(v); })) {
    std::fill(codes, codes + G, (uint8_t)middle);
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
    return std::clamp(std::floor((double)x[j] / div + 0.5) + middle, lowest,
                      highest);
  };
  auto exact = [&](float d) {
    for (int64_t j = 0; j < G; ++j) {
      double q = code(j, d);
      codes[j] = (uint8_t)q;
      if (d * (float)(q - middle) != x[j])
        return false;
    }
    return true;
  };
  // q8's scales are positive: |m| / k.
  float m = q8 ? std::fabs(x[at]) : x[at];
  auto scale = [&](int k) { return halfToFloat(floatToHalf(m / k)); };
  float standard = scale(q8 ? 127 : -(int)middle);
  if (exact(standard))
    return standard;
  for (int k = q8 ? 126 : (int)middle - 1; k >= 1; --k)
    for (int sign : {1, -1}) {
      if (q8 && sign < 0)
        continue;
      if (float d = scale(sign * k); d != 0 && exact(d))
        return d;
    }
  // Rounded: the standard codes, all of them.
  for (int64_t j = 0; j < G; ++j)
    codes[j] = (uint8_t)code(j, standard);
  return standard;
}

void BlobWriter::addGroups(std::string name, const std::vector<int64_t> &shape,
                           const std::vector<float> &values, uint64_t offset,
                           DType dtype) {
  constexpr int64_t G = mlir::seq::kQ4Group;
  int64_t cols = shape.back(), rows = cols ? values.size() / cols : 0;
  assert(cols % G == 0 && "group rows are whole groups (checkQ4Widths)");
  assert(!isSuperBlockType(dtype) && "addSuperBlocks' types");
  const int bits = groupBits(dtype);
  const bool q8 = bits == 8;
  std::vector<float> scales(rows * (cols / G));
  std::vector<uint8_t> codes(cols);
  // Bits 4 and 5 of the codes, [rows, cols / 8] each.
  std::vector<uint8_t> planes[2];
  for (int bit = 4; bit < bits && !q8; ++bit)
    planes[bit - 4].assign(rows * (cols / 8), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = values.data() + r * cols;
    for (int64_t g = 0; g < cols / G; ++g) {
      float d = quantizeGroup(row + g * G, codes.data() + g * G, bits);
      scales[r * (cols / G) + g] = d;
      if (std::isinf(d) && problem.empty()) {
        float m = 0;
        for (int64_t j = 0; j < G; ++j)
          m = std::max(m, std::fabs(row[g * G + j]));
        problem = llvm::formatv(
                      "--weights={0}: tensor '{1}' row {2} has a weight of "
                      "magnitude {3:e}, beyond what a group's f16 scale can "
                      "hold ({4} x 65504); use --weights=int8, fp16 or fp32",
                      dtypeName(dtype), name, r, m, q8 ? 127 : 1 << (bits - 1))
                      .str();
      }
    }
    size_t at = staging.size();
    if (q8) {
      staging.resize(at + cols);
      for (int64_t k = 0; k < cols; ++k)
        staging[at + k] = (uint8_t)(codes[k] - 128);
    } else {
      staging.resize(at + cols / 2);
      for (int64_t g = 0; g < cols / G; ++g)
        for (int64_t j = 0; j < G / 2; ++j)
          staging[at + g * (G / 2) + j] =
              (codes[g * G + j] & 15) | (codes[g * G + G / 2 + j] & 15) << 4;
      for (int bit = 4; bit < bits; ++bit)
        for (int64_t k = 0; k < cols; ++k)
          planes[bit - 4][r * (cols / 8) + k / 8] |= ((codes[k] >> bit) & 1)
                                                     << (k % 8);
    }
    if (staging.size() >= kStagingBytes)
      flush();
  }
  flush();
  blob.entries.push_back({name, offset, {rows, q8 ? cols : cols / 2}, dtype});
  for (int bit = 4; bit < bits && !q8; ++bit)
    addBytes(name + ".bit" + std::to_string(bit), {rows, cols / 8},
             planes[bit - 4], DType::I8);
  add(name + ".scale", {rows, cols / G}, scales, DType::F16);
}

namespace {

/// GGML's type id of Q4_K blocks: f16 d, f16 dmin, 12 bytes of 6-bit
/// scales and minima of 8 sub-blocks, 128 bytes of nibbles.
constexpr uint32_t kGgmlQ4K = 12;
constexpr int64_t kQ4KBlockBytes = 144;
/// Q5_K's: as Q4_K's, with 32 bytes of fifth bits before the nibbles.
constexpr uint32_t kGgmlQ5K = 13;
constexpr uint32_t kGgmlQ3K = 11;
constexpr int64_t kQ3KBlockBytes = 110;
constexpr int64_t kQ5KBlockBytes = 176;

/// GGML's nearest_int: round half to even (|v| < 2^22).
int nearestInt(float v) { return (int)std::nearbyint(v); }

/// GGML's make_qkx2_quants for one sub-block of 32 values as Q4_K (nmax =
/// 15, rmin = -1, nstep = 20) and Q5_K (nmax = 31, rmin = -0.5, nstep =
/// 15) call it (rdelta = 0.1, squared errors), in f32 and in its order of
/// operations: the min-max grid, then nstep + 1 grids of slightly
/// different steps, each with the least-squares scale and minimum of its
/// codes (weighted by `w`), keeping the one of least weighted error.
/// Returns the scale and sets `theMin` (the minimum's magnitude, >= 0).
float makeQkx2Quants(const float *x, const float *w, uint8_t *L, float &theMin,
                     int nmax) {
  constexpr int n = 32;
  const int nstep = nmax == 15 ? 20 : 15;
  const float rmin = nmax == 15 ? -1.f : -0.5f, rdelta = 0.1f;
  float min = x[0], max = x[0], sumW = w[0], sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    sumW += w[i];
    sumX += w[i] * x[i];
  }
  if (min > 0)
    min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    theMin = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearestInt(iscale * (x[i] - min));
    L[i] = (uint8_t)std::max(0, std::min(nmax, l));
    float diff = scale * L[i] + min - x[i];
    bestError += w[i] * (diff * diff);
  }
  uint8_t aux[n];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sumL = 0, sumL2 = 0, sumXL = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::max(0, std::min(nmax, nearestInt(iscale * (x[i] - min))));
      aux[i] = (uint8_t)l;
      sumL += w[i] * l;
      sumL2 += w[i] * l * l;
      sumXL += w[i] * l * x[i];
    }
    float D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      float thisScale = (sumW * sumXL - sumX * sumL) / D;
      float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = thisScale * aux[i] + thisMin - x[i];
        error += w[i] * (diff * diff);
      }
      if (error < bestError) {
        std::copy(aux, aux + n, L);
        bestError = error;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  theMin = -min;
  return scale;
}

/// One super-block of `n` values (a multiple of 32, at most 256) as GGML's
/// quantize_row_q4_K_ref (codes up to `nmax` = 15; quantize_row_q5_K_ref:
/// 31) encodes it (llama.cpp's reference quantizer, in
/// f32): per sub-block makeQkx2Quants weighted by rms(x) + |x|; the 6-bit
/// scales and minima rounded against the largest of each (d = f16(max
/// scale / 63), dmin = f16(max min / 63)); then the codes again against
/// the rounded step and minimum. A short last super-block is encoded as if
/// padded with zeros (which change neither factor). A NaN or infinite
/// value makes d NaN (the block decodes to NaN, as the f32 product would
/// give NaN).
void encodeQ4KSuperBlock(const float *x, int64_t n, uint8_t *codes, uint8_t *sc,
                         uint8_t *m, float &d, float &dmin, int nmax) {
  constexpr int64_t G = mlir::seq::kQ4Group;
  int64_t subs = n / G;
  if (!std::all_of(x, x + n, [](float v) { return std::isfinite(v); })) {
    std::fill(codes, codes + n, 0);
    std::fill(sc, sc + subs, 0);
    std::fill(m, m + subs, 0);
    d = std::numeric_limits<float>::quiet_NaN();
    dmin = 0;
    return;
  }
  float scales[8], mins[8], maxScale = 0, maxMin = 0, weights[G];
  for (int64_t j = 0; j < subs; ++j) {
    const float *sub = x + j * G;
    float sumX2 = 0;
    for (int64_t l = 0; l < G; ++l)
      sumX2 += sub[l] * sub[l];
    float avX = std::sqrt(sumX2 / 32);
    for (int64_t l = 0; l < G; ++l)
      weights[l] = avX + std::fabs(sub[l]);
    scales[j] = makeQkx2Quants(sub, weights, codes + j * G, mins[j], nmax);
    maxScale = std::max(maxScale, scales[j]);
    maxMin = std::max(maxMin, mins[j]);
  }
  float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
  float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
  for (int64_t j = 0; j < subs; ++j) {
    sc[j] =
        (uint8_t)std::min(63, (int)(uint8_t)nearestInt(invScale * scales[j]));
    m[j] = (uint8_t)std::min(63, (int)(uint8_t)nearestInt(invMin * mins[j]));
  }
  d = halfToFloat(floatToHalf(maxScale / 63.f));
  dmin = halfToFloat(floatToHalf(maxMin / 63.f));
  for (int64_t j = 0; j < subs; ++j) {
    float step = d * sc[j];
    if (!step)
      continue; // The sub-block's values are -dmin m whatever its codes.
    float offset = dmin * m[j];
    for (int64_t l = 0; l < G; ++l)
      codes[j * G + l] = (uint8_t)std::max(
          0, std::min(nmax, nearestInt((x[j * G + l] + offset) / step)));
  }
}

/// One Q4_K block (144 bytes; `q5`: a Q5_K block, 176 bytes) decoded into
/// its codes (256, in value order), sub-block scales and minima (8 each)
/// and factors.
void readQ4KBlock(const uint8_t *block, uint8_t *codes, uint8_t *sc, uint8_t *m,
                  float &d, float &dmin, bool q5) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  d = halfToFloat(h);
  std::memcpy(&h, block + 2, 2);
  dmin = halfToFloat(h);
  const uint8_t *s = block + 4, *qh = block + 16, *qs = block + (q5 ? 48 : 16);
  // GGML's get_scale_min_k4.
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = s[j] & 63;
      m[j] = s[j + 4] & 63;
    } else {
      sc[j] = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
      m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
  }
  // Each 64 values: 32 bytes, value l in the low nibbles, 32 + l in the
  // high ones.
  // high ones. Q5_K: their fifth bits in bits 2c and 2c + 1 of 32 bytes.
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      codes[64 * c + l] = qs[32 * c + l] & 15;
      codes[64 * c + 32 + l] = qs[32 * c + l] >> 4;
      if (q5) {
        codes[64 * c + l] |= ((qh[l] >> (2 * c)) & 1) << 4;
        codes[64 * c + 32 + l] |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
    }
}

/// GGML's type id of Q6_K blocks: 128 bytes of bits 0..3, 64 of bits 4..5,
/// 16 int8 scales of sub-blocks of 16, f16 d.
constexpr uint32_t kGgmlQ6K = 14;
constexpr int64_t kQ6KBlockBytes = 210;

/// GGML's make_qx_quants for one sub-block of 16 values as Q6_K calls it
/// (n = 16, nmax = 32, rmse_type 1: weights x², no importance), in f32 and
/// in its order of operations: the grid whose extreme code is the value of
/// largest magnitude, then 18 grids of slightly different steps, keeping
/// the one of largest (Σ w x l)² / Σ w l² with its least-squares scale.
/// Writes the codes (l + 32) and returns the scale.
float makeQxQuants(const float *x, uint8_t *L) {
  constexpr int n = 16, nmax = 32;
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (float ax = std::fabs(x[i]); ax > amax) {
      amax = ax;
      max = x[i];
    }
  if (amax < 1e-15f) { // GGML's GROUP_MAX_EPS
    std::fill(L, L + n, 0);
    return 0.f;
  }
  auto code = [&](float iscale, int i) {
    return std::max(-nmax, std::min(nmax - 1, nearestInt(iscale * x[i])));
  };
  float iscale = -nmax / max, sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = code(iscale, i);
    L[i] = (uint8_t)(l + nmax);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0)
      continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = code(iscale, i);
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = (uint8_t)(nmax + code(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/// One super-block of `n` values (a multiple of 32, at most 256) as GGML's
/// quantize_row_q6_K_ref encodes it (in f32): per sub-block of 16
/// makeQxQuants; the int8 scales rounded against the largest in magnitude
/// (d = f16(-max / 128), sc = min(127, round(-128 sc / max))); then the
/// codes again against each rounded step d sc. A short last super-block is
/// encoded as if padded with zeros (which change no scale). A NaN or
/// infinite value makes d NaN (the block decodes to NaN).
void encodeQ6KSuperBlock(const float *x, int64_t n, uint8_t *codes, int8_t *sc,
                         float &d) {
  constexpr int64_t G = mlir::seq::kQ6KSubBlock;
  int64_t subs = n / G;
  if (!std::all_of(x, x + n, [](float v) { return std::isfinite(v); })) {
    std::fill(codes, codes + n, 32);
    std::fill(sc, sc + subs, 1);
    d = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  float scales[16], maxScale = 0, maxAbsScale = 0;
  for (int64_t j = 0; j < subs; ++j) {
    scales[j] = makeQxQuants(x + j * G, codes + j * G);
    if (std::fabs(scales[j]) > maxAbsScale) {
      maxAbsScale = std::fabs(scales[j]);
      maxScale = scales[j];
    }
  }
  if (maxAbsScale < 1e-15f) { // An all-zero block.
    std::fill(codes, codes + n, 0);
    std::fill(sc, sc + subs, 0);
    d = 0;
    return;
  }
  float iscale = -128.f / maxScale;
  d = halfToFloat(floatToHalf(1 / iscale));
  for (int64_t j = 0; j < subs; ++j)
    sc[j] = (int8_t)std::min(127, nearestInt(iscale * scales[j]));
  for (int64_t j = 0; j < subs; ++j) {
    float step = d * sc[j];
    if (!step)
      continue;
    for (int64_t l = 0; l < G; ++l)
      codes[j * G + l] =
          (uint8_t)(32 + std::max(-32, std::min(31, nearestInt(x[j * G + l] /
                                                               step))));
  }
}

/// One Q6_K block (210 bytes) decoded into its codes (256, in value order,
/// 0..63), sub-block scales (16) and factor.
void readQ6KBlock(const uint8_t *block, uint8_t *codes, int8_t *sc, float &d) {
  const uint8_t *ql = block, *qh = block + 128;
  std::memcpy(sc, block + 192, 16);
  uint16_t h;
  std::memcpy(&h, block + 208, 2);
  d = halfToFloat(h);
  // Each 128 values: 64 bytes of bits 0..3 (value l and 64 + l in byte l's
  // nibbles, 32 + l and 96 + l in byte 32 + l's), 32 bytes of bits 4..5
  // (byte l: values l, 32 + l, 64 + l, 96 + l, two bits each).
  for (int c = 0; c < 2; ++c, ql += 64, qh += 32)
    for (int l = 0; l < 32; ++l)
      for (int q = 0; q < 4; ++q)
        codes[128 * c + 32 * q + l] =
            ((ql[l + 32 * (q % 2)] >> (4 * (q / 2))) & 15) |
            ((qh[l] >> (2 * q)) & 3) << 4;
}

/// A super-block format's encoding: the codes (value order, `bits` bits)
/// and, per sub-block of `sub` channels, `tables` bytes; per super-block,
/// `factors` floats.
struct SuperBlockCodec {
  uint32_t ggmlId;
  int64_t blockBytes, sub;
  int bits, tables, factors;
  /// GGML's block `block` (its file bytes), or `n` values, into `codes`,
  /// the sub-blocks' entries of `table[i]` and `factor[i]`.
  void (*read)(const uint8_t *block, uint8_t *codes, uint8_t *table[2],
               float *factor[2], int bits);
  void (*encode)(const float *x, int64_t n, uint8_t *codes, uint8_t *table[2],
                 float *factor[2], int bits);
  const char *suffixes[2][2]; // {tables, factors}
  /// The largest magnitude the f16 factors can hold, for the error.
  const char *limit;
  /// Another GGML type whose blocks `readAlso` turns into this format's
  /// exactly (q6k: Q3_K), or none.
  uint32_t alsoId = 0;
  int64_t alsoBlockBytes = 0;
  void (*readAlso)(const uint8_t *block, uint8_t *codes, uint8_t *table[2],
                   float *factor[2], int bits) = nullptr;
};

/// q4k and q5k: Q4_K's and Q5_K's scales and minima (codes of 4 or 5 bits).
void readMinimaBlock(const uint8_t *block, uint8_t *codes, uint8_t *t[2],
                     float *f[2], int bits) {
  readQ4KBlock(block, codes, t[0], t[1], *f[0], *f[1], bits == 5);
}
void encodeMinimaBlock(const float *x, int64_t n, uint8_t *codes, uint8_t *t[2],
                       float *f[2], int bits) {
  encodeQ4KSuperBlock(x, n, codes, t[0], t[1], *f[0], *f[1], (1 << bits) - 1);
}

/// A Q3_K block as Q6_K's codes (q + 32), scales and factor: the same values.
void readQ3KAsQ6K(const uint8_t *block, uint8_t *codes, uint8_t *t[2],
                  float *f[2], int) {
  int8_t q[mlir::seq::kQ4KSuperBlock];
  readQ3KBlock(block, q, (int8_t *)t[0], *f[0]);
  for (int64_t v = 0; v < mlir::seq::kQ4KSuperBlock; ++v)
    codes[v] = (uint8_t)(q[v] + 32);
}

SuperBlockCodec codecOf(DType dtype) {
  if (dtype == DType::Q6K) {
    SuperBlockCodec codec = {
        kGgmlQ6K,
        kQ6KBlockBytes,
        mlir::seq::kQ6KSubBlock,
        6,
        1,
        1,
        [](const uint8_t *block, uint8_t *codes, uint8_t *t[2], float *f[2],
           int) { readQ6KBlock(block, codes, (int8_t *)t[0], *f[0]); },
        [](const float *x, int64_t n, uint8_t *codes, uint8_t *t[2],
           float *f[2],
           int) { encodeQ6KSuperBlock(x, n, codes, (int8_t *)t[0], *f[0]); },
        {{".scale", nullptr}, {".d", nullptr}},
        "32 x 128 x 65504"};
    codec.alsoId = kGgmlQ3K;
    codec.alsoBlockBytes = kQ3KBlockBytes;
    codec.readAlso = readQ3KAsQ6K;
    return codec;
  }
  bool q5 = dtype == DType::Q5K;
  return {q5 ? kGgmlQ5K : kGgmlQ4K,
          q5 ? kQ5KBlockBytes : kQ4KBlockBytes,
          mlir::seq::kQ4Group,
          q5 ? 5 : 4,
          2,
          2,
          readMinimaBlock,
          encodeMinimaBlock,
          {{".scale", ".min"}, {".d", ".dmin"}},
          q5 ? "31 x 63 x 65504" : "15 x 63 x 65504"};
}

} // namespace

void BlobWriter::addSuperBlocks(std::string name,
                                const std::vector<int64_t> &shape,
                                const std::vector<float> &values,
                                const Tensor *source, DType dtype) {
  constexpr int64_t G = mlir::seq::kQ4Group, S = mlir::seq::kQ4KSuperBlock;
  const SuperBlockCodec codec = codecOf(dtype);
  int64_t cols = shape.back(), rows = cols ? values.size() / cols : 0;
  assert(cols % G == 0 && "super-block rows are whole groups (checkQ4Widths)");
  int64_t subs = cols / codec.sub, supers = llvm::divideCeil(cols, S);
  // The file's own blocks: a tensor of the format's GGML type (or, for
  // q6k, of Q3_K, whose values Q6_K holds exactly) and of these
  // rows (blocks run along the last axis), unscaled or scaled by a power of
  // two (Checkpoint::scale: the factors take it, exactly unless they
  // overflow, which the check below reports).
  int exponent = 0;
  bool exact = source && std::frexp(source->scale, &exponent) == 0.5f;
  uint32_t id = source && source->blocks ? source->blocks->id : 0;
  bool also = codec.readAlso && id == codec.alsoId;
  int64_t blockBytes = also ? codec.alsoBlockBytes : codec.blockBytes;
  bool blocks =
      exact && (id == codec.ggmlId || also) && source->shape.back() == cols &&
      source->numElements() == rows * cols &&
      source->bytes.size() == (uint64_t)rows * (cols / S) * blockBytes;
  std::vector<uint8_t> tables[2];
  std::vector<float> factors[2];
  for (int i = 0; i < codec.tables; ++i)
    tables[i].assign(rows * subs, 0);
  for (int i = 0; i < codec.factors; ++i)
    factors[i].assign(rows * supers, 0);
  // Bits 4 and 5 of the codes, [rows, cols / 8] each.
  std::vector<uint8_t> planes[2];
  for (int bit = 4; bit < codec.bits; ++bit)
    planes[bit - 4].assign(rows * (cols / 8), 0);
  blob.pad(64);
  uint64_t offset = blob.size;
  // Rows in chunks, each chunk's rows on all threads (llama.cpp's searches
  // cost about 0.1 us a weight): every row writes only its own codes,
  // tables and factors, so the bytes do not depend on the threads.
  constexpr int64_t kChunkRows = 64;
  std::vector<uint8_t> packed;
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    int64_t r1 = std::min(rows, r0 + kChunkRows);
    packed.assign((r1 - r0) * (cols / 2), 0);
    llvm::parallelFor(r0, r1, [&](int64_t r) {
      uint8_t codes[S];
      for (int64_t s = 0; s < supers; ++s) {
        int64_t n = std::min(S, cols - s * S), at = r * supers + s;
        uint8_t *t[2];
        float *f[2];
        for (int i = 0; i < codec.tables; ++i)
          t[i] = &tables[i][r * subs + s * (S / codec.sub)];
        for (int i = 0; i < codec.factors; ++i)
          f[i] = &factors[i][at];
        if (blocks) {
          (also ? codec.readAlso : codec.read)(
              source->bytes.data() + at * blockBytes, codes, t, f, codec.bits);
          for (int i = 0; i < codec.factors; ++i)
            *f[i] = std::ldexp(*f[i], exponent - 1);
        } else
          codec.encode(values.data() + r * cols + s * S, n, codes, t, f,
                       codec.bits);
        // The q4 layout: per group of 32, 16 bytes, channel j in the low
        // nibble, 16 + j in the high one; higher bits in their planes.
        uint8_t *out = &packed[(r - r0) * (cols / 2) + s * (S / 2)];
        for (int64_t g = 0; g < n / G; ++g)
          for (int64_t j = 0; j < G / 2; ++j)
            out[g * (G / 2) + j] =
                (codes[g * G + j] & 15) | (codes[g * G + G / 2 + j] & 15) << 4;
        for (int bit = 4; bit < codec.bits; ++bit)
          for (int64_t k = 0; k < n; ++k)
            planes[bit - 4][r * (cols / 8) + (s * S + k) / 8] |=
                ((codes[k] >> bit) & 1) << (k % 8);
      }
    });
    for (int64_t r = r0; r < r1 && problem.empty(); ++r)
      for (int64_t at = r * supers; at < (r + 1) * supers; ++at)
        if (std::isinf(factors[0][at]) ||
            (codec.factors > 1 && std::isinf(factors[1][at]))) {
          problem =
              llvm::formatv("--weights={0}: tensor '{1}' row {2} has weights "
                            "beyond what a super-block's f16 factors can hold "
                            "({3}); use --weights=int8, fp16 or fp32",
                            dtypeName(dtype), name, r, codec.limit)
                  .str();
          break;
        }
    staging.insert(staging.end(), packed.begin(), packed.end());
    if (staging.size() >= kStagingBytes)
      flush();
  }
  flush();
  blob.entries.push_back({name, offset, {rows, cols / 2}, dtype});
  for (int bit = 4; bit < codec.bits; ++bit)
    addBytes(name + ".bit" + std::to_string(bit), {rows, cols / 8},
             planes[bit - 4], DType::I8);
  for (int i = 0; i < codec.tables; ++i)
    addBytes(name + codec.suffixes[0][i], {rows, subs}, tables[i], DType::I8);
  for (int i = 0; i < codec.factors; ++i)
    add(name + codec.suffixes[1][i], {rows, supers}, factors[i], DType::F16);
}
