//===- ReadFile.cpp - read a whole file that a user named -----------------===//

#include "seqc/Support/ReadFile.h"

#include <cerrno>
#include <cstring>
#include <new>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

bool seqc::readRegularFile(const std::string &path, std::string &out,
                           std::string &error, size_t maxBytes) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = false;
  if (fstat(fd, &st) != 0)
    error = path + ": cannot stat: " + std::strerror(errno);
  else if (S_ISDIR(st.st_mode))
    error = path + ": is a directory, not a file";
  else if (!S_ISREG(st.st_mode))
    error = path + ": not a regular file";
  else if ((uint64_t)st.st_size > maxBytes)
    error = path + ": " + std::to_string(st.st_size) +
            " bytes, more than the " + std::to_string(maxBytes) +
            " this reader takes";
  else
    ok = true;
  if (ok) {
    try {
      out.assign((size_t)st.st_size, '\0');
    } catch (const std::bad_alloc &) {
      error = path + ": not enough memory to read it";
      ok = false;
    }
  }
  for (size_t at = 0; ok && at < out.size();) {
    ssize_t n = read(fd, &out[at], out.size() - at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = path + ": read failed: " +
              (n < 0 ? std::strerror(errno) : "the file shrank");
      ok = false;
    }
    at += n > 0 ? (size_t)n : 0;
  }
  close(fd);
  return ok;
}
