//===- drivers/registry.cpp - the target -> driver table ------------------===//

#include "drivers/driver.h"

namespace seqc::rt {

#define SEQC_DRIVER(target, factory) const Driver &factory();
#include "drivers/drivers.def"
#undef SEQC_DRIVER

const Driver *findDriver(const std::string &target) {
#define SEQC_DRIVER(name, factory)                                             \
  if (target == #name)                                                         \
    return &factory();
#include "drivers/drivers.def"
#undef SEQC_DRIVER
  return nullptr;
}

std::string driverNames() {
  std::string names;
#define SEQC_DRIVER(name, factory)                                             \
  names += (names.empty() ? "" : ", ") + std::string(#name);
#include "drivers/drivers.def"
#undef SEQC_DRIVER
  return names;
}

} // namespace seqc::rt
