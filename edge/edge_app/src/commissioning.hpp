#pragma once
// Commissioning: `pvfleet-edge run --config FILE` on a gateway whose FILE does not exist yet (its first boot).
// Instead of exiting (a crash loop under systemd) the process stays up, tells systemd it is ready, and serves
// the local page alone (docs/local-ui.md, "First boot"): the installer logs in with the password of the
// commissioning password file, scans a bus, probes a device and saves the site config, which is checked like
// any config (every key path, the register maps), installed atomically as FILE, and started in this process.
// A FILE copied onto the gateway by other means is picked up the same way (looked for every few seconds).
// Executor only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::edge_app {

struct CommissioningOptions {
    std::filesystem::path config_file;    // absent: the reason commissioning runs
    std::filesystem::path password_file;  // the page's password hash (pvfleet-edge hash-password)
    std::string listen = "0.0.0.0";
    int port = 8090;
    std::chrono::milliseconds look_every{5000};  // for the config file and the password file
};

class Commissioning {
public:
    // `start_agent` starts the agent from an installed config (on the executor); an error leaves commissioning
    // running. `serve_page` serves the page with the given spec (called once the password file reads).
    Commissioning(boost::asio::io_context& io, const Clock& clock, CommissioningOptions options,
                  std::function<Status(agent::SiteConfig)> start_agent,
                  std::function<void(const agent::LocalUiSpec&)> serve_page);

    void start();
    void stop();
    [[nodiscard]] bool active() const { return active_; }

    // The page's GET state while commissioning: {"mode": "commissioning", "config_file", "now", "steps", …}.
    [[nodiscard]] nlohmann::json state() const;
    // A starting point for the page's editor: the keys an installer fills in, the page kept as it is now.
    [[nodiscard]] std::string template_config() const;
    [[nodiscard]] Status validate(std::string_view config_json) const;
    // Checked, installed as the config file, and started (posted: the page answers first). Returns the
    // config_version being started.
    Result<std::string> save(std::string_view config_json);

private:
    void look();
    void arm();
    void start_installed(agent::SiteConfig config, const std::string& how);

    boost::asio::io_context& io_;
    const Clock& clock_;
    CommissioningOptions options_;
    std::function<Status(agent::SiteConfig)> start_agent_;
    std::function<void(const agent::LocalUiSpec&)> serve_page_;
    boost::asio::steady_timer timer_;
    bool active_ = false;
    bool starting_ = false;
    bool page_served_ = false;
    std::string last_change_;        // the outcome of the last save, shown on the page
    std::string reported_problem_;   // the last problem logged about the files (logged once, not every look)
};

}  // namespace pvfleet::edge_app
