#include "pvfleet/edge_app/cli.hpp"

#include <iostream>
#include <map>

#include "pvfleet/util/version.hpp"
#include "verbs.hpp"

namespace pvfleet::edge_app {
namespace {
constexpr const char* kUsage = R"(usage: pvfleet-edge <command> [options]

commands:
  run      --config SITE.json     poll, detect and sync (the gateway agent); without the file: commissioning
  check-config SITE.json          check a site config (every error with its key path), print the effective one
  probe    --tcp HOST:PORT | --rtu DEVICE   identify one device and print a reading
  scan     --tcp HOST:PORT | --rtu DEVICE   list the unit ids that answer
  replay   --csv FILE ...         run the detectors over a recorded time series
  tickets  list | show ID | ack ID | resolve ID
  hash-password < PASSWORD        the local page's password hash (local_ui in the site config)
  enroll   --server https://HOST[:PORT] --code CODE [--ca FILE] [--config SITE.json]
                                  join the fleet: key made here, certificate signed by the server
  renew    [--config SITE.json] [--fraction 0.67] [--force]
                                  renew the fleet certificate (new key) once it is due
  update-apply [--state-dir DIR]  install a downloaded update, roll back if unhealthy (run by systemd)
  version                         print the agent version
)";
}  // namespace

int run_cli(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::cout << "pvfleet-edge " << util::program_version() << "\n";
        return 0;
    }
    if (args[0] == "--check-config") return cmd_check_config(Args(args.begin() + 1, args.end()));
    static const std::map<std::string, int (*)(const Args&)> verbs{
        {"run", cmd_run},       {"probe", cmd_probe},     {"scan", cmd_scan},
        {"replay", cmd_replay}, {"tickets", cmd_tickets}, {"hash-password", cmd_hash_password},
        {"check-config", cmd_check_config}, {"enroll", cmd_enroll},
        {"renew", cmd_renew},
        {"update-apply", cmd_update_apply}};
    if (auto it = verbs.find(args[0]); it != verbs.end()) {
        return it->second(Args(args.begin() + 1, args.end()));
    }
    std::cerr << "pvfleet-edge: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
}

}  // namespace pvfleet::edge_app
