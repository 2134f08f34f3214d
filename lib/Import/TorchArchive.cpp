//===- TorchArchive.cpp - torch.save archives, read without running code --===//
//
// torch.save (PyTorch >= 1.6) writes an uncompressed zip archive:
//   <name>/data.pkl     a pickle of the state dict, where every tensor is
//                       torch._utils._rebuild_tensor_v2(storage, offset, size,
//                       stride, requires_grad, hooks) and every storage a
//                       persistent id ('storage', torch.FloatStorage, key,
//                       location, numel)
//   <name>/data/<key>   the raw little-endian bytes of each storage
//   <name>/byteorder    "little" (absent in old archives)
//
// The pickle is interpreted by a small stack machine that knows only the
// opcodes and globals such a file uses; anything else (os.system, arbitrary
// classes, ...) is refused with its offset. Nothing is ever executed.
//
//===----------------------------------------------------------------------===//

#include "seqc/Import/Checkpoint.h"

#include "seqc/Support/CheckedMath.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <variant>

using namespace seqc;
using llvm::StringRef;
namespace endian = llvm::support::endian;

namespace {

//===----------------------------------------------------------------------===//
// Zip (stored entries only, with zip64)
//===----------------------------------------------------------------------===//

struct ZipReader {
  StringRef file; // For messages.
  llvm::ArrayRef<uint8_t> data;
  llvm::StringMap<llvm::ArrayRef<uint8_t>> entries;

  llvm::Error fail(const llvm::Twine &msg) {
    return llvm::createStringError(file + ": zip archive: " + msg);
  }
  bool has(uint64_t off, uint64_t len) const {
    return off <= data.size() && len <= data.size() - off;
  }
  uint16_t u16(uint64_t off) const { return endian::read16le(&data[off]); }
  uint32_t u32(uint64_t off) const { return endian::read32le(&data[off]); }
  uint64_t u64(uint64_t off) const { return endian::read64le(&data[off]); }

  llvm::Error read() {
    // End of central directory: 22 bytes plus a comment of at most 64 KiB.
    if (data.size() < 22)
      return fail("truncated (no end-of-central-directory record)");
    int64_t eocd = -1;
    uint64_t lowest = data.size() > 22 + 65535 ? data.size() - 22 - 65535 : 0;
    for (uint64_t off = data.size() - 22;; --off) {
      if (u32(off) == 0x06054b50) {
        eocd = off;
        break;
      }
      if (off == lowest)
        break;
    }
    if (eocd < 0)
      return fail("truncated (no end-of-central-directory record)");
    uint64_t count = u16(eocd + 10), cdSize = u32(eocd + 12),
             cdOffset = u32(eocd + 16);
    if (count == 0xffff || cdSize == 0xffffffff || cdOffset == 0xffffffff) {
      // Zip64: the locator sits just before the end record.
      if (eocd < 20 || u32(eocd - 20) != 0x07064b50)
        return fail("missing zip64 locator");
      uint64_t z64 = u64(eocd - 20 + 8);
      if (!has(z64, 56) || u32(z64) != 0x06064b50)
        return fail("corrupt zip64 end record");
      count = u64(z64 + 32);
      cdSize = u64(z64 + 40);
      cdOffset = u64(z64 + 48);
    }
    if (!has(cdOffset, cdSize))
      return fail("central directory lies outside the file (truncated?)");
    uint64_t off = cdOffset;
    for (uint64_t i = 0; i < count; ++i) {
      if (!has(off, 46) || u32(off) != 0x02014b50)
        return fail(llvm::formatv("corrupt central directory entry {0}", i));
      uint16_t method = u16(off + 10);
      uint64_t csize = u32(off + 20), usize = u32(off + 24);
      uint16_t nameLen = u16(off + 28), extraLen = u16(off + 30),
               commentLen = u16(off + 32);
      uint64_t local = u32(off + 42);
      if (!has(off + 46, (uint64_t)nameLen + extraLen + commentLen))
        return fail(llvm::formatv("corrupt central directory entry {0}", i));
      StringRef name((const char *)&data[off + 46], nameLen);
      // Zip64 extra field: the 64-bit values of the fields saturated above,
      // in order.
      uint64_t extra = off + 46 + nameLen, extraEnd = extra + extraLen;
      while (extra + 4 <= extraEnd) {
        uint16_t id = u16(extra), len = u16(extra + 2);
        if (extra + 4 + len > extraEnd)
          break;
        if (id == 0x0001) {
          uint64_t p = extra + 4, end = p + len;
          auto take = [&](uint64_t &field) {
            if (field == 0xffffffff && p + 8 <= end) {
              field = u64(p);
              p += 8;
            }
          };
          take(usize);
          take(csize);
          take(local);
        }
        extra += 4 + len;
      }
      if (method != 0)
        return fail("entry '" + name +
                    "' is compressed; torch.save writes stored entries only");
      if (csize != usize)
        return fail("entry '" + name + "' has inconsistent sizes");
      if (!has(local, 30) || u32(local) != 0x04034b50)
        return fail("entry '" + name + "' has no local header (truncated?)");
      uint64_t start = local + 30 + u16(local + 26) + u16(local + 28);
      if (!has(start, csize))
        return fail("entry '" + name +
                    "' extends past the end of the file "
                    "(truncated?)");
      entries[name] = data.slice(start, csize);
      off += 46 + nameLen + extraLen + commentLen;
    }
    return llvm::Error::success();
  }
};

//===----------------------------------------------------------------------===//
// Pickle values
//===----------------------------------------------------------------------===//

struct PValue;
using PRef = std::shared_ptr<PValue>;

struct StorageRef {
  DType dtype;
  std::string key;
  int64_t numel;
};

struct PValue {
  enum Kind {
    None,
    Bool,
    Int,
    Float,
    Str,
    Tuple,
    List,
    Dict,
    Global,
    Storage,
    TensorV,
    Mark
  } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s;           // Str; Global "module.name".
  std::vector<PRef> items; // Tuple, List; Dict as key, value pairs.
  StorageRef storage;      // Storage
  Tensor tensor;           // TensorV

  /// Containers: 1 + the deepest item's depth when the items were added.
  unsigned depth = 0;

  PValue() = default;
  PValue(const PValue &) = delete;
  PValue &operator=(const PValue &) = delete;
  /// Releases the items without recursion: a hostile pickle can nest (or
  /// link through the memo) more levels than the stack has frames.
  ~PValue() {
    std::vector<PRef> work = std::move(items);
    while (!work.empty()) {
      PRef v = std::move(work.back());
      work.pop_back();
      if (v.use_count() == 1) {
        for (PRef &item : v->items)
          work.push_back(std::move(item));
        v->items.clear();
      }
    }
  }

  static PRef make(Kind kind) {
    auto v = std::make_shared<PValue>();
    v->kind = kind;
    return v;
  }
  StringRef kindName() const {
    static const char *names[] = {"None",   "bool",    "int",    "float",
                                  "str",    "tuple",   "list",   "dict",
                                  "global", "storage", "tensor", "mark"};
    return names[kind];
  }
};

/// Deeper than any torch.save state dict (a dict of tensors whose
/// arguments are tuples: 3 or 4 levels), shallow enough to stay cheap.
constexpr unsigned kMaxPickleDepth = 32;

std::string describeShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class PickleMachine {
public:
  PickleMachine(
      StringRef file, llvm::ArrayRef<uint8_t> code,
      std::function<llvm::Expected<llvm::ArrayRef<uint8_t>>(StringRef key)>
          storage)
      : file(file), code(code), loadStorage(std::move(storage)) {}

  llvm::Expected<PRef> run();

private:
  StringRef file;
  llvm::ArrayRef<uint8_t> code;
  std::function<llvm::Expected<llvm::ArrayRef<uint8_t>>(StringRef)> loadStorage;
  size_t pos = 0, opPos = 0;
  std::vector<PRef> stack;
  std::map<uint64_t, PRef> memo;

  llvm::Error fail(const llvm::Twine &msg) {
    return llvm::createStringError(file + ": data.pkl: offset " +
                                   llvm::Twine(opPos) + ": " + msg);
  }
  llvm::Error need(size_t n) {
    if (pos + n > code.size())
      return fail("truncated pickle");
    return llvm::Error::success();
  }
  llvm::Expected<PRef> pop() {
    if (stack.empty() || stack.back()->kind == PValue::Mark)
      return fail("pickle stack underflow");
    PRef v = stack.back();
    stack.pop_back();
    return v;
  }
  /// Pops everything down to the topmost mark.
  llvm::Expected<std::vector<PRef>> popToMark() {
    size_t m = stack.size();
    while (m > 0 && stack[m - 1]->kind != PValue::Mark)
      --m;
    if (m == 0)
      return fail("pickle has no mark to pop to");
    std::vector<PRef> items(stack.begin() + m, stack.end());
    stack.resize(m - 1);
    return items;
  }
  /// Adds `item` to container `c`, refusing nesting deeper than any state
  /// dict needs.
  llvm::Error append(PValue &c, PRef item) {
    c.depth = std::max(c.depth, item->depth + 1);
    if (c.depth > kMaxPickleDepth)
      return fail(llvm::formatv("containers nest deeper than {0} levels (a "
                                "state dict needs a few)",
                                kMaxPickleDepth)
                      .str());
    c.items.push_back(std::move(item));
    return llvm::Error::success();
  }
  llvm::Expected<PRef> makeTuple(std::vector<PRef> items) {
    PRef v = PValue::make(PValue::Tuple);
    for (PRef &e : items)
      if (llvm::Error err = append(*v, std::move(e)))
        return std::move(err);
    return v;
  }
  llvm::Error call(PRef fn, PRef args);
  llvm::Expected<PRef> rebuildTensor(const std::vector<PRef> &args);
  llvm::Expected<std::vector<int64_t>> intTuple(const PRef &v, StringRef what);
};

} // namespace

static bool allowedGlobal(StringRef name) {
  return name == "collections.OrderedDict" ||
         name == "torch._utils._rebuild_tensor_v2" ||
         name == "torch._utils._rebuild_parameter" ||
         (name.starts_with("torch.") && name.ends_with("Storage"));
}

static std::optional<DType> storageDType(StringRef global) {
  if (global == "torch.FloatStorage")
    return DType::F32;
  if (global == "torch.HalfStorage")
    return DType::F16;
  if (global == "torch.BFloat16Storage")
    return DType::BF16;
  return std::nullopt;
}

llvm::Expected<std::vector<int64_t>> PickleMachine::intTuple(const PRef &v,
                                                             StringRef what) {
  if (v->kind != PValue::Tuple)
    return fail(what + " is a " + v->kindName() + ", expected a tuple");
  std::vector<int64_t> out;
  for (const PRef &e : v->items) {
    if (e->kind != PValue::Int)
      return fail(what + " holds a " + e->kindName() + ", expected ints");
    out.push_back(e->i);
  }
  return out;
}

llvm::Expected<PRef>
PickleMachine::rebuildTensor(const std::vector<PRef> &args) {
  // (storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
  if (args.size() < 4 || args[0]->kind != PValue::Storage ||
      args[1]->kind != PValue::Int)
    return fail("malformed _rebuild_tensor_v2 arguments");
  const StorageRef &st = args[0]->storage;
  auto shape = intTuple(args[2], "tensor size");
  if (!shape)
    return shape.takeError();
  auto stride = intTuple(args[3], "tensor stride");
  if (!stride)
    return stride.takeError();
  if (shape->size() != stride->size())
    return fail("tensor size and stride differ in rank");
  for (int64_t d : *shape)
    if (d < 0)
      return fail("negative tensor size");
  // Sizes, offsets and byte counts come from the file: none may wrap.
  std::optional<int64_t> numel = checkedProduct(*shape);
  if (!numel)
    return fail("tensor size " + describeShape(*shape) +
                " has more elements than fit in 64 bits");
  int64_t expect = 1;
  for (int64_t d = (int64_t)shape->size() - 1; d >= 0; --d) {
    if ((*shape)[d] != 1 && (*stride)[d] != expect)
      return fail("a non-contiguous tensor (strides do not describe a "
                  "row-major layout); save a contiguous state dict");
    expect *= (*shape)[d]; // A factor of numel: cannot overflow.
  }
  int64_t offset = args[1]->i;
  std::optional<int64_t> end = checkedAdd(offset, *numel);
  if (st.numel < 0 || offset < 0 || !end || *end > st.numel)
    return fail(llvm::formatv("tensor [offset {0}, {1} elements] lies outside "
                              "its storage of {2} elements",
                              offset, *numel, st.numel)
                    .str());
  auto bytes = loadStorage(st.key);
  if (!bytes)
    return bytes.takeError();
  uint64_t es = dtypeSize(st.dtype);
  std::optional<uint64_t> storageBytes = checkedMul((uint64_t)st.numel, es);
  if (!storageBytes || *storageBytes > bytes->size())
    return fail(llvm::formatv("storage '{0}' holds {1} bytes, fewer than its "
                              "{2} {3} elements (truncated archive?)",
                              st.key, bytes->size(), st.numel,
                              dtypeName(st.dtype))
                    .str());
  // offset + numel <= st.numel, whose byte size fits: these cannot wrap.
  PRef t = PValue::make(PValue::TensorV);
  t->tensor.dtype = st.dtype;
  t->tensor.shape = *shape;
  t->tensor.bytes = bytes->slice(offset * es, *numel * es);
  return t;
}

llvm::Error PickleMachine::call(PRef fn, PRef args) {
  if (fn->kind != PValue::Global)
    return fail("REDUCE on a " + fn->kindName() + ", expected a global");
  if (args->kind != PValue::Tuple)
    return fail("REDUCE arguments are not a tuple");
  if (fn->s == "collections.OrderedDict") {
    if (!args->items.empty())
      return fail("OrderedDict called with arguments");
    stack.push_back(PValue::make(PValue::Dict));
    return llvm::Error::success();
  }
  if (fn->s == "torch._utils._rebuild_tensor_v2") {
    auto t = rebuildTensor(args->items);
    if (!t)
      return t.takeError();
    stack.push_back(*t);
    return llvm::Error::success();
  }
  if (fn->s == "torch._utils._rebuild_parameter") {
    if (args->items.empty() || args->items[0]->kind != PValue::TensorV)
      return fail("malformed _rebuild_parameter arguments");
    stack.push_back(args->items[0]);
    return llvm::Error::success();
  }
  return fail("global '" + fn->s + "' cannot be called");
}

llvm::Expected<PRef> PickleMachine::run() {
  auto readUInt = [&](unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i)
      v |= (uint64_t)code[pos + i] << (8 * i);
    pos += n;
    return v;
  };
  auto readLine = [&](std::string &out) -> llvm::Error {
    size_t end = pos;
    while (end < code.size() && code[end] != '\n')
      ++end;
    if (end == code.size())
      return fail("truncated pickle");
    out.assign((const char *)&code[pos], end - pos);
    pos = end + 1;
    return llvm::Error::success();
  };
#define NEED(n)                                                                \
  if (llvm::Error e = need(n))                                                 \
    return std::move(e);
#define POP(var)                                                               \
  auto var##OrErr = pop();                                                     \
  if (!var##OrErr)                                                             \
    return var##OrErr.takeError();                                             \
  PRef var = *var##OrErr;

  while (true) {
    opPos = pos;
    NEED(1);
    uint8_t op = code[pos++];
    switch (op) {
    case 0x80: // PROTO
      NEED(1);
      if (code[pos] > 5)
        return fail(
            llvm::formatv("pickle protocol {0} is not supported", code[pos])
                .str());
      ++pos;
      break;
    case 0x95: // FRAME
      NEED(8);
      pos += 8;
      break;
    case '.': { // STOP
      POP(result);
      return result;
    }
    case '(': // MARK
      stack.push_back(PValue::make(PValue::Mark));
      break;
    case 'N':
      stack.push_back(PValue::make(PValue::None));
      break;
    case 0x88:   // NEWTRUE
    case 0x89: { // NEWFALSE
      PRef v = PValue::make(PValue::Bool);
      v->i = op == 0x88;
      stack.push_back(v);
      break;
    }
    case 'K':   // BININT1
    case 'M':   // BININT2
    case 'J': { // BININT
      unsigned n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
      NEED(n);
      PRef v = PValue::make(PValue::Int);
      uint64_t raw = readUInt(n);
      v->i = n == 4 ? (int64_t)(int32_t)raw : (int64_t)raw;
      stack.push_back(v);
      break;
    }
    case 0x8a: { // LONG1
      NEED(1);
      unsigned n = code[pos++];
      if (n > 8)
        return fail("integer too large");
      NEED(n);
      uint64_t raw = readUInt(n);
      if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1)
        raw |= ~0ull << (8 * n); // Sign-extend.
      PRef v = PValue::make(PValue::Int);
      v->i = (int64_t)raw;
      stack.push_back(v);
      break;
    }
    case 'G': { // BINFLOAT (big-endian double)
      NEED(8);
      uint64_t raw = 0;
      for (int i = 0; i < 8; ++i)
        raw = (raw << 8) | code[pos + i];
      pos += 8;
      PRef v = PValue::make(PValue::Float);
      std::memcpy(&v->f, &raw, 8);
      stack.push_back(v);
      break;
    }
    case 'X':   // BINUNICODE
    case 0x8c:  // SHORT_BINUNICODE
    case 'U':   // SHORT_BINSTRING
    case 'T': { // BINSTRING
      unsigned lenBytes = (op == 'X' || op == 'T') ? 4 : 1;
      NEED(lenBytes);
      uint64_t n = readUInt(lenBytes);
      NEED(n);
      PRef v = PValue::make(PValue::Str);
      v->s.assign((const char *)&code[pos], n);
      pos += n;
      stack.push_back(v);
      break;
    }
    case 'c': { // GLOBAL "module\nname\n"
      std::string module, name;
      if (llvm::Error e = readLine(module))
        return std::move(e);
      if (llvm::Error e = readLine(name))
        return std::move(e);
      std::string full = module + "." + name;
      if (!allowedGlobal(full))
        return fail("global '" + full +
                    "' is not allowed: a torch.save state dict uses only "
                    "collections.OrderedDict, torch._utils._rebuild_tensor_v2 "
                    "and torch.*Storage, and this reader never runs code");
      PRef v = PValue::make(PValue::Global);
      v->s = full;
      stack.push_back(v);
      break;
    }
    case ')':
      stack.push_back(PValue::make(PValue::Tuple));
      break;
    case 0x85:   // TUPLE1
    case 0x86:   // TUPLE2
    case 0x87: { // TUPLE3
      unsigned n = op - 0x84;
      if (stack.size() < n)
        return fail("pickle stack underflow");
      std::vector<PRef> items(stack.end() - n, stack.end());
      for (const PRef &e : items)
        if (e->kind == PValue::Mark)
          return fail("pickle stack underflow");
      stack.resize(stack.size() - n);
      auto v = makeTuple(std::move(items));
      if (!v)
        return v.takeError();
      stack.push_back(*v);
      break;
    }
    case 't': { // TUPLE
      auto items = popToMark();
      if (!items)
        return items.takeError();
      auto v = makeTuple(std::move(*items));
      if (!v)
        return v.takeError();
      stack.push_back(*v);
      break;
    }
    case '}':
      stack.push_back(PValue::make(PValue::Dict));
      break;
    case ']':
      stack.push_back(PValue::make(PValue::List));
      break;
    case 's':   // SETITEM
    case 'u': { // SETITEMS
      std::vector<PRef> items;
      if (op == 's') {
        POP(value);
        POP(key);
        items = {key, value};
      } else {
        auto popped = popToMark();
        if (!popped)
          return popped.takeError();
        items = std::move(*popped);
      }
      if (stack.empty() || stack.back()->kind != PValue::Dict)
        return fail("SETITEMS on something other than a dict");
      if (items.size() % 2)
        return fail("SETITEMS with an odd number of items");
      for (PRef &e : items)
        if (llvm::Error err = append(*stack.back(), e))
          return std::move(err);
      break;
    }
    case 'a':   // APPEND
    case 'e': { // APPENDS
      std::vector<PRef> items;
      if (op == 'a') {
        POP(value);
        items = {value};
      } else {
        auto popped = popToMark();
        if (!popped)
          return popped.takeError();
        items = std::move(*popped);
      }
      if (stack.empty() || stack.back()->kind != PValue::List)
        return fail("APPENDS on something other than a list");
      for (PRef &e : items)
        if (llvm::Error err = append(*stack.back(), e))
          return std::move(err);
      break;
    }
    case 'q':   // BINPUT
    case 'r': { // LONG_BINPUT
      unsigned n = op == 'q' ? 1 : 4;
      NEED(n);
      uint64_t idx = readUInt(n);
      if (stack.empty())
        return fail("pickle stack underflow");
      memo[idx] = stack.back();
      break;
    }
    case 0x94: // MEMOIZE
      if (stack.empty())
        return fail("pickle stack underflow");
      memo[memo.size()] = stack.back();
      break;
    case 'h':   // BINGET
    case 'j': { // LONG_BINGET
      unsigned n = op == 'h' ? 1 : 4;
      NEED(n);
      uint64_t idx = readUInt(n);
      auto it = memo.find(idx);
      if (it == memo.end())
        return fail(llvm::formatv("memo entry {0} is not defined", idx).str());
      stack.push_back(it->second);
      break;
    }
    case 'Q': { // BINPERSID
      POP(pid);
      // ('storage', torch.<T>Storage, key, location, numel)
      if (pid->kind != PValue::Tuple || pid->items.size() != 5 ||
          pid->items[0]->kind != PValue::Str || pid->items[0]->s != "storage" ||
          pid->items[1]->kind != PValue::Global ||
          pid->items[2]->kind != PValue::Str ||
          pid->items[4]->kind != PValue::Int)
        return fail("persistent id is not a torch storage reference");
      std::optional<DType> dtype = storageDType(pid->items[1]->s);
      if (!dtype)
        return fail("storage type '" + pid->items[1]->s +
                    "' is not supported (f32, f16 and bf16 are)");
      PRef v = PValue::make(PValue::Storage);
      v->storage = {*dtype, pid->items[2]->s, pid->items[4]->i};
      stack.push_back(v);
      break;
    }
    case 'R': { // REDUCE
      POP(args);
      POP(fn);
      if (llvm::Error e = call(fn, args))
        return std::move(e);
      break;
    }
    case 'b': { // BUILD: only the attribute dict of an OrderedDict (the
                // state dict's _metadata), which is dropped.
      POP(state);
      if (stack.empty() || stack.back()->kind != PValue::Dict)
        return fail("BUILD on something other than a dict");
      break;
    }
    default:
      return fail(llvm::formatv("pickle opcode 0x{0:x-2} is not allowed in a "
                                "torch.save state dict",
                                op)
                      .str());
    }
  }
#undef NEED
#undef POP
}

llvm::Error seqc::readTorchArchive(Checkpoint &ckpt) {
  ZipReader zip{ckpt.path(), ckpt.contents(), {}};
  if (llvm::Error e = zip.read())
    return e;
  // The archive's folder name is whatever precedes "/data.pkl".
  std::string prefix;
  for (const auto &entry : zip.entries) {
    StringRef name = entry.getKey();
    if (name.ends_with("/data.pkl") &&
        name.drop_back(strlen("/data.pkl")).count('/') == 0)
      prefix = name.drop_back(strlen("data.pkl")).str();
  }
  if (prefix.empty())
    return llvm::createStringError(ckpt.path() +
                                   ": zip archive has no <name>/data.pkl; "
                                   "not a torch.save file");
  auto byteorder = zip.entries.find(prefix + "byteorder");
  if (byteorder != zip.entries.end()) {
    StringRef order((const char *)byteorder->second.data(),
                    byteorder->second.size());
    if (order.trim() != "little")
      return llvm::createStringError(ckpt.path() +
                                     ": big-endian archives are not supported");
  }
  PickleMachine machine(
      ckpt.path(), zip.entries[prefix + "data.pkl"],
      [&](StringRef key) -> llvm::Expected<llvm::ArrayRef<uint8_t>> {
        auto it = zip.entries.find(prefix + "data/" + key.str());
        if (it == zip.entries.end())
          return llvm::createStringError(ckpt.path() + ": storage '" + key +
                                         "' is missing from the archive");
        return it->second;
      });
  auto root = machine.run();
  if (!root)
    return root.takeError();
  PValue *dict = root->get();
  if (dict->kind != PValue::Dict)
    return llvm::createStringError(ckpt.path() + ": data.pkl holds a " +
                                   dict->kindName() +
                                   ", expected a state dict");
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
    const PRef &key = dict->items[i], &value = dict->items[i + 1];
    if (key->kind != PValue::Str)
      return llvm::createStringError(ckpt.path() +
                                     ": state dict key is not a string");
    if (value->kind != PValue::TensorV)
      return llvm::createStringError(ckpt.path() + ": '" + key->s + "' is a " +
                                     value->kindName() + ", expected a tensor");
    Tensor t = value->tensor;
    t.name = key->s;
    if (llvm::Error e = ckpt.add(std::move(t)))
      return e;
  }
  return llvm::Error::success();
}
