//===- KVLayout.cpp - storage layout of a lowered KV cache ----------------===//

#include "seqc/Support/KVLayout.h"

#include <cerrno>
#include <cstdlib>
#include <numeric>
#include <vector>

namespace seqc {

static int64_t align64(int64_t n) { return (n + 63) / 64 * 64; }

bool computeKVLayout(const KVCacheDesc &desc, KVLayout &l, std::string &error) {
  l = KVLayout();
  l.heads = desc.heads;
  l.headDim = desc.headDim;
  l.capacity = desc.capacity;
  l.elementBytes = desc.elementBytes;
  int64_t H = l.heads, D = l.headDim, eb = l.elementBytes;
  int64_t at = 64; // header
  auto region = [&](int64_t bytes) {
    int64_t start = at;
    at = align64(at + bytes);
    return start;
  };
  const KVQuantDesc &ke = desc.keys, &ve = desc.values;
  l.compressed = ke.quantized || ve.quantized;
  l.scored = desc.evict != KVEvict::None;
  l.evicting = !l.compressed && !l.scored && desc.window > 0;
  if (l.evicting) {
    l.sinks = desc.sinks;
    l.window = desc.window;
    l.chunk = 1;
    l.ringSlots = l.window;
    l.sinkKeys = region(H * l.sinks * D * eb);
    l.sinkValues = region(H * l.sinks * D * eb);
    l.ringKeys = region(H * l.ringSlots * D * eb);
    l.ringValues = region(H * l.ringSlots * D * eb);
    l.bytes = at;
    return true;
  }
  if (!l.compressed && !l.scored) {
    l.keys = region(H * l.capacity * D * eb);
    l.values = region(H * l.capacity * D * eb);
    l.bytes = at;
    return true;
  }
  if (l.scored) {
    l.mixed = l.compressed;
    l.roco = desc.evict == KVEvict::RoCo;
    l.budget = desc.budget;
    l.sinks = desc.sinks;
    l.window = desc.window;
    int64_t B = l.budget;
    l.slotKeys = region(H * B * D * eb);
    l.slotValues = region(H * B * D * eb);
    l.slotPos = region(H * B * 4);
    l.slotSum = region(H * B * 4);
    l.slotCount = region(H * B * 4);
    if (l.roco)
      l.slotDeviations = region(H * B * 4);
    if (l.roco && l.window > l.rocoRecent())
      l.slotShield = region(H * B);
    l.bytes = at;
    if (!l.mixed)
      return true;
    l.lowFlags = region(H * l.capacity);
    l.quantCapacity = l.capacity;
  }
  if (!ke.quantized || !ve.quantized) {
    error = "the lowering needs both keys and values quantized, or neither";
    return false;
  }
  if (D % 8 != 0) {
    error = "the lowering packs codes in units of 8 channels: head_dim " +
            std::to_string(D) + " is not a multiple of 8";
    return false;
  }
  // 4-byte scales are f32: no other float type of the dialect has 4 bytes.
  for (const KVQuantDesc *e : {&ke, &ve})
    if (e->scaleBytes != 4) {
      error = "the lowering stores f32 scales only";
      return false;
    }
  if (!l.scored) {
    l.sinks = desc.sinks;
    l.window = desc.window;
    int64_t kChunk = ke.perChannel ? ke.group : 1;
    int64_t vChunk = ve.perChannel ? ve.group : 1;
    l.chunk = std::lcm(kChunk, vChunk);
    l.ringSlots = l.window + l.chunk;
    l.quantCapacity = (l.capacity - l.sinks + l.chunk - 1) / l.chunk * l.chunk;
    l.sinkKeys = region(H * l.sinks * D * eb);
    l.sinkValues = region(H * l.sinks * D * eb);
    l.ringKeys = region(H * l.ringSlots * D * eb);
    l.ringValues = region(H * l.ringSlots * D * eb);
  }
  auto side = [&](const KVQuantDesc &e, KVLayout::Side &s) {
    s.bits = e.bits;
    s.group = e.group;
    s.perChannel = e.perChannel;
    s.asymmetric = e.asymmetric;
    s.rowBytes = D * s.bits / 8;
    s.scaleRows = s.perChannel ? l.quantCapacity / s.group : l.quantCapacity;
    s.scaleCols = s.perChannel ? D : D / s.group;
    s.codes = region(H * l.quantCapacity * s.rowBytes);
    s.scales = region(H * s.scaleRows * s.scaleCols * 4);
    s.minima = s.asymmetric ? region(H * s.scaleRows * s.scaleCols * 4) : 0;
  };
  side(ke, l.key);
  side(ve, l.value);
  l.bytes = at;
  return true;
}

int64_t kvBytesPerFullToken(const KVCacheDesc &desc) {
  return 2 * desc.heads * desc.headDim * desc.elementBytes;
}

double kvBytesPerQuantizedToken(const KVCacheDesc &desc) {
  auto side = [&](const KVQuantDesc &enc) -> double {
    if (!enc.quantized)
      return double(desc.heads * desc.headDim * desc.elementBytes);
    // Whichever the axis, a token of one head owns head_dim / group scales
    // (and zero points): one per channel group (axis 1), or its 1/group share
    // of each channel's scale (axis 0).
    double params = double(desc.headDim) / enc.group * enc.scaleBytes *
                    (enc.asymmetric ? 2 : 1);
    return desc.heads * (double(desc.headDim) * enc.bits / 8 + params);
  };
  return side(desc.keys) + side(desc.values);
}

//===----------------------------------------------------------------------===//
// Text form
//===----------------------------------------------------------------------===//

static const char *evictName(KVEvict e) {
  switch (e) {
  case KVEvict::None:
    return "none";
  case KVEvict::H2O:
    return "h2o";
  case KVEvict::RoCo:
    return "roco";
  }
  return "none";
}

static std::string sideText(const KVQuantDesc &s) {
  if (!s.quantized)
    return "none";
  return "bits:" + std::to_string(s.bits) +
         ",group:" + std::to_string(s.group) +
         ",axis:" + (s.perChannel ? "0" : "1") +
         (s.asymmetric ? ",asymmetric" : ",symmetric") +
         ",scale_bytes:" + std::to_string(s.scaleBytes);
}

std::string serializeKVCacheDesc(const KVCacheDesc &d) {
  return "heads=" + std::to_string(d.heads) +
         " head_dim=" + std::to_string(d.headDim) +
         " capacity=" + std::to_string(d.capacity) +
         " element_bytes=" + std::to_string(d.elementBytes) +
         " keys=" + sideText(d.keys) + " values=" + sideText(d.values) +
         " sinks=" + std::to_string(d.sinks) +
         " window=" + std::to_string(d.window) +
         " evict=" + evictName(d.evict) + " budget=" + std::to_string(d.budget);
}

namespace {
/// Reads a serialized desc left to right; the first problem wins.
struct DescParser {
  std::string &error;

  bool fail(const std::string &message) {
    if (error.empty())
      error = "kv_desc: " + message;
    return false;
  }

  /// A decimal integer in [lo, hi], the whole of `text`.
  bool integer(const std::string &what, const std::string &text, int64_t lo,
               int64_t hi, int64_t &out) {
    bool digits = !text.empty();
    for (size_t i = 0; i < text.size(); ++i)
      if (!(text[i] >= '0' && text[i] <= '9') && !(i == 0 && text[i] == '-'))
        digits = false;
    if (!digits || text == "-")
      return fail(what + ": expected an integer, got '" + text + "'");
    errno = 0;
    long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == ERANGE || v < lo || v > hi)
      return fail(what + " " + text + " is out of range [" +
                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out = v;
    return true;
  }

  static std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> parts;
    size_t from = 0;
    while (true) {
      size_t to = text.find(sep, from);
      parts.push_back(text.substr(from, to - from));
      if (to == std::string::npos)
        return parts;
      from = to + 1;
    }
  }

  /// `name:value` with the expected name.
  bool named(const std::string &what, const std::string &item,
             const std::string &name, int64_t lo, int64_t hi, int64_t &out) {
    if (item.compare(0, name.size() + 1, name + ":") != 0)
      return fail(what + ": expected '" + name + ":N', got '" + item + "'");
    return integer(what + " " + name, item.substr(name.size() + 1), lo, hi,
                   out);
  }

  bool side(const std::string &what, const std::string &text, KVQuantDesc &s) {
    s = KVQuantDesc();
    if (text == "none")
      return true;
    std::vector<std::string> items = split(text, ',');
    if (items.size() != 5)
      return fail(what +
                  ": expected 'none' or "
                  "'bits:B,group:G,axis:A,MODE,scale_bytes:S', got '" +
                  text + "'");
    int64_t bits, group, axis, scaleBytes;
    if (!named(what, items[0], "bits", 0, 64, bits) ||
        !named(what, items[1], "group", 1, int64_t(1) << 32, group) ||
        !named(what, items[2], "axis", 0, 1, axis))
      return false;
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
      return fail(what + " bits must be 2, 3, 4 or 8, got " +
                  std::to_string(bits));
    if (items[3] != "asymmetric" && items[3] != "symmetric")
      return fail(what + ": expected 'asymmetric' or 'symmetric', got '" +
                  items[3] + "'");
    if (!named(what, items[4], "scale_bytes", 1, 8, scaleBytes))
      return false;
    s.quantized = true;
    s.bits = unsigned(bits);
    s.group = group;
    s.perChannel = axis == 0;
    s.asymmetric = items[3] == "asymmetric";
    s.scaleBytes = scaleBytes;
    return true;
  }
};
} // namespace

bool parseKVCacheDesc(const std::string &text, KVCacheDesc &d,
                      std::string &error) {
  error.clear();
  d = KVCacheDesc();
  DescParser p{error};
  static const char *const keys[] = {
      "heads",  "head_dim", "capacity", "element_bytes", "keys",
      "values", "sinks",    "window",   "evict",         "budget"};
  constexpr size_t numKeys = sizeof(keys) / sizeof(keys[0]);
  std::vector<std::string> fields = DescParser::split(text, ' ');
  if (fields.size() != numKeys)
    return p.fail("expected " + std::to_string(numKeys) +
                  " fields separated by single spaces (heads=... budget=...), "
                  "got " +
                  std::to_string(fields.size()));
  std::string value[numKeys];
  for (size_t i = 0; i < numKeys; ++i) {
    std::string prefix = std::string(keys[i]) + "=";
    if (fields[i].compare(0, prefix.size(), prefix) != 0)
      return p.fail("field " + std::to_string(i + 1) + ": expected '" + prefix +
                    "...', got '" + fields[i] + "'");
    value[i] = fields[i].substr(prefix.size());
  }
  // Sizes up to 2^31: far above any real cache, small enough that no
  // product of the layout overflows.
  const int64_t big = int64_t(1) << 31;
  int64_t elementBytes;
  if (!p.integer("heads", value[0], 1, big, d.heads) ||
      !p.integer("head_dim", value[1], 1, big, d.headDim) ||
      !p.integer("capacity", value[2], 1, big, d.capacity) ||
      !p.integer("element_bytes", value[3], 0, 8, elementBytes) ||
      !p.side("keys", value[4], d.keys) ||
      !p.side("values", value[5], d.values) ||
      !p.integer("sinks", value[6], 0, big, d.sinks) ||
      !p.integer("window", value[7], 0, big, d.window))
    return false;
  if (elementBytes != 2 && elementBytes != 4)
    return p.fail("element_bytes must be 2 (f16, bf16) or 4 (f32), got " +
                  std::to_string(elementBytes));
  d.elementBytes = elementBytes;
  if (value[8] == "none")
    d.evict = KVEvict::None;
  else if (value[8] == "h2o")
    d.evict = KVEvict::H2O;
  else if (value[8] == "roco")
    d.evict = KVEvict::RoCo;
  else
    return p.fail("evict: expected none, h2o or roco, got '" + value[8] + "'");
  if (!p.integer("budget", value[9], 0, big, d.budget))
    return false;
  // The shape the cache type's verifier guarantees, so that a desc from the
  // outside gives the layout the compiler used (or none at all).
  double elements = double(d.heads) * double(d.headDim) * double(d.capacity);
  if (elements > double(int64_t(1) << 40))
    return p.fail("heads x head_dim x capacity is too large");
  if (d.sinks > d.capacity)
    return p.fail("sinks (" + std::to_string(d.sinks) +
                  ") exceed the capacity (" + std::to_string(d.capacity) + ")");
  bool compressed = d.keys.quantized || d.values.quantized;
  for (const KVQuantDesc *s : {&d.keys, &d.values}) {
    if (!s->quantized)
      continue;
    const char *which = s == &d.keys ? "keys" : "values";
    if (!s->perChannel && d.headDim % s->group != 0)
      return p.fail(std::string(which) + " group " + std::to_string(s->group) +
                    " does not divide head_dim " + std::to_string(d.headDim));
    if (s->perChannel && (d.window <= 0 || d.window % s->group != 0))
      return p.fail(std::string(which) + " group tokens by " +
                    std::to_string(s->group) +
                    ", so the window must be a positive multiple of it, "
                    "got " +
                    std::to_string(d.window));
    if (s->perChannel && d.evict != KVEvict::None)
      return p.fail(std::string(which) +
                    ": a cache that evicts by attention quantizes tokens one "
                    "at a time (axis 1)");
  }
  if (d.evict == KVEvict::None) {
    if (d.budget != 0)
      return p.fail("budget " + std::to_string(d.budget) +
                    " without an eviction policy");
    if (!compressed && d.sinks + d.window > d.capacity)
      return p.fail("sinks and window exceed the capacity");
    if (compressed && d.sinks + d.window >= d.capacity)
      return p.fail("sinks and window leave no room for quantized tokens");
  } else {
    if (d.budget <= d.sinks + d.window || d.budget >= d.capacity)
      return p.fail("budget " + std::to_string(d.budget) +
                    " must exceed sinks plus window and be below the "
                    "capacity");
    if (compressed && !(d.keys.quantized && d.values.quantized))
      return p.fail("a mixed-precision cache quantizes both keys and values");
  }
  return true;
}

} // namespace seqc
