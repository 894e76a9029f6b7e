#include <string>
#include <vector>

#include "pvfleet/edge_app/cli.hpp"

int main(int argc, char** argv) {
    return pvfleet::edge_app::run_cli(std::vector<std::string>(argv + 1, argv + argc));
}
