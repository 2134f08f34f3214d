//===- Checkpoint.cpp - tensors from .pth and safetensors files -----------===//

#include "seqc/Import/Checkpoint.h"

#include "seqc/Support/CheckedMath.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#if LLVM_ON_UNIX
#include <sys/mman.h>
#endif

using namespace seqc;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

StringRef seqc::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I8:
    return "i8";
  case DType::Q4:
    return "q4";
  case DType::Q5:
    return "q5";
  case DType::Q6:
    return "q6";
  case DType::Q8:
    return "q8";
  case DType::Q4K:
    return "q4k";
  case DType::Q5K:
    return "q5k";
  case DType::Q6K:
    return "q6k";
  }
  return "?";
}

unsigned seqc::dtypeSize(DType dtype) {
  if (dtype == DType::F32)
    return 4;
  return dtype == DType::F16 || dtype == DType::BF16 ? 2 : 1;
}

float seqc::halfToFloat(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // Subnormal: normalize.
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float seqc::bfloat16ToFloat(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t seqc::floatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) // Inf or NaN.
    return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);
  if (absx >= 0x477ff000) // Rounds to a value beyond the largest half.
    return sign | 0x7c00;
  if (absx < 0x38800000) { // Subnormal half (or zero).
    int shift = 113 - (int)(absx >> 23);
    if (shift > 11) // Below 2^-25: rounds to zero (and would shift by 32+).
      return sign;
    uint32_t mant = (absx & 0x7fffff) | 0x800000;
    uint32_t half = mant >> (shift + 13);
    uint32_t rem = mant & ((1u << (shift + 13)) - 1);
    uint32_t mid = 1u << (shift + 12);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return sign | half;
  }
  uint32_t half = ((absx >> 13) - ((127 - 15) << 10));
  uint32_t rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
    ++half;
  return sign | half;
}

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

int64_t Tensor::numElements() const {
  return checkedProduct(shape).value_or(-1);
}

std::optional<uint64_t> Tensor::expectedBytes() const {
  std::optional<int64_t> n = checkedProduct(shape);
  if (!n)
    return std::nullopt;
  if (!blocks)
    return checkedMul((uint64_t)*n, (uint64_t)dtypeSize(dtype));
  if (*n % blocks->values != 0)
    return std::nullopt;
  return checkedMul((uint64_t)(*n / blocks->values), (uint64_t)blocks->bytes);
}

std::string Tensor::describe() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "] " + (blocks ? blocks->name : dtypeName(dtype).str());
}

//===----------------------------------------------------------------------===//
// GGML block-quantized types, decoded as llama.cpp's dequantize_row_* do
//===----------------------------------------------------------------------===//

static const GgmlBlockType kGgmlTypes[] = {
    {2, "q4_0", 32, 18},    {3, "q4_1", 32, 20},    {6, "q5_0", 32, 22},
    {7, "q5_1", 32, 24},    {8, "q8_0", 32, 34},    {10, "q2_K", 256, 84},
    {11, "q3_K", 256, 110}, {12, "q4_K", 256, 144}, {13, "q5_K", 256, 176},
    {14, "q6_K", 256, 210}};

const GgmlBlockType *seqc::ggmlBlockType(uint32_t id) {
  for (const GgmlBlockType &t : kGgmlTypes)
    if (t.id == id)
      return &t;
  return nullptr;
}

std::string seqc::ggmlBlockTypeNames() {
  std::string s;
  for (const GgmlBlockType &t : kGgmlTypes)
    s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

static float f16At(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}

/// Sub-block j's 6-bit scale and min of a K-type super-block
/// (get_scale_min_k4).
static void scaleMinK4(int j, const uint8_t *q, int &sc, int &m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

/// The 2-bit codes of a q2_K or q3_K block (`qs`, 64 bytes) in value order:
/// value 128 n + 32 j + l (l < 32) at bits 2j of byte 32 n + l
/// (dequantize_row_q2_K, _q3_K).
static void codes2(const uint8_t *qs, int8_t *q) {
  for (int n = 0; n < 2; ++n)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l)
        q[128 * n + 32 * j + l] = (qs[32 * n + l] >> (2 * j)) & 3;
}

void seqc::readQ2KBlock(const uint8_t *p, int8_t *q, int8_t *sc, uint8_t *mins,
                        float &d, float &dmin) {
  for (int i = 0; i < 16; ++i) {
    sc[i] = p[i] & 0xF;
    mins[i] = p[i] >> 4;
  }
  codes2(p + 16, q);
  d = f16At(p + 80);
  dmin = f16At(p + 82);
}

void seqc::readQ3KBlock(const uint8_t *p, int8_t *q, int8_t *sc, float &d) {
  const uint8_t *hm = p, *s = p + 96;
  // The 6-bit scales: low nibbles in bytes 0..7 (scale k and 8 + k in byte
  // k, 4 + k and 12 + k in byte 4 + k), high pairs in bytes 8..11.
  for (int k = 0; k < 4; ++k) {
    sc[k] = (s[k] & 0xF) | ((s[8 + k] >> 0) & 3) << 4;
    sc[4 + k] = (s[4 + k] & 0xF) | ((s[8 + k] >> 2) & 3) << 4;
    sc[8 + k] = (s[k] >> 4) | ((s[8 + k] >> 4) & 3) << 4;
    sc[12 + k] = (s[4 + k] >> 4) | ((s[8 + k] >> 6) & 3) << 4;
  }
  for (int i = 0; i < 16; ++i)
    sc[i] -= 32;
  codes2(p + 32, q);
  // 4 is subtracted where the high bit (bit 4 n + j of byte l) is clear.
  for (int n = 0; n < 2; ++n)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l)
        if (!(hm[l] >> (4 * n + j) & 1))
          q[128 * n + 32 * j + l] -= 4;
  d = f16At(p + 108);
}

/// Decodes one block of type `t` at `p` into `y` (t.values floats).
static void decodeBlock(const GgmlBlockType &t, const uint8_t *p, float *y) {
  switch (t.id) {
  case 2: // q4_0: d, 16 bytes of nibbles (value j low, j + 16 high).
  case 3: // q4_1: d, m, nibbles.
  {
    float d = f16At(p), m = t.id == 3 ? f16At(p + 2) : -8.0f * d;
    const uint8_t *qs = p + (t.id == 3 ? 4 : 2);
    for (int j = 0; j < 16; ++j) {
      y[j] = (qs[j] & 0xF) * d + m;
      y[j + 16] = (qs[j] >> 4) * d + m;
    }
    return;
  }
  case 6: // q5_0: d, u32 fifth bits, nibbles.
  case 7: // q5_1: d, m, u32 fifth bits, nibbles.
  {
    float d = f16At(p), m = t.id == 7 ? f16At(p + 2) : -16.0f * d;
    const uint8_t *rest = p + (t.id == 7 ? 4 : 2);
    uint32_t qh;
    std::memcpy(&qh, rest, 4);
    const uint8_t *qs = rest + 4;
    for (int j = 0; j < 16; ++j) {
      int x0 = (qs[j] & 0xF) | (((qh >> j) << 4) & 0x10);
      int x1 = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    }
    return;
  }
  case 8: { // q8_0: d, 32 int8.
    float d = f16At(p);
    for (int j = 0; j < 32; ++j)
      y[j] = (int8_t)p[2 + j] * d;
    return;
  }
  case 12: // q4_K: d, dmin, 12 bytes of scales, 128 bytes of nibbles.
  case 13: // q5_K: the same with 32 bytes of fifth bits before the nibbles.
  {
    float d = f16At(p), dmin = f16At(p + 2);
    const uint8_t *scales = p + 4, *qh = p + 16;
    const uint8_t *q = p + (t.id == 13 ? 48 : 16);
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
      int sc, m;
      scaleMinK4(is, scales, sc, m);
      float d1 = d * sc, m1 = dmin * m;
      scaleMinK4(is + 1, scales, sc, m);
      float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) {
        int hi1 = t.id == 13 && (qh[l] & u1) ? 16 : 0;
        int hi2 = t.id == 13 && (qh[l] & u2) ? 16 : 0;
        y[j + l] = d1 * ((q[l] & 0xF) + hi1) - m1;
        y[j + 32 + l] = d2 * ((q[l] >> 4) + hi2) - m2;
      }
      q += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
    return;
  }
  case 10:   // q2_K: 16 bytes of 4-bit scales and mins, 64 bytes of 2-bit
             // codes, d, dmin.
  case 11: { // q3_K: 32 bytes of high bits, 64 bytes of 2-bit codes, 12
             // bytes of 6-bit scales, d.
    int8_t sc[16], q[256];
    float d, dmin = 0;
    uint8_t mins[16] = {};
    if (t.id == 10) {
      readQ2KBlock(p, q, sc, mins, d, dmin);
    } else {
      readQ3KBlock(p, q, sc, d);
    }
    for (int v = 0; v < 256; ++v)
      y[v] = d * sc[v / 16] * q[v] - dmin * mins[v / 16];
    return;
  }
  case 14: { // q6_K: 128 bytes low nibbles, 64 bytes 2-bit highs, 16 int8
             // scales, d.
    const uint8_t *ql = p, *qh = p + 128;
    const int8_t *sc = (const int8_t *)(p + 192);
    float d = f16At(p + 208);
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        int is = l / 16;
        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[n + l] = d * sc[is] * q1;
        y[n + l + 32] = d * sc[is + 2] * q2;
        y[n + l + 64] = d * sc[is + 4] * q3;
        y[n + l + 96] = d * sc[is + 6] * q4;
      }
      ql += 64;
      qh += 32;
      sc += 8;
    }
    return;
  }
  }
}

static void applyScale(float scale, std::vector<float> &values) {
  if (scale != 1.0f)
    for (float &x : values)
      x *= scale;
}

std::vector<float> Tensor::toF32() const {
  // Checkpoint::add admits only tensors whose bytes match their shape; a
  // tensor that does not (built by hand) converts to nothing rather than
  // reading past its bytes.
  std::optional<uint64_t> size = expectedBytes();
  if (!size || *size != bytes.size())
    return {};
  int64_t n = numElements();
  std::vector<float> out(n);
  const uint8_t *p = bytes.data();
  if (blocks) {
    // Blocks run along the rows (the reader checked that they divide them).
    for (int64_t b = 0; b < n / blocks->values; ++b)
      decodeBlock(*blocks, p + b * blocks->bytes,
                  out.data() + b * blocks->values);
    applyScale(scale, out);
    return out;
  }
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
    case DType::F32:
      std::memcpy(&out[i], p + 4 * i, 4);
      break;
    case DType::F16:
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = dtype == DType::F16 ? halfToFloat(h) : bfloat16ToFloat(h);
      break;
    }
    case DType::I8:
      out[i] = (float)(int8_t)p[i];
      break;
    case DType::Q4: // Written by the importers only, never read.
    case DType::Q5:
    case DType::Q6:
    case DType::Q8:
    case DType::Q4K:
    case DType::Q5K:
    case DType::Q6K:
      llvm_unreachable("no checkpoint tensor is in a group format");
    }
  }
  applyScale(scale, out);
  return out;
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

Checkpoint::Checkpoint(std::string path, std::string format,
                       std::unique_ptr<llvm::MemoryBuffer> buffer)
    : path_(std::move(path)), format_(std::move(format)),
      buffer_(std::move(buffer)) {}

llvm::ArrayRef<uint8_t> Checkpoint::contents() const {
  return {reinterpret_cast<const uint8_t *>(buffer_->getBufferStart()),
          buffer_->getBufferSize()};
}

const Tensor *Checkpoint::find(StringRef name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

llvm::Error Checkpoint::add(Tensor tensor) {
  std::string name = tensor.name;
  // Every reader checks its own header; this is the one rule they all share,
  // kept here so that no tensor can describe more bytes than it points at or
  // point outside the file (toF32 and the importers rely on it).
  auto bad = [&](const llvm::Twine &msg) {
    return llvm::createStringError(path_ + ": tensor '" + name + "': " + msg);
  };
  std::optional<uint64_t> size = tensor.expectedBytes();
  if (!size)
    return bad("shape " + tensor.describe() +
               " has a negative size or more elements than fit in 64 bits");
  if (*size != tensor.bytes.size())
    return bad(tensor.describe() + " needs " + llvm::Twine(*size) +
               " bytes, but the file gives it " +
               llvm::Twine(tensor.bytes.size()));
  llvm::ArrayRef<uint8_t> all = contents();
  if (!tensor.bytes.empty() && (tensor.bytes.data() < all.data() ||
                                !rangeInside(tensor.bytes.data() - all.data(),
                                             tensor.bytes.size(), all.size())))
    return bad("data lies outside the file");
  if (!tensors_.try_emplace(name, std::move(tensor)).second)
    return llvm::createStringError("%s: tensor '%s' appears twice",
                                   path_.c_str(), name.c_str());
  order_.push_back(name);
  return llvm::Error::success();
}

void Checkpoint::rename(StringRef from, StringRef to) {
  auto it = tensors_.find(from);
  if (it == tensors_.end() || from == to)
    return;
  Tensor t = std::move(it->second);
  tensors_.erase(it);
  t.name = to.str();
  tensors_[to] = std::move(t);
  for (std::string &n : order_)
    if (n == from)
      n = to.str();
}

void Checkpoint::setOwned(StringRef name, std::vector<int64_t> shape,
                          std::vector<float> values) {
  owned_.push_back(std::make_unique<std::vector<float>>(std::move(values)));
  const std::vector<float> &data = *owned_.back();
  Tensor t;
  t.name = name.str();
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.bytes = {reinterpret_cast<const uint8_t *>(data.data()),
             data.size() * sizeof(float)};
  assert(t.expectedBytes() && *t.expectedBytes() == t.bytes.size() &&
         "setOwned: values do not match the shape");
  if (!tensors_.count(name))
    order_.push_back(name.str());
  tensors_[name] = std::move(t);
}

void Checkpoint::releasePages(const Tensor &tensor) const {
#if LLVM_ON_UNIX
  // Only a mapped file: the pages of a buffer in memory are its contents.
  if (buffer_->getBufferKind() != llvm::MemoryBuffer::MemoryBuffer_MMap ||
      tensor.bytes.empty())
    return;
  llvm::ArrayRef<uint8_t> all = contents();
  if (tensor.bytes.data() < all.data() ||
      tensor.bytes.end() > all.data() + all.size())
    return; // Owned (setOwned): not in the file.
  // The mapping starts on a page and covers whole pages; a page the tensor
  // shares with a neighbour is read again if the neighbour is.
  uintptr_t page = llvm::sys::Process::getPageSizeEstimate();
  uintptr_t begin =
                reinterpret_cast<uintptr_t>(tensor.bytes.data()) & ~(page - 1),
            end = llvm::alignTo(reinterpret_cast<uintptr_t>(tensor.bytes.end()),
                                page);
  begin = std::max(begin, reinterpret_cast<uintptr_t>(all.data()));
  if (begin % page == 0 && end > begin)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
#else
  (void)tensor;
#endif
}

void Checkpoint::scale(StringRef name, float factor) {
  auto it = tensors_.find(name);
  if (it != tensors_.end())
    it->second.scale *= factor;
}

void Checkpoint::erase(StringRef name) {
  if (!tensors_.erase(name))
    return;
  llvm::erase(order_, name.str());
}

llvm::Expected<std::unique_ptr<Checkpoint>> Checkpoint::open(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError("%s: cannot open: %s", path.str().c_str(),
                                   buffer.getError().message().c_str());
  return fromBuffer(path, std::move(*buffer));
}

llvm::Expected<std::unique_ptr<Checkpoint>>
Checkpoint::fromBuffer(StringRef path,
                       std::unique_ptr<llvm::MemoryBuffer> buffer) {
  StringRef data = buffer->getBuffer();
  // A zip archive starts with a local file header ("PK\3\4"); a safetensors
  // file with the 8-byte length of its JSON header, followed by '{'.
  std::string format;
  if (data.starts_with("PK\x03\x04"))
    format = "pth";
  else if (data.starts_with("GGUF"))
    format = "gguf";
  else if (data.size() >= 9 && data[8] == '{')
    format = "safetensors";
  else if (data.size() >= 2 && (uint8_t)data[0] == 0x80)
    return llvm::createStringError(
        "%s: a legacy (pre-1.6, non-zip) torch.save file; re-save it with "
        "torch.save(state_dict, path) from PyTorch 1.6 or later",
        path.str().c_str());
  else
    return llvm::createStringError(
        "%s: neither a torch.save zip archive, a safetensors nor a GGUF file",
        path.str().c_str());
  auto ckpt =
      std::make_unique<Checkpoint>(path.str(), format, std::move(buffer));
  llvm::Error err = format == "pth"    ? readTorchArchive(*ckpt)
                    : format == "gguf" ? readGguf(*ckpt)
                                       : readSafetensors(*ckpt);
  if (err)
    return std::move(err);
  if (ckpt->names().empty())
    return llvm::createStringError("%s: the checkpoint holds no tensors",
                                   path.str().c_str());
  return std::move(ckpt);
}
