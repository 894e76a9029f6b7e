#pragma once
// One function per CLI verb; each lives in its own cmd_<verb>.cpp. Arguments exclude the verb.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pvfleet/util/number.hpp"

namespace pvfleet::edge_app {

using Args = std::vector<std::string>;

// A whole decimal integer, nullopt for anything else ("12x", "", out of range): option values of the verbs.
inline std::optional<int> to_int(const std::string& s) {
    return parse_number<int>(s);
}

int cmd_run(const Args& args);            // the agent: poll, detect, sync
int cmd_probe(const Args& args);          // identify one device, print one reading
int cmd_scan(const Args& args);           // list unit ids that answer on a bus
int cmd_replay(const Args& args);         // detectors over a CSV time series
int cmd_tickets(const Args& args);        // technician's view of local tickets
int cmd_hash_password(const Args& args);  // the local page's password as a PBKDF2 hash
int cmd_check_config(const Args& args);   // a site config checked, the effective config printed
int cmd_enroll(const Args& args);         // join the fleet with an enrollment code
int cmd_renew(const Args& args);          // renew the fleet certificate before it expires
int cmd_update_apply(const Args& args);   // the root updater (pvfleet-edge-update.service)

}  // namespace pvfleet::edge_app
