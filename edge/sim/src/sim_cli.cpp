#include "pvfleet/sim/sim_cli.hpp"

#include <iostream>

namespace pvfleet::sim {

int run_cli(const std::vector<std::string>& args) {
    if (!args.empty() && (args[0] == "version" || args[0] == "--version")) {
        std::cout << "pvfleet-sim " << PVFLEET_VERSION << "\n";
        return 0;
    }
    std::cout << "usage: pvfleet-sim --site SITE.json [--listen HOST:PORT] [--speed N] [--scenario FILE]\n";
    return args.empty() ? 2 : 0;
}

}  // namespace pvfleet::sim
