#pragma once
#include <string>
#include <vector>

namespace pvfleet::server_app {

// Runs one `pvfleet-server` invocation; returns the process exit code.
int run_cli(const std::vector<std::string>& args);

}  // namespace pvfleet::server_app
