#pragma once
#include <string>
#include <vector>

namespace pvfleet::edge_app {

// Runs one `pvfleet-edge` invocation; returns the process exit code.
int run_cli(const std::vector<std::string>& args);

}  // namespace pvfleet::edge_app
