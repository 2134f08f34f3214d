//===- Gguf.cpp - GGUF files (llama.cpp)
//-----------------------------------===//
//
// Layout (little-endian, version 2 or 3): "GGUF", u32 version, u64 tensor
// count, u64 metadata count; metadata entries (string key, u32 type, value;
// strings are u64 length + bytes; arrays are u32 element type, u64 count,
// elements); tensor infos (string name, u32 dims, u64 ne[dims] with ne[0]
// the fastest-varying, u32 type, u64 offset); then, at the next multiple of
// general.alignment (default 32), the data. As llama.cpp requires, each
// tensor starts where the previous one ends, padded to the alignment (so
// offsets are aligned and tensors neither overlap nor leave holes). Scalar
// metadata is kept as text;
// arrays (the tokenizer's) are skipped. Tensors are F32, F16, BF16 or one of
// GGML's block-quantized types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K (decoded to f32 when the importer reads them, then stored in the
// weight format seqc compiles for); other types are refused by number.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/Checkpoint.h"

#include "seqc/Support/CheckedMath.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace seqc;
using llvm::StringRef;

namespace {

class Reader {
public:
  Reader(Checkpoint &ckpt, llvm::ArrayRef<uint8_t> data)
      : ckpt(ckpt), data(data) {}

  llvm::Error fail(const llvm::Twine &msg) {
    return llvm::createStringError(ckpt.path() + ": GGUF: offset " +
                                   llvm::Twine(at) + ": " + msg);
  }

  bool need(uint64_t n) { return n <= data.size() - at; }

  template <typename T> llvm::Expected<T> read() {
    if (!need(sizeof(T)))
      return fail("truncated");
    T v;
    std::memcpy(&v, data.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }

  llvm::Expected<std::string> string() {
    auto n = read<uint64_t>();
    if (!n)
      return n.takeError();
    if (!need(*n))
      return fail("string of " + llvm::Twine(*n) + " bytes runs past the end");
    std::string s((const char *)data.data() + at, *n);
    at += *n;
    return s;
  }

  /// Reads a value of GGUF type `type`; scalars come back as text.
  llvm::Expected<std::string> value(uint32_t type, int depth = 0) {
    auto num = [&](auto v) -> llvm::Expected<std::string> {
      if (!v)
        return v.takeError();
      return llvm::formatv("{0}", *v).str();
    };
    switch (type) {
    case 0:
      return num(read<uint8_t>());
    case 1:
      return num(read<int8_t>());
    case 2:
      return num(read<uint16_t>());
    case 3:
      return num(read<int16_t>());
    case 4:
      return num(read<uint32_t>());
    case 5:
      return num(read<int32_t>());
    case 6: {
      auto v = read<float>();
      if (!v)
        return v.takeError();
      return llvm::formatv("{0:e9}", (double)*v).str();
    }
    case 7:
      return num(read<uint8_t>());
    case 8:
      return string();
    case 9: {
      if (depth > 2)
        return fail("arrays nested too deeply");
      auto elt = read<uint32_t>();
      if (!elt)
        return elt.takeError();
      auto n = read<uint64_t>();
      if (!n)
        return n.takeError();
      for (uint64_t i = 0; i < *n; ++i) {
        auto v = value(*elt, depth + 1);
        if (!v)
          return v.takeError();
      }
      return std::string("[array]");
    }
    case 10:
      return num(read<uint64_t>());
    case 11:
      return num(read<int64_t>());
    case 12: {
      auto v = read<double>();
      if (!v)
        return v.takeError();
      return llvm::formatv("{0:e17}", *v).str();
    }
    default:
      return fail("unknown metadata value type " + llvm::Twine(type));
    }
  }

  llvm::Error run() {
    if (data.size() < 4 || std::memcmp(data.data(), "GGUF", 4) != 0)
      return fail("not a GGUF file");
    at = 4;
    auto version = read<uint32_t>();
    if (!version)
      return version.takeError();
    if (*version != 2 && *version != 3)
      return fail("version " + llvm::Twine(*version) +
                  " is not supported (2 and 3 are)");
    auto tensors = read<uint64_t>();
    if (!tensors)
      return tensors.takeError();
    auto entries = read<uint64_t>();
    if (!entries)
      return entries.takeError();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < *entries; ++i) {
      auto key = string();
      if (!key)
        return key.takeError();
      auto type = read<uint32_t>();
      if (!type)
        return type.takeError();
      auto v = value(*type);
      if (!v)
        return v.takeError();
      if (*type != 9)
        ckpt.setMetadata(*key, *v);
      if (*key == "general.alignment" &&
          (StringRef(*v).getAsInteger(10, alignment) || alignment == 0 ||
           (alignment & (alignment - 1)) || alignment > (1u << 30)))
        return fail("general.alignment " + *v +
                    " is not a power of two of at most 2^30");
    }
    struct Info {
      std::string name;
      std::vector<int64_t> shape;
      DType dtype;
      const GgmlBlockType *blocks = nullptr;
      uint64_t offset;
    };
    std::vector<Info> infos;
    for (uint64_t i = 0; i < *tensors; ++i) {
      Info info;
      auto name = string();
      if (!name)
        return name.takeError();
      info.name = *name;
      auto dims = read<uint32_t>();
      if (!dims)
        return dims.takeError();
      if (*dims == 0 || *dims > 4)
        return fail("tensor '" + info.name + "' has " + llvm::Twine(*dims) +
                    " dimensions");
      for (uint32_t d = 0; d < *dims; ++d) {
        auto ne = read<uint64_t>();
        if (!ne)
          return ne.takeError();
        if (*ne == 0 || *ne > (1ull << 40))
          return fail("tensor '" + info.name + "' has dimension " +
                      llvm::Twine(*ne));
        // ne[0] varies fastest: the last dimension in PyTorch order.
        info.shape.insert(info.shape.begin(), (int64_t)*ne);
      }
      // The element count (checked against the file size below) must not
      // overflow.
      uint64_t count = 1;
      for (int64_t d : info.shape)
        if (__builtin_mul_overflow(count, (uint64_t)d, &count) ||
            count > (1ull << 48))
          return fail("tensor '" + info.name + "' has too many elements");
      auto type = read<uint32_t>();
      if (!type)
        return type.takeError();
      if (*type == 0)
        info.dtype = DType::F32;
      else if (*type == 1)
        info.dtype = DType::F16;
      else if (*type == 30)
        info.dtype = DType::BF16;
      else if ((info.blocks = ggmlBlockType(*type))) {
        info.dtype = DType::F32; // what decoding gives
        if (info.shape.back() % info.blocks->values != 0)
          return fail("tensor '" + info.name + "' of type " +
                      info.blocks->name + " has rows of " +
                      llvm::Twine(info.shape.back()) +
                      " values, not a multiple of its blocks of " +
                      llvm::Twine(info.blocks->values));
      } else
        return fail("tensor '" + info.name + "' has GGML type " +
                    llvm::Twine(*type) +
                    ", which seqc does not read (it reads F32, F16, BF16, " +
                    ggmlBlockTypeNames() + ")");
      auto offset = read<uint64_t>();
      if (!offset)
        return offset.takeError();
      info.offset = *offset;
      infos.push_back(std::move(info));
    }
    uint64_t base = (at + alignment - 1) / alignment * alignment;
    uint64_t expectedOffset = 0;
    for (Info &info : infos) {
      Tensor t;
      t.name = info.name;
      t.dtype = info.dtype;
      t.shape = info.shape;
      t.blocks = info.blocks;
      // At most 2^48 elements of at most 4 bytes: no overflow below.
      uint64_t bytes = *t.expectedBytes();
      auto bad = [&](const llvm::Twine &msg) {
        return llvm::createStringError(ckpt.path() + ": GGUF: tensor '" +
                                       info.name + "' " + msg);
      };
      if (info.offset % alignment != 0)
        return bad("has offset " + llvm::Twine(info.offset) +
                   ", not a multiple of the alignment " +
                   llvm::Twine(alignment));
      if (info.offset != expectedOffset)
        return bad("has offset " + llvm::Twine(info.offset) + ", expected " +
                   llvm::Twine(expectedOffset) +
                   " (tensors follow one another, each padded to the "
                   "alignment; this one would " +
                   (info.offset < expectedOffset ? "overlap the previous one"
                                                 : "leave a hole") +
                   ")");
      if (!rangeInside(base, 0, data.size()) ||
          !rangeInside(info.offset, bytes, data.size() - base))
        return bad("extends past the end of the file (truncated?)");
      // Within the file: the sum stays far from wrapping.
      expectedOffset += (bytes + alignment - 1) / alignment * alignment;
      t.bytes = data.slice(base + info.offset, bytes);
      if (llvm::Error e = ckpt.add(std::move(t)))
        return e;
    }
    return llvm::Error::success();
  }

private:
  Checkpoint &ckpt;
  llvm::ArrayRef<uint8_t> data;
  uint64_t at = 0;
};

} // namespace

llvm::Error seqc::readGguf(Checkpoint &ckpt) {
  return Reader(ckpt, ckpt.contents()).run();
}
