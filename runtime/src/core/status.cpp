//===- core/status.cpp - status objects of the C API ----------------------===//

#include "core/status.h"

#include <cstdarg>
#include <cstdio>

seqc_status seqc::rt::error(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return new seqc_status_t{buf};
}

extern "C" {

const char *seqc_status_message(seqc_status status) {
  return status ? status->message.c_str() : "";
}

void seqc_status_free(seqc_status status) { delete status; }

} // extern "C"
