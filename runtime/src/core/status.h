//===- core/status.h - status objects of the C API -------------*- C++ -*-===//

#ifndef SEQC_RUNTIME_CORE_STATUS_H
#define SEQC_RUNTIME_CORE_STATUS_H

#include "seqc/runtime.h"

#include <string>

struct seqc_status_t {
  std::string message;
};

namespace seqc::rt {

/// A failed status with a printf-formatted message.
seqc_status error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace seqc::rt

#endif // SEQC_RUNTIME_CORE_STATUS_H
