//===- kernel_artifact.cpp - reading a GPU artifact's kernel table --------===//
//
// kernels.bin: the manifest with its kernel table, then the kernels' code
// (runtime/include/seqc/artifact.h); read strictly, without any GPU API (the
// Vulkan and CUDA runners execute what this reads).
//
//===----------------------------------------------------------------------===//

#include "drivers/gpu/kernel_artifact.h"

#include "seqc/artifact.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <sys/stat.h>

using namespace seqc::gpu;

//===----------------------------------------------------------------------===//
// The artifact
//===----------------------------------------------------------------------===//

namespace {

/// Bytes of one element of `type` (f16, f32, f64, i1 ... i64), or 0.
uint64_t elementBytes(const std::string &type) {
  if (type == "f16")
    return 2;
  if (type == "f32")
    return 4;
  if (type == "f64")
    return 8;
  if (type.size() < 2 || type.size() > 3 || type[0] != 'i' ||
      type.find_first_not_of("0123456789", 1) != std::string::npos ||
      type[1] == '0')
    return 0;
  unsigned long bits = std::strtoul(type.c_str() + 1, nullptr, 10);
  return bits <= 64 ? (bits + 7) / 8 : 0;
}

} // namespace

uint64_t Binding::bytes() const { return count * elementBytes(type); }

namespace {

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep))
    if (!item.empty())
      out.push_back(item);
  return out;
}

/// Every piece between separators, empty ones included ("a,,b" is three),
/// for the fields whose pieces must all be there.
std::vector<std::string> splitExact(const std::string &s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos;
       start = at + 1)
    out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return out;
}

bool parseUnsigned(const std::string &s, uint64_t &out) {
  if (s.empty() || s.size() > 19 ||
      s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoull(s);
  return true;
}

bool parseDims(const std::string &s, std::array<uint32_t, 3> &out) {
  std::vector<std::string> parts = splitExact(s, ',');
  if (parts.size() != 3)
    return false;
  for (int i = 0; i < 3; ++i) {
    uint64_t v;
    if (!parseUnsigned(parts[i], v) || v == 0 || v > UINT32_MAX)
      return false;
    out[i] = static_cast<uint32_t>(v);
  }
  return true;
}

/// Parses one kernel.NAME entry.
bool parseKernel(const std::string &name, const std::string &value,
                 const ArtifactFormat &format, uint64_t codeSize, Kernel &k,
                 std::string &error) {
  k.name = name;
  auto fail = [&](const std::string &why) {
    error = "kernel." + name + ": " + why;
    return false;
  };
  std::map<std::string, std::string> fields;
  for (const std::string &pair : split(value, ' ')) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("'" + pair + "' is not field=value");
    if (!fields.emplace(pair.substr(0, eq), pair.substr(eq + 1)).second)
      return fail("field '" + pair.substr(0, eq) + "' is given twice");
  }
  std::vector<std::string> required = {"entry", "grid", "workgroup", "shared",
                                       "bindings"};
  required.insert(required.end(), format.codeFields.begin(),
                  format.codeFields.end());
  if (format.hasFeatures)
    required.push_back("features");
  for (const std::string &f : required)
    if (!fields.count(f))
      return fail("no '" + f + "' field");
  k.entry = fields["entry"];
  auto range = [&](const std::string &f, CodeRange &r) {
    std::vector<std::string> parts = splitExact(fields[f], '+');
    if (parts.size() != 2 || !parseUnsigned(parts[0], r.offset) ||
        !parseUnsigned(parts[1], r.bytes) || r.bytes == 0 ||
        r.bytes % format.codeAlign || r.offset % format.codeAlign ||
        r.offset > codeSize || r.bytes > codeSize - r.offset)
      return fail(f + "=" + fields[f] + " is not a range of the " +
                  std::to_string(codeSize) + " bytes of " + format.codeName);
    return true;
  };
  auto featureList = [&](const std::string &f, std::vector<std::string> &out) {
    if (fields[f] == "none")
      return true;
    out = splitExact(fields[f], ',');
    for (const std::string &name : out)
      if (name.empty())
        return fail(f + "=" + fields[f] + " has an empty feature");
    return true;
  };
  for (const std::string &f : format.codeFields)
    if (!range(f, k.code[f]))
      return false;
  // A fallback has every code field and (Vulkan) its features, or none.
  std::vector<std::string> fallback;
  for (const std::string &f : format.codeFields)
    fallback.push_back("fallback_" + f);
  if (format.hasFeatures)
    fallback.push_back("fallback_features");
  size_t given = std::count_if(fallback.begin(), fallback.end(),
                               [&](auto &f) { return fields.count(f) != 0; });
  if (given && given != fallback.size()) {
    std::string names;
    for (const std::string &f : fallback)
      names += (names.empty() ? "" : ", ") + f;
    return fail("a fallback needs all of the fields " + names);
  }
  if (given) {
    for (const std::string &f : format.codeFields)
      if (!range("fallback_" + f, k.fallbackCode[f]))
        return false;
    if (format.hasFeatures &&
        !featureList("fallback_features", k.fallbackFeatures))
      return false;
  }
  if (!parseDims(fields["grid"], k.grid))
    return fail("grid=" + fields["grid"] + " is not three positive integers");
  if (!parseDims(fields["workgroup"], k.workgroup))
    return fail("workgroup=" + fields["workgroup"] +
                " is not three positive integers");
  if (!parseUnsigned(fields["shared"], k.shared))
    return fail("shared=" + fields["shared"] + " is not an integer");
  if (format.hasFeatures && !featureList("features", k.features))
    return false;
  for (const std::string &b : splitExact(fields["bindings"], ',')) {
    std::vector<std::string> parts = splitExact(b, ':');
    Binding binding;
    uint64_t arg = 0;
    if (parts.size() != 4 || !parseUnsigned(parts[1], binding.count) ||
        binding.count == 0 ||
        (parts[2] != "r" && parts[2] != "w" && parts[2] != "rw") ||
        !parseUnsigned(parts[3], arg) || arg > 65535)
      return fail("binding '" + b + "' is not TYPE:COUNT:r|w|rw:ARGUMENT");
    binding.arg = static_cast<unsigned>(arg);
    for (const Binding &other : k.bindings)
      if (other.arg == binding.arg)
        return fail("two bindings are argument " + parts[3]);
    binding.type = parts[0];
    binding.access = parts[2];
    uint64_t element = elementBytes(binding.type);
    if (element == 0)
      return fail("binding '" + b + "' has an unknown element type");
    // A buffer's bytes must be a number (no wrap-around); the drivers
    // check them against the device's limits.
    if (binding.count > UINT64_MAX / element)
      return fail("binding '" + b + "' has more bytes than 64 bits count");
    k.bindings.push_back(binding);
  }
  if (k.bindings.empty())
    return fail("no bindings");
  return true;
}

} // namespace

bool KernelArtifact::load(const std::string &dir, const ArtifactFormat &format,
                          KernelArtifact &out, std::string &error) {
  std::string path = dir + "/" + artifact::kKernelsFile;
  // Not a FIFO or a device, which an ifstream would block on or read
  // without end.
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    error = path + ": not a regular file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // Another target's artifact has a manifest.json naming its target
    // (absent: cpu).
    std::ifstream json(dir + "/manifest.json");
    if (json) {
      std::string text((std::istreambuf_iterator<char>(json)),
                       std::istreambuf_iterator<char>());
      std::string key = "\"target\": \"", target = artifact::kDefaultTarget;
      size_t at = text.find(key);
      if (at != std::string::npos) {
        size_t end = text.find('"', at + key.size());
        target = text.substr(at + key.size(), end - at - key.size());
      }
      error = dir + ": an artifact for the '" + target + "' target, not a " +
              format.description + " (no " + artifact::kKernelsFile + ")";
    } else {
      error = path + ": cannot open (not a " + format.description + ")";
    }
    return false;
  }
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  return parse(data, dir, path, format, out, error);
}

namespace {

/// schedule.ENTRY: "args=B,... scratch=N dispatch=K:B@O+N,... ...", every
/// kernel listed, each binding of its kernel's size, at a multiple of 256
/// bytes (the largest offset alignment Vulkan allows), the scratch ones
/// inside the scratch buffer.
bool parseSchedule(const KernelArtifact &artifact, const std::string &text,
                   Schedule &out, std::string &error) {
  std::vector<std::string> fields = split(text, ' ');
  if (fields.size() < 2 || fields[0].compare(0, 5, "args=") != 0 ||
      fields[1].compare(0, 8, "scratch=") != 0 ||
      !parseUnsigned(fields[1].substr(8), out.scratch)) {
    error = "expected 'args=B,... scratch=N dispatch=...'";
    return false;
  }
  out.args = splitExact(fields[0].substr(5), ',');
  for (size_t i = 2; i < fields.size(); ++i) {
    const std::string &f = fields[i];
    size_t colon = f.find(':');
    if (f.compare(0, 9, "dispatch=") != 0 || colon == std::string::npos) {
      error = "field " + std::to_string(i) + ": expected dispatch=K:B@O+N,...";
      return false;
    }
    std::string name = f.substr(9, colon - 9);
    Dispatch d;
    const Kernel *k = artifact.find(name);
    if (!k) {
      error = "dispatch " + std::to_string(out.dispatches.size()) +
              ": no kernel " + name;
      return false;
    }
    d.kernel = k - artifact.kernels.data();
    std::vector<std::string> refs = splitExact(f.substr(colon + 1), ',');
    if (refs.size() != k->bindings.size()) {
      error = "dispatch " + std::to_string(out.dispatches.size()) + ": " +
              std::to_string(refs.size()) + " buffers for kernel " + name +
              ", which has " + std::to_string(k->bindings.size()) + " bindings";
      return false;
    }
    for (size_t b = 0; b < refs.size(); ++b) {
      const std::string &r = refs[b];
      size_t at = r.find('@'), plus = r.find('+');
      Dispatch::Ref ref;
      std::string buffer =
          at == std::string::npos ? std::string() : r.substr(0, at);
      auto arg = std::find(out.args.begin(), out.args.end(), buffer);
      ref.buffer = buffer == "scratch"     ? Schedule::kScratch
                   : arg != out.args.end() ? arg - out.args.begin()
                                           : Schedule::kScratch - 1;
      if (at == std::string::npos || plus == std::string::npos || plus < at ||
          ref.buffer == Schedule::kScratch - 1 ||
          !parseUnsigned(r.substr(at + 1, plus - at - 1), ref.offset) ||
          !parseUnsigned(r.substr(plus + 1), ref.bytes) ||
          ref.offset % 256 != 0 || ref.bytes != k->bindings[b].bytes() ||
          (ref.buffer == Schedule::kScratch &&
           (ref.offset > out.scratch ||
            ref.bytes > out.scratch - ref.offset))) {
        error = "dispatch " + std::to_string(out.dispatches.size()) +
                ", binding " + std::to_string(b) + " '" + r +
                "': expected BUFFER@OFFSET+BYTES with one of the args or "
                "scratch, the offset a multiple of 256, the kernel's " +
                std::to_string(k->bindings[b].bytes()) +
                " bytes, inside the scratch buffer";
        return false;
      }
      d.bindings.push_back(ref);
    }
    out.dispatches.push_back(std::move(d));
  }
  return true;
}

} // namespace

bool KernelArtifact::parse(const std::string &data, const std::string &dir,
                           const std::string &path,
                           const ArtifactFormat &format, KernelArtifact &out,
                           std::string &error) {
  size_t nl = data.find('\n');
  // Either GPU target's file: the manifest's target then says whose it is.
  std::string magic = format.magic;
  for (const char *known :
       {artifact::kKernelsMagic, artifact::kCudaKernelsMagic})
    if (data.compare(0, std::strlen(known) + 1, std::string(known) + " ") == 0)
      magic = known;
  uint64_t textBytes = 0;
  if (nl == std::string::npos || nl > 64 ||
      data.compare(0, magic.size() + 1, magic + " ") != 0 ||
      !parseUnsigned(data.substr(magic.size() + 1, nl - magic.size() - 1),
                     textBytes) ||
      textBytes > data.size() - nl - 1) {
    error = path + ": not a kernels file (expected '" + format.magic +
            " <manifest bytes>' and the manifest)";
    return false;
  }
  std::string text = data.substr(nl + 1, textBytes);
  size_t start = (nl + 1 + textBytes + 15) / 16 * 16;
  out.dir = dir;
  out.code = start <= data.size() ? data.substr(start) : std::string();
  out.manifest = artifact::parseManifest(text.c_str());
  auto get = [&](artifact::Key key) -> std::string {
    auto it = out.manifest.find(artifact::keyName(key));
    return it == out.manifest.end() ? std::string() : it->second;
  };
  std::string target = get(artifact::Key::Target);
  if (target != format.target) {
    error = path + ": the artifact is for the '" +
            (target.empty() ? artifact::kDefaultTarget : target) +
            "' target, not " + format.target;
    return false;
  }
  std::vector<std::string> names = split(get(artifact::Key::Kernels), ' ');
  if (names.empty()) {
    error = path + ": the manifest lists no kernels";
    return false;
  }
  std::set<std::string> listed;
  for (const std::string &name : names) {
    if (!listed.insert(name).second) {
      error = path + ": kernel " + name + " is listed twice";
      return false;
    }
    auto it = out.manifest.find(artifact::kKernelKeyPrefix + name);
    if (it == out.manifest.end()) {
      error = path + ": kernel " + name + " has no kernel." + name + " entry";
      return false;
    }
    Kernel k;
    if (!parseKernel(name, it->second, format, out.code.size(), k, error)) {
      error = path + ": " + error;
      return false;
    }
    std::string bad = format.checkCode(out, k);
    if (bad.empty() && !k.fallbackCode.empty()) {
      Kernel fallback = k;
      fallback.code = k.fallbackCode;
      bad = format.checkCode(out, fallback);
      if (!bad.empty())
        bad = "its fallback: " + bad;
    }
    if (!bad.empty()) {
      error = path + ": kernel " + name + ": " + bad;
      return false;
    }
    out.kernels.push_back(std::move(k));
  }
  for (const auto &[key, value] : out.manifest) {
    const std::string prefix = artifact::kScheduleKeyPrefix;
    if (key.compare(0, prefix.size(), prefix) != 0)
      continue;
    std::string entry = key.substr(prefix.size());
    if (!parseSchedule(out, value, out.schedules[entry], error)) {
      error = path + ": schedule." + entry + ": " + error;
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The formats
//===----------------------------------------------------------------------===//

const ArtifactFormat &seqc::gpu::vulkanFormat() {
  static const ArtifactFormat format = {
      "vulkan",
      artifact::kKernelsMagic,
      "Vulkan kernel artifact",
      {"spirv"},
      "SPIR-V",
      4,
      /*hasFeatures=*/true,
      [](const KernelArtifact &a, const Kernel &k) -> std::string {
        uint32_t magicWord;
        std::memcpy(&magicWord, a.code.data() + k.code.at("spirv").offset, 4);
        if (magicWord != 0x07230203)
          return "its module is not SPIR-V (bad magic number)";
        return "";
      }};
  return format;
}

const ArtifactFormat &seqc::gpu::cudaFormat() {
  static const ArtifactFormat format = {
      "cuda",
      artifact::kCudaKernelsMagic,
      "CUDA kernel artifact",
      {"cubin", "ptx"},
      "kernel code",
      1,
      /*hasFeatures=*/false,
      [](const KernelArtifact &a, const Kernel &k) -> std::string {
        if (a.codeOf(k, "cubin")
                .compare(0, 4,
                         "\x7f"
                         "ELF") != 0)
          return "its cubin is not an ELF image";
        if (a.codeOf(k, "ptx").find(".entry " + k.entry) == std::string::npos)
          return "its PTX has no entry " + k.entry;
        return "";
      }};
  return format;
}

std::string KernelArtifact::codeOf(const Kernel &kernel,
                                   const std::string &field) const {
  auto it = kernel.code.find(field);
  if (it == kernel.code.end())
    return std::string();
  return code.substr(it->second.offset, it->second.bytes);
}

const Kernel *KernelArtifact::find(const std::string &name) const {
  for (const Kernel &k : kernels)
    if (k.name == name)
      return &k;
  return nullptr;
}
