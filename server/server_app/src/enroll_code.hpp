#pragma once
// `pvfleet-server enroll-code create|list|revoke`: the back office's enrollment codes from the command line
// (docs/fleet-enrollment.md). The caller has loaded the config and opened the database.
#include <string>
#include <vector>

#include "pvfleet/server_app/config.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::server_app {

// `rest`: the words after "enroll-code" (the subcommand and its options, --config already taken out).
// Returns the exit code: 0 done, 1 refused (unknown site, used code), 2 bad command line.
int run_enroll_code(const std::vector<std::string>& rest, const ServerConfig& config, storage::Db& db,
                    const Clock& clock);

// The usage lines of the verb.
extern const char* const kEnrollCodeUsage;

}  // namespace pvfleet::server_app
