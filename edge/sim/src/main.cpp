#include <string>
#include <vector>

#include "pvfleet/sim/sim_cli.hpp"

int main(int argc, char** argv) { return pvfleet::sim::run_cli(std::vector<std::string>(argv + 1, argv + argc)); }
