//===- Safetensors.cpp - Hugging Face safetensors files -------------------===//
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the byte buffer that follows the header), an optional
// "__metadata__" object, then the tensor bytes. As the reference reader
// (the safetensors crate) does, the tensors must tile the byte buffer
// exactly: no overlaps, no holes, nothing after the last one.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/Checkpoint.h"

#include "seqc/Support/CheckedMath.h"
#include "seqc/Support/JsonDepth.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"

using namespace seqc;
using llvm::StringRef;

llvm::Error seqc::readSafetensors(Checkpoint &ckpt) {
  llvm::ArrayRef<uint8_t> data = ckpt.contents();
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(ckpt.path() + ": safetensors: " + msg);
  };
  if (data.size() < 8)
    return fail("truncated (no header length)");
  uint64_t headerLen = llvm::support::endian::read64le(data.data());
  if (headerLen > data.size() - 8)
    return fail("header length " + llvm::Twine(headerLen) +
                " exceeds the file size (truncated?)");
  StringRef header((const char *)data.data() + 8, headerLen);
  std::string deep;
  if (!checkJsonDepth(header.data(), header.size(), deep))
    return fail("header: " + deep);
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(header);
  if (!json)
    return fail("header is not valid JSON: " +
                llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail("header is not a JSON object");
  llvm::ArrayRef<uint8_t> body = data.drop_front(8 + headerLen);

  // Keep the file's order (by offset) so that listings are stable.
  std::vector<Tensor> tensors;
  for (const auto &kv : *root) {
    if (kv.first == "__metadata__")
      continue;
    std::string name = kv.first.str();
    auto bad = [&](const llvm::Twine &msg) {
      return fail("tensor '" + name + "': " + msg);
    };
    const llvm::json::Object *info = kv.second.getAsObject();
    if (!info)
      return bad("entry is not an object");
    std::optional<StringRef> dtype = info->getString("dtype");
    const llvm::json::Array *shape = info->getArray("shape");
    const llvm::json::Array *offsets = info->getArray("data_offsets");
    if (!dtype || !shape || !offsets || offsets->size() != 2)
      return bad("needs dtype, shape and data_offsets [begin, end]");
    Tensor t;
    t.name = name;
    if (*dtype == "F32")
      t.dtype = DType::F32;
    else if (*dtype == "F16")
      t.dtype = DType::F16;
    else if (*dtype == "BF16")
      t.dtype = DType::BF16;
    else
      return bad("dtype " + *dtype + " is not supported (F32, F16, BF16 are)");
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> n = d.getAsInteger();
      if (!n || *n < 0)
        return bad("shape holds something other than a size");
      t.shape.push_back(*n);
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger(),
                           end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin)
      return bad("invalid data_offsets");
    if ((uint64_t)*end > body.size())
      return bad("data [" + llvm::Twine(*begin) + ", " + llvm::Twine(*end) +
                 ") extends past the end of the file (truncated?)");
    std::optional<uint64_t> expected = t.expectedBytes();
    if (!expected)
      return bad("shape " + t.describe() +
                 " has more elements than fit in 64 bits");
    if ((uint64_t)(*end - *begin) != *expected)
      return bad("holds " + llvm::Twine(*end - *begin) + " bytes, but " +
                 t.describe() + " needs " + llvm::Twine(*expected));
    t.bytes = body.slice(*begin, *end - *begin);
    tensors.push_back(std::move(t));
  }
  // File order is offset order (stable: empty tensors share offsets).
  auto begin = [&](const Tensor &t) { return t.bytes.data() - body.data(); };
  llvm::stable_sort(tensors, [&](const Tensor &a, const Tensor &b) {
    return begin(a) < begin(b) ||
           (begin(a) == begin(b) && a.bytes.size() < b.bytes.size());
  });
  int64_t covered = 0;
  const Tensor *prev = nullptr;
  for (const Tensor &t : tensors) {
    int64_t at = begin(t);
    if (at < covered)
      return fail("tensor '" + t.name + "' data [" + llvm::Twine(at) + ", " +
                  llvm::Twine(at + (int64_t)t.bytes.size()) +
                  ") overlaps tensor '" + prev->name + "' (ending at " +
                  llvm::Twine(covered) + ")");
    if (at > covered)
      return fail("bytes [" + llvm::Twine(covered) + ", " + llvm::Twine(at) +
                  ") of the data belong to no tensor (a hole before '" +
                  t.name + "')");
    covered = at + (int64_t)t.bytes.size();
    prev = &t;
  }
  if ((uint64_t)covered != body.size())
    return fail(llvm::Twine(body.size() - covered) +
                " bytes after the last tensor's data belong to no tensor");
  for (Tensor &t : tensors)
    if (llvm::Error e = ckpt.add(std::move(t)))
      return e;
  return llvm::Error::success();
}
