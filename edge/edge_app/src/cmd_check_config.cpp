// pvfleet-edge check-config [--config] SITE.json: the site config checked as `run` would check it (every key
// path, the register maps it names), without opening the store or contacting a device or the broker. Prints the
// effective config (secrets left out) and exits 0, or prints every error with its key path and exits 1 — for
// an installer before a restart, and for a service's ExecStartPre.
#include <iostream>
#include <optional>

#include "pvfleet/agent/config_check.hpp"
#include "verbs.hpp"

namespace pvfleet::edge_app {
namespace {
constexpr const char* kCheckUsage = R"(usage: pvfleet-edge check-config [--config] SITE.json
Checks a site config without running the agent: every error with its key path (exit 1), or the effective
config (exit 0). Also: pvfleet-edge --check-config SITE.json.
)";
}  // namespace

int cmd_check_config(const Args& args) {
    std::optional<std::string> path;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << kCheckUsage;
            return 0;
        }
        if (args[i] == "--config" && i + 1 < args.size() && !path) {
            path = args[++i];
        } else if (!args[i].starts_with("-") && !path) {
            path = args[i];
        } else {
            std::cerr << "pvfleet-edge check-config: unexpected '" << args[i] << "'\n" << kCheckUsage;
            return 2;
        }
    }
    if (!path) {
        std::cerr << "pvfleet-edge check-config: a site config file is required\n" << kCheckUsage;
        return 2;
    }
    auto config = agent::check_site_config_file(*path);
    if (!config) {
        std::cerr << *path << ": bad site config:\n" << config.error().message << "\n";
        return 1;
    }
    std::cout << agent::describe(*config).dump(2) << "\n";
    std::cerr << *path << ": ok\n";
    return 0;
}

}  // namespace pvfleet::edge_app
