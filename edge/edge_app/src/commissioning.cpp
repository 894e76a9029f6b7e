#include "commissioning.hpp"

#include <boost/asio/post.hpp>
#include <cctype>
#include <fstream>

#include "pvfleet/agent/config_check.hpp"
#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/local_ui/password.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::edge_app {
namespace {

using nlohmann::json;

// The hash on the first line of the password file, checked; an error saying why while it cannot be used.
Result<std::string> read_password_hash(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{"no password file " + file.string(), ErrorKind::not_found};
    std::string hash;
    std::getline(in, hash);
    while (!hash.empty() && std::isspace(static_cast<unsigned char>(hash.back()))) hash.pop_back();
    if (auto parsed = local_ui::parse_password_hash(hash); !parsed)
        return Error{file.string() + ": " + parsed.error().message};
    return hash;
}

}  // namespace

Commissioning::Commissioning(boost::asio::io_context& io, const Clock& clock, CommissioningOptions options,
                             std::function<Status(agent::SiteConfig)> start_agent,
                             std::function<void(const agent::LocalUiSpec&)> serve_page)
    : io_(io),
      clock_(clock),
      options_(std::move(options)),
      start_agent_(std::move(start_agent)),
      serve_page_(std::move(serve_page)),
      timer_(io) {}

void Commissioning::start() {
    active_ = true;
    PVF_LOG(warn, "agent",
            "no site config at " << options_.config_file.string()
                                 << ": commissioning mode (the local page only; the agent starts once a config "
                                    "is saved there or installed as that file)");
    look();
}

void Commissioning::stop() {
    active_ = false;
    timer_.cancel();
}

void Commissioning::arm() {
    timer_.expires_after(options_.look_every);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && active_) look();
    });
}

// The page once its password file reads; the agent once the config file appears and passes its checks.
void Commissioning::look() {
    if (!active_ || starting_) return;
    std::string problem;
    if (!page_served_) {
        if (auto hash = read_password_hash(options_.password_file)) {
            agent::LocalUiSpec spec{options_.listen, options_.port, options_.password_file, *hash};
            serve_page_(spec);
            page_served_ = true;
        } else {
            problem = "commissioning page not served: " + hash.error().message +
                      " (make one with: pvfleet-edge hash-password > " + options_.password_file.string() + ")";
        }
    }
    std::error_code ec;
    if (std::filesystem::exists(options_.config_file, ec)) {
        auto config = agent::check_site_config_file(options_.config_file);
        if (config) {
            start_installed(std::move(*config), "found");
            return;
        }
        problem += (problem.empty() ? "" : "; ") + options_.config_file.string() + ": bad site config:\n" +
                   config.error().message;
    }
    if (problem != reported_problem_ && !problem.empty()) PVF_LOG(error, "agent", problem);
    reported_problem_ = problem;
    arm();
}

void Commissioning::start_installed(agent::SiteConfig config, const std::string& how) {
    const std::string version = config.config_version;
    PVF_LOG(info, "agent", "site config " << version << " " << how << ": leaving commissioning mode");
    PVF_LOG(info, "agent", "effective config: " << agent::describe(config).dump());
    active_ = false;
    timer_.cancel();
    if (auto s = start_agent_(std::move(config)); !s) {
        // The file passed its checks but the agent could not be created from it (a store path that cannot be
        // opened, a broker URI the client refuses): the file is moved aside, so the next boot commissions
        // again rather than failing, and the page says why.
        last_change_ = "config " + version + " did not start (" + s.error().message + ")";
        PVF_LOG(error, "agent", last_change_);
        const auto aside = options_.config_file.string() + ".failed";
        std::error_code ec;
        std::filesystem::rename(options_.config_file, aside, ec);
        if (ec) PVF_LOG(error, "agent", "cannot move it aside to " << aside << ": " << ec.message());
        active_ = true;
        arm();
    }
}

json Commissioning::state() const {
    json out = {{"mode", "commissioning"},
                {"site_id", nullptr},
                {"config_version", nullptr},
                {"config_file", options_.config_file.string()},
                {"now", format_iso8601(clock_.now())},
                {"restarting", starting_},
                {"endpoints", json::array()},
                {"devices", json::array()},
                {"tickets", json::array()},
                {"link", {{"configured", false}, {"broker_connected", false}, {"backlog_depth", 0},
                          {"last_status_at", nullptr}}},
                {"today", nullptr}};
    if (!last_change_.empty()) out["last_config_change"] = last_change_;
    return out;
}

std::string Commissioning::template_config() const {
    // The packaged layout keeps state under /var/lib/pvfleet beside configs in /etc/pvfleet; elsewhere the
    // store sits beside the config file.
    const bool packaged = options_.config_file.parent_path() == "/etc/pvfleet";
    auto o = nlohmann::ordered_json::parse(R"({
      "format": 1, "site_id": "CHANGE-ME", "config_version": "1",
      "latitude": 0.0, "longitude": 0.0, "elevation_m": 0, "time_zone": "UTC",
      "endpoints": [{"id": "lan", "tcp": "192.168.1.20:502"}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "auto", "ac_kw": 5.0}],
      "arrays": [{"inverter": "inv1", "dc_kw": 5.0, "tilt": 30, "azimuth": 180}],
      "poll": {"fast_s": 10, "slow_s": 300}})");
    o["store"] = {{"path", packaged ? "/var/lib/pvfleet/edge.db" : "edge.db"}};
    o["local_ui"] = {{"listen", options_.listen},
                     {"port", options_.port},
                     {"password_file", options_.password_file.string()}};
    return o.dump(2) + "\n";
}

Status Commissioning::validate(std::string_view config_json) const {
    auto checked = agent::check_first_config(config_json, options_.config_file);
    if (!checked) return checked.error();
    return {};
}

Result<std::string> Commissioning::save(std::string_view config_json) {
    if (!active_ || starting_) return Error{"a config is being started; try again in a moment", ErrorKind::busy};
    auto checked = agent::check_first_config(config_json, options_.config_file);
    if (!checked) return checked.error();
    // Written the way an installer keeps it: indented, keys in the order they were sent.
    const auto ordered = nlohmann::ordered_json::parse(config_json, nullptr, false);
    const auto text = ordered.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    if (auto s = agent::install_first_config_file(options_.config_file, text); !s)
        return Error{"config not installed: " + s.error().message, s.error().kind};
    std::string version = checked->config_version;
    PVF_LOG(info, "agent",
            "local page: config " << version << " installed as " << options_.config_file.string());
    starting_ = true;
    // Posted: starting the agent may rebind the page, which must not happen inside the page's own request.
    boost::asio::post(io_, [this, config = std::move(*checked)]() mutable {
        starting_ = false;
        start_installed(std::move(config), "saved on the local page");
    });
    return version;
}

}  // namespace pvfleet::edge_app
