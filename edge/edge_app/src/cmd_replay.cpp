#include <iostream>

#include "commands.hpp"

namespace pvfleet::edge_app {

int cmd_replay(const Args& /*args*/) {
    std::cerr << "pvfleet-edge replay: not available in this build yet\n";
    return 3;
}

}  // namespace pvfleet::edge_app
