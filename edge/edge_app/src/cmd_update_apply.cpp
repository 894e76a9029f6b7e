// `pvfleet-edge update-apply`: the root updater, run by pvfleet-edge-update.service (docs/updates.md). Carries a
// requested update through (or resumes one a power cut interrupted) and writes its outcome for the agent.
#include <iostream>
#include <map>

#include "pvfleet/update/update.hpp"
#include "pvfleet/util/data_dir.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/systemd.hpp"
#include "verbs.hpp"

namespace pvfleet::edge_app {
namespace {
constexpr const char* kUpdateUsage = R"(usage: pvfleet-edge update-apply [--state-dir /var/lib/pvfleet] [--deadline SECONDS]
  installs the package the agent downloaded and verified (update/request.json), keeping the running version's
  package; rolls back when the new agent does not report healthy within the deadline (default 180 s).
)";
}  // namespace

int cmd_update_apply(const Args& args) {
    std::map<std::string, std::string> o{{"--state-dir", "/var/lib/pvfleet"}, {"--deadline", "180"}};
    for (std::size_t i = 0; i < args.size(); i += 2) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << kUpdateUsage;
            return 0;
        }
        if ((args[i] != "--state-dir" && args[i] != "--deadline") || i + 1 >= args.size()) {
            std::cerr << "pvfleet-edge update-apply: unexpected argument '" << args[i] << "'\n" << kUpdateUsage;
            return 2;
        }
        o[args[i]] = args[i + 1];
    }
    const auto deadline = to_int(o["--deadline"]);
    if (!deadline || *deadline < 10 || *deadline > 3600) {
        std::cerr << "pvfleet-edge update-apply: --deadline: expected 10..3600 seconds\n";
        return 2;
    }
    if (systemd::stderr_is_journal()) log::set_journal_format(true);
    const update::Layout layout{o["--state-dir"], "/var/lib/pvfleet-update"};
    update::UpdaterOptions options;
    options.health_deadline = std::chrono::seconds(*deadline);
    // The keys of the package running now: an update can only be installed if this version trusts its signer.
    auto dir = find_data_dir("release-keys", std::nullopt, "PVFLEET_RELEASE_KEYS_DIR", "release-key folder", "");
    if (dir) {
        if (auto keys = release::load_public_keys(*dir)) options.keys = std::move(*keys);
    }
    auto system = update::real_system(layout);
    auto outcome = update::run_updater(layout, *system, options);
    if (!outcome) {
        std::cerr << "pvfleet-edge update-apply: " << outcome.error().message << "\n";
        return 1;
    }
    if (!*outcome) {
        std::cout << "nothing to do\n";
        return 0;
    }
    std::cout << (*outcome)->status << ": " << (*outcome)->detail << "\n";
    return 0;
}

}  // namespace pvfleet::edge_app
