#pragma once
// The simulator's network side on one single-threaded io_context: Modbus TCP listener (closed at night
// when the site refuses TCP), Modbus RTU on a pseudo-terminal, the loopback control port, the physics
// tick, and SIGINT/SIGTERM for a clean stop.
#include <iosfwd>
#include <optional>
#include <string>

#include "pvfleet/sim/simulation.hpp"

namespace pvfleet::sim {

struct ServerOptions {
    std::string listen_host = "127.0.0.1";
    int listen_port = 1502;                 // 0 = ephemeral
    bool tcp = true;
    bool rtu = false;
    std::string rtu_link;                   // symlink to the pty slave, empty = none
    unsigned rtu_baud = 9600;               // only for the silent interval
    std::optional<int> control_port;        // loopback; 0 = ephemeral
    Millis tick{200};                       // wall time between physics updates
};

// Runs until SIGINT/SIGTERM. Announces each bound endpoint on `announce` as one line:
// "listening tcp 127.0.0.1:40123", "listening rtu /dev/pts/7", "control tcp 127.0.0.1:40124".
// Returns the process exit code.
int run_server(Simulation& simulation, const ServerOptions& options, std::ostream& announce);

}  // namespace pvfleet::sim
