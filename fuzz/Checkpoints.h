//===- Checkpoints.h - what the checkpoint harnesses share ------*- C++ -*-===//
//
// One fuzz input is one checkpoint file. The harnesses read it with one
// format's reader and then hold the reader to its contract: every tensor it
// admits lies inside the file and has exactly the bytes its shape and type
// need, and converts to f32 without reading past them. A broken contract
// aborts (a finding), as a sanitizer report does.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_FUZZ_CHECKPOINTS_H
#define SEQC_FUZZ_CHECKPOINTS_H

#include "seqc/Import/Checkpoint.h"
#include "seqc/Import/RWKV.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstdio>
#include <cstdlib>

namespace seqc::fuzz {

/// Aborts with `what` when `ok` is false.
inline void require(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "seqc fuzz: broken contract: %s\n", what);
    std::abort();
  }
}

/// Reads `data` with `reader` as a checkpoint of `format` named `name`,
/// checks the tensors it admits and, when it admits any, runs the RWKV
/// layout detection over them (which sizes a model from the tensors).
inline void readCheckpoint(const uint8_t *data, size_t size, const char *name,
                           const char *format,
                           llvm::Error (*reader)(Checkpoint &)) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), name);
  Checkpoint ckpt(name, format, std::move(buffer));
  if (llvm::Error err = reader(ckpt)) {
    llvm::consumeError(std::move(err));
    return;
  }
  llvm::ArrayRef<uint8_t> file = ckpt.contents();
  for (const std::string &tensorName : ckpt.names()) {
    const Tensor *t = ckpt.find(tensorName);
    require(t != nullptr, "a listed tensor cannot be found");
    require(t->bytes.empty() || (t->bytes.data() >= file.data() &&
                                 t->bytes.data() + t->bytes.size() <=
                                     file.data() + file.size()),
            "a tensor's bytes lie outside the file");
    std::optional<uint64_t> expected = t->expectedBytes();
    require(expected && *expected == t->bytes.size(),
            "a tensor's bytes differ from what its shape needs");
    int64_t n = t->numElements();
    require(n >= 0, "a tensor's element count overflows");
    require((int64_t)t->toF32().size() == n,
            "toF32 gives another count of elements");
    (void)t->describe();
  }
  if (ckpt.names().empty())
    return;
  llvm::Expected<RWKVConfig> config = detectRWKV(ckpt);
  if (!config)
    llvm::consumeError(config.takeError());
}

} // namespace seqc::fuzz

#endif // SEQC_FUZZ_CHECKPOINTS_H
