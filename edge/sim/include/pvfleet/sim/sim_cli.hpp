#pragma once
#include <string>
#include <vector>

namespace pvfleet::sim {

// Runs one `pvfleet-sim` invocation; returns the process exit code.
int run_cli(const std::vector<std::string>& args);

}  // namespace pvfleet::sim
