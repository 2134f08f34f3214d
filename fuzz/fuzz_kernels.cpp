//===- fuzz_kernels.cpp - libFuzzer harness: GPU kernel artifacts ---------===//
//
// kernels.bin of the Vulkan and CUDA targets, read as both formats by the
// reader both drivers share (runtime/src/drivers/gpu/kernel_artifact.cpp).
// What it accepts, the drivers use without further checks, so the harness
// checks that: every code range lies in the code and each kernel's code is
// of its format, each binding's bytes are its count times its element's
// size (no wrap-around), one binding per function argument, positive
// launch sizes, and no kernel listed twice; of a model's schedules, that
// every dispatch names a listed kernel with one buffer per binding, each
// an argument of its entry or the scratch arena, of its binding's bytes, at
// an offset that is a multiple of 256, scratch ones inside the arena.
//
//===----------------------------------------------------------------------===//

#include "drivers/gpu/kernel_artifact.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

using namespace seqc::gpu;

namespace {

/// Bytes of one element of `type`, worked out here independently of the
/// reader: f16/f32/f64, iN for N in 1..64; 0 for anything else.
uint64_t widthOf(const std::string &type) {
  if (type == "f16")
    return 2;
  if (type == "f32")
    return 4;
  if (type == "f64")
    return 8;
  if (type.size() >= 2 && type[0] == 'i' && type[1] != '0' &&
      type.size() <= 3 &&
      type.find_first_not_of("0123456789", 1) == std::string::npos) {
    unsigned bits = static_cast<unsigned>(std::stoul(type.substr(1)));
    return bits >= 1 && bits <= 64 ? (bits + 7) / 8 : 0;
  }
  return 0;
}

[[noreturn]] void broken(const char *what, const std::string &kernel) {
  std::fprintf(stderr,
               "seqc fuzz: broken contract: an accepted kernels.bin has %s "
               "(kernel %s)\n",
               what, kernel.c_str());
  std::abort();
}

void check(const KernelArtifact &a, const ArtifactFormat &format) {
  std::set<std::string> names;
  for (const Kernel &k : a.kernels) {
    if (!names.insert(k.name).second)
      broken("a kernel twice", k.name);
    for (const std::string &field : format.codeFields) {
      auto it = k.code.find(field);
      if (it == k.code.end())
        broken("no code field", k.name);
      const CodeRange &r = it->second;
      if (r.bytes == 0 || r.offset > a.code.size() ||
          r.bytes > a.code.size() - r.offset ||
          a.codeOf(k, field).size() != r.bytes)
        broken("a code range outside the code", k.name);
    }
    if (!format.checkCode(a, k).empty())
      broken("code not of its format", k.name);
    for (int d = 0; d < 3; ++d)
      if (k.grid[d] == 0 || k.workgroup[d] == 0)
        broken("an empty launch", k.name);
    std::set<unsigned> args;
    for (const Binding &b : k.bindings) {
      if (!args.insert(b.arg).second)
        broken("two bindings of one argument", k.name);
      uint64_t width = widthOf(b.type), expected = 0;
      if (width == 0)
        broken("a binding of an element type the compiler never writes",
               k.name);
      if (b.count == 0 || __builtin_mul_overflow(b.count, width, &expected) ||
          b.bytes() != expected)
        broken("a binding whose bytes are not its count times its element "
               "size",
               k.name);
    }
    if (k.bindings.empty())
      broken("no bindings", k.name);
  }
  if (a.kernels.empty())
    broken("no kernels", "-");
  for (const auto &[entry, s] : a.schedules)
    for (const Dispatch &d : s.dispatches) {
      if (d.kernel >= a.kernels.size())
        broken("a dispatch of no kernel", entry);
      const Kernel &k = a.kernels[d.kernel];
      if (d.bindings.size() != k.bindings.size())
        broken("a dispatch with another number of buffers", entry);
      for (size_t b = 0; b < d.bindings.size(); ++b) {
        const Dispatch::Ref &r = d.bindings[b];
        if (r.buffer != Schedule::kScratch && r.buffer >= s.args.size())
          broken("a binding of a buffer the entry does not take", entry);
        if (r.bytes != k.bindings[b].bytes() || r.offset % 256 != 0)
          broken("a binding of other bytes or a misaligned offset", entry);
        if (r.buffer == Schedule::kScratch &&
            (r.offset > s.scratch || r.bytes > s.scratch - r.offset))
          broken("a scratch binding outside the arena", entry);
      }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  for (const ArtifactFormat *format : {&vulkanFormat(), &cudaFormat()}) {
    KernelArtifact a;
    std::string error;
    if (KernelArtifact::parse(bytes, "fuzz", "fuzz/kernels.bin", *format, a,
                              error))
      check(a, *format);
    else if (error.empty())
      broken("a refusal without a reason", "-");
  }
  return 0;
}
