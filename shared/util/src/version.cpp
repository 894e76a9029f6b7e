#include "pvfleet/util/version.hpp"

#ifndef PVFLEET_VERSION
#error "PVFLEET_VERSION is set by shared/util/CMakeLists.txt"
#endif

namespace pvfleet::util {

std::string_view program_version() { return PVFLEET_VERSION; }

}  // namespace pvfleet::util
