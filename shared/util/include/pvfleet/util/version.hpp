#pragma once
// The version this build of pvfleet reports: `--version`, the gateway's status (agent_version), its update
// health file and the server's start-up line. CMake's PVFLEET_VERSION (the project's, or
// PVFLEET_VERSION_OVERRIDE), compiled into one source file.
#include <string_view>

namespace pvfleet::util {

std::string_view program_version();

}  // namespace pvfleet::util
