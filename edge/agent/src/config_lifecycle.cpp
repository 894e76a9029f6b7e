#include "pvfleet/agent/config_lifecycle.hpp"

#include <boost/asio/post.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::agent {

Result<SiteConfig> ConfigLifecycle::check(std::string_view config_json) const {
    return check_pushed_config(config_json, p_.config);
}

Result<std::string> ConfigLifecycle::patched(std::string_view patch_json,
                                             const std::string& config_version) const {
    if (!p_.config.config_file)
        return Error{"this agent was not started from a config file", ErrorKind::unsupported};
    const auto& file = *p_.config.config_file;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in) return Error{"config file " + file.string() + ": cannot be read", ErrorKind::io};
    auto merged = apply_config_patch(text.str(), patch_json, config_version);
    if (!merged) return Error{"config file " + file.string() + ": " + merged.error().message};
    return merged;
}

Result<std::optional<TimePoint>> ConfigLifecycle::last_applied() const {
    auto applied = p_.db.cursor(std::string(kAppliedConfigIssuedAtKey));
    if (!applied) return applied.error();
    return *applied ? decode_issued_at(**applied) : std::nullopt;
}

// The part of set_config the local page's "save" shares: install the checked config as the file, then
// restart with it through the caller's handler.
Status ConfigLifecycle::install_and_restart(ConfigChange change, std::string_view config_json) {
    // Written the way an installer keeps it: indented, keys in the order they were sent.
    const auto ordered = nlohmann::ordered_json::parse(config_json, nullptr, false);
    const auto text = ordered.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    if (auto s = install_config_file(*p_.config.config_file, text); !s)
        return Error{"config not installed: " + s.error().message, s.error().kind};
    restarting_ = true;
    PVF_LOG(info, "agent",
            (change.command_id.empty() ? "local page" : "command " + change.command_id + " (set_config)")
                << ": config " << change.config.config_version << " installed as "
                << p_.config.config_file->string() << " (the previous one kept as "
                << previous_config_path(*p_.config.config_file).string() << "); restarting with it");
    // Posted: the handler stops and destroys this agent, which must not happen inside its own MQTT callback
    // or HTTP request.
    boost::asio::post(p_.executor, [handler = restart_handler_, change = std::move(change)]() mutable {
        handler(std::move(change));
    });
    return {};
}

Result<std::string> ConfigLifecycle::apply_from_local_page(std::string_view config_json) {
    if (restarting_) return Error{"a config change is already being applied", ErrorKind::busy};
    if (!can_restart())
        return Error{"this agent was not started from a config file it can replace", ErrorKind::unsupported};
    auto next = check(config_json);
    if (!next) return next.error();
    std::string version = next->config_version;
    // Ordered like a set_config issued now: a set_config the server issued before this save is stale.
    if (auto s = install_and_restart(ConfigChange{"", p_.clock.now(), std::move(*next)}, config_json); !s)
        return Error{s.error().message, ErrorKind::io};
    return version;
}

ConfigLifecycle::Outcome ConfigLifecycle::finish(const ConfigChange& change, const Status& outcome) {
    Outcome result;
    if (outcome) {
        if (auto s =
                p_.db.save_cursor(std::string(kAppliedConfigIssuedAtKey), encode_issued_at(change.issued_at));
            !s)
            PVF_LOG(error, "agent", "set_config: applied time not stored: " << s.error().message);
        result = {true, "config " + p_.config.config_version + " applied"};
    } else {
        result = {false, "config " + change.config.config_version + " did not start (" + outcome.error().message +
                             "); config " + p_.config.config_version + " restored"};
    }
    if (change.command_id.empty()) {
        // Saved on the local page: no command to answer; the status heartbeat reports the config_version.
        PVF_LOG(info, "agent",
                "local page config change: " << (result.applied ? "done" : "failed") << ": " << result.detail);
        last_local_change_ = result.detail;
    }
    return result;
}

}  // namespace pvfleet::agent
