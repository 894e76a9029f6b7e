#pragma once
// Enrollment as `pvfleet-edge enroll` and the gateway page's enrollment screen both run it (cmd_enroll.cpp):
// key and CSR made here, the code spent at the server, the credentials and the config written atomically.
#include <chrono>
#include <string>
#include <vector>

#include "pvfleet/util/result.hpp"

namespace pvfleet::edge_app {

struct EnrollInput {
    std::string server;  // https://HOST[:PORT]
    std::string code;    // as typed
    std::string ca_file;  // the server's HTTPS CA; empty: the system's trusted CAs
    std::string config_file;
    std::chrono::seconds timeout{30};
};

struct EnrollSummary {
    std::string site_id, serial, not_after, broker_uri;
    bool config_installed = false;  // false: enrollment.json written for the commissioning page
    std::vector<std::string> lines;     // what happened, for the installer
    std::vector<std::string> warnings;  // non-fatal
};

// Errors say what failed and whether the code was spent; a refusal carries the server's reason.
Result<EnrollSummary> enroll_gateway(const EnrollInput& in);

}  // namespace pvfleet::edge_app
