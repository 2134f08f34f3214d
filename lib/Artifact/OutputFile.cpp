//===- OutputFile.cpp - how seqc writes every output file -----------------===//

#include "seqc/Artifact/OutputFile.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <fcntl.h>
#include <unistd.h>

using namespace llvm;

namespace {

Error fail(StringRef path, const Twine &why) {
  return createStringError(path + ": " + why);
}

const char *kindName(seqc::OutputKind kind) {
  switch (kind) {
  case seqc::OutputKind::MLIR:
    return "MLIR text";
  case seqc::OutputKind::LLVMIR:
    return "LLVM IR text";
  case seqc::OutputKind::Object:
    return "an object file";
  case seqc::OutputKind::Any:
    break;
  }
  return "output";
}

/// Whether `head` (a file's first bytes) looks like an earlier output of
/// `kind`: MLIR text starts with `module`, an alias (`#name = `, `!name =
/// `) or `// ` comments before one; LLVM IR with `; ModuleID`; an object is
/// a relocatable ELF file.
bool looksLike(seqc::OutputKind kind, StringRef head) {
  switch (kind) {
  case seqc::OutputKind::LLVMIR:
    return head.starts_with("; ModuleID = ");
  case seqc::OutputKind::Object:
    return head.size() >= 18 &&
           head.starts_with("\x7f"
                            "ELF") &&
           head[16] == 1 && head[17] == 0; // ET_REL
  case seqc::OutputKind::MLIR:
    while (head.consume_front("// "))
      head = head.drop_until([](char c) { return c == '\n'; }).drop_front();
    if (head.starts_with("module"))
      return true;
    if (head.consume_front("#") || head.consume_front("!")) {
      StringRef name = head.take_while(
          [](char c) { return isalnum(c) || c == '_' || c == '.'; });
      return !name.empty() && head.drop_front(name.size()).starts_with(" = ");
    }
    return false;
  case seqc::OutputKind::Any:
    break;
  }
  return false;
}

} // namespace

Error seqc::checkOutputFile(StringRef path, const OutputPolicy &policy) {
  sys::fs::file_status st;
  if (sys::fs::status(path, st, /*follow=*/false))
    return Error::success(); // Does not exist (or cannot be seen): a new file.
  for (const std::string &input : policy.inputs) {
    bool same = false;
    if (!sys::fs::equivalent(path, input, same) && same)
      return fail(path, "is an input of this command (" + input +
                            "); refusing to write over it");
  }
  switch (st.type()) {
  case sys::fs::file_type::regular_file:
    break;
  case sys::fs::file_type::character_file:
    return Error::success(); // /dev/null and the like: written directly.
  case sys::fs::file_type::symlink_file:
    return fail(path, "is a symbolic link; refusing to replace it (give the "
                      "path of a regular file)");
  case sys::fs::file_type::directory_file:
    return fail(path, "is a directory");
  default:
    return fail(path, "is not a regular file (a FIFO, socket or device); "
                      "refusing to replace it");
  }
  if (policy.force)
    return Error::success();
  auto head = MemoryBuffer::getFileSlice(path, 4096, 0);
  if (head && (*head)->getBufferSize() == 0)
    return Error::success(); // Empty: nothing to lose.
  if (head && policy.kind != OutputKind::Any &&
      looksLike(policy.kind, (*head)->getBuffer()))
    return Error::success();
  return fail(path, Twine("exists and does not hold ") + kindName(policy.kind) +
                        " written by seqc; refusing to write over it "
                        "(--force to overwrite)");
}

Error seqc::createTempFile(StringRef path, SmallVectorImpl<char> &tmp) {
  SmallString<256> model(sys::path::parent_path(path));
  sys::path::append(model, Twine(".") + sys::path::filename(path) +
                               kTempMarker + "%%%%%%%%");
  int fd;
  // createUniqueFile opens with O_CREAT | O_EXCL: an existing file of that
  // name is never reused or consumed.
  if (std::error_code ec = sys::fs::createUniqueFile(model, fd, tmp))
    return fail(path,
                "cannot create a temporary file next to it: " + ec.message());
  ::close(fd);
  sys::RemoveFileOnSignal(StringRef(tmp.data(), tmp.size()));
  return Error::success();
}

void seqc::discardTempFile(StringRef tmp) {
  sys::fs::remove(tmp);
  sys::DontRemoveFileOnSignal(tmp);
}

Error seqc::commitTempFile(StringRef tmp, StringRef path) {
  std::error_code ec = sys::fs::rename(tmp, path);
  if (ec) {
    discardTempFile(tmp);
    return fail(path, "cannot write: " + ec.message());
  }
  sys::DontRemoveFileOnSignal(tmp);
  return Error::success();
}

/// Writes `contents` to the open `fd` (closed here); false with `why` set on
/// failure (a full disk, a file-size limit).
static bool writeAll(int fd, StringRef contents, std::string &why) {
  raw_fd_ostream os(fd, /*shouldClose=*/true);
  os << contents;
  os.close();
  if (!os.has_error())
    return true;
  why = os.error().message();
  // Cleared, or the stream's destructor ends the process with "IO failure".
  os.clear_error();
  return false;
}

Error seqc::writeFileAtomic(StringRef path, StringRef contents) {
  sys::fs::file_status st;
  if (!sys::fs::status(path, st, /*follow=*/false) &&
      st.type() == sys::fs::file_type::character_file) {
    int fd = ::open(path.str().c_str(), O_WRONLY | O_CLOEXEC);
    std::string why;
    if (fd < 0 || !writeAll(fd, contents, why))
      return fail(path, "write failed: " +
                            (fd < 0 ? std::string(strerror(errno)) : why));
    return Error::success();
  }
  SmallString<256> tmp;
  if (Error e = createTempFile(path, tmp))
    return e;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  std::string why;
  if (fd < 0 || !writeAll(fd, contents, why)) {
    discardTempFile(tmp);
    return fail(
        path, "write failed: " + (fd < 0 ? std::string(strerror(errno)) : why) +
                  " (nothing was written)");
  }
  return commitTempFile(tmp, path);
}

Error seqc::writeOutputFile(StringRef path, StringRef contents,
                            const OutputPolicy &policy) {
  if (Error e = checkOutputFile(path, policy))
    return e;
  return writeFileAtomic(path, contents);
}
