#pragma once
// The site config's lifecycle on a running agent (docs/site-config.md, "Changing the config remotely"): a new
// config — from a set_config command or saved on the local page — is checked completely (every key path of the
// parser, the site id), installed atomically as the config file, and applied by replacing this agent with one
// created from the new config (the caller's restart handler). After the restart the outcome is recorded: for a
// command, the issued_at later set_configs are ordered against; for the local page, the text it shows.
// Decision: a restart in the same process rather than changing the running pipeline piece by piece, because
// every part (endpoints, maps, store, detection, broker link) may change, and a fresh Agent::create checks all
// of them exactly as at start-up. Executor only.
#include <boost/asio/any_io_executor.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/agent/agent.hpp"
#include "pvfleet/store/gateway_store.hpp"

namespace pvfleet::agent {

class ConfigLifecycle {
public:
    struct Parts {
        store::GatewayStore& db;  // keeps the applied set_config's issued_at
        const Clock& clock;
        const SiteConfig& config;  // the running one
        boost::asio::any_io_executor executor;
    };
    explicit ConfigLifecycle(Parts parts) : p_(std::move(parts)) {}

    void set_restart_handler(RestartHandler handler) { restart_handler_ = std::move(handler); }
    [[nodiscard]] bool can_restart() const { return restart_handler_ && p_.config.config_file; }
    // A config is installed and this agent is about to be replaced: no new work is taken.
    [[nodiscard]] bool restarting() const { return restarting_; }

    // A config for this site checked like a set_config's (every key path; the site id must stay), not saved.
    [[nodiscard]] Result<SiteConfig> check(std::string_view config_json) const;
    // A set_config's patch applied to the running config's file (apply_config_patch): the whole config to
    // check and install, or why the file could not be patched ("config file F: …").
    [[nodiscard]] Result<std::string> patched(std::string_view patch_json,
                                              const std::string& config_version) const;
    // The issued_at of the set_config applied last (nullopt: none yet).
    [[nodiscard]] Result<std::optional<TimePoint>> last_applied() const;
    // Installs the checked config as the file, then restarts with it through the restart handler.
    Status install_and_restart(ConfigChange change, std::string_view config_json);
    // A config saved on the local page: checked, installed and applied like a set_config issued now; returns
    // the config_version being applied. See Agent::apply_config.
    Result<std::string> apply_from_local_page(std::string_view config_json);

    // After the restart for `change`: records the outcome (the applied issued_at, or for the local page the
    // text it shows) and returns it as an ack would carry it: applied or not, and the detail.
    struct Outcome {
        bool applied = false;
        std::string detail;
    };
    Outcome finish(const ConfigChange& change, const Status& outcome);
    // Outcome of the last config saved on the local page, shown there; empty when none.
    [[nodiscard]] const std::string& last_local_change() const { return last_local_change_; }

private:
    Parts p_;
    RestartHandler restart_handler_;
    bool restarting_ = false;
    std::string last_local_change_;
};

}  // namespace pvfleet::agent
