#include "command_handler.hpp"

#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::agent {
namespace {
// Command ids carried out are kept in the store under this key: a redelivery, even after a restart, is
// answered `duplicate`.
std::string command_key(const std::string& command_id) {
    return "command:" + command_id;
}
}  // namespace

void CommandHandler::on_command(const protocol::Command& cmd) {
    if (p_.config_lifecycle.restarting()) {
        // Not recorded: the agent that comes next carries it out when the server sends it again.
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::failed,
                 "the agent is restarting to apply a new config; send the command again");
        return;
    }
    if (auto seen = p_.db.cursor(command_key(cmd.command_id)); seen && *seen) {
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::duplicate, "already " + **seen);
        return;
    }
    if (probes_in_flight_.contains(cmd.command_id) ||
        (p_.log_bundles != nullptr && p_.log_bundles->running(cmd.command_id))) {
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::duplicate, "already in progress");
        return;
    }
    if (cmd.expires_at && *cmd.expires_at < p_.clock.now()) {
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::stale, "expired");
        return;
    }
    if (auto outcome = carry_out(cmd)) finish_command(cmd.command_id, cmd.type(), *outcome);
}

std::optional<CommandOutcome> CommandHandler::carry_out(const protocol::Command& cmd) {
    using protocol::AckStatus;
    if (const auto* ack = std::get_if<protocol::AckTicketCommand>(&cmd.body)) {
        auto r = acknowledge(ack->ticket_id, ack->by, ack->note);
        if (!r) return CommandOutcome{AckStatus::rejected, r.error().message};
        return CommandOutcome{};
    }
    if (const auto* res = std::get_if<protocol::ResolveTicketCommand>(&cmd.body)) {
        auto r = resolve(res->ticket_id, res->by);
        if (!r) return CommandOutcome{AckStatus::rejected, r.error().message};
        return CommandOutcome{};
    }
    if (const auto* rs = std::get_if<protocol::ResendCommand>(&cmd.body)) {
        auto n = p_.sync->engine().resend(rs->from_seq, rs->to_seq);
        if (!n) return CommandOutcome{AckStatus::failed, n.error().message};
        return CommandOutcome{AckStatus::done, std::to_string(*n) + " message(s) queued again"};
    }
    if (const auto* set = std::get_if<protocol::SetConfigCommand>(&cmd.body)) return set_config(cmd, *set);
    if (const auto* probe = std::get_if<protocol::ProbeCommand>(&cmd.body))
        return start_probe(cmd.command_id, probe->device_id);
    if (const auto* up = std::get_if<protocol::UpdateCommand>(&cmd.body)) {
        if (p_.updates == nullptr) return CommandOutcome{AckStatus::rejected, "this agent does not update itself"};
        auto now = p_.updates->start(cmd.command_id, *up);
        if (!now) return std::nullopt;  // acked as it goes
        return CommandOutcome{now->first, now->second};
    }
    if (const auto* bundle = std::get_if<protocol::LogBundleCommand>(&cmd.body)) {
        if (p_.log_bundles == nullptr)
            return CommandOutcome{AckStatus::rejected, "this agent sends no log bundles"};
        auto now = p_.log_bundles->start(cmd.command_id, *bundle);
        if (!now) return std::nullopt;  // accepted; the final ack follows from the handler
        return CommandOutcome{now->first, now->second};
    }
    return CommandOutcome{AckStatus::rejected, "command '" + std::string(protocol::to_string(cmd.type())) +
                                                   "' is not carried out by this agent version"};
}

// set_config (docs/site-config.md, "Changing the config remotely"): ordered against the one applied last,
// a patch merged into the current config file, checked completely, installed and applied by a restart
// (ConfigLifecycle). The ack waits for the outcome: the next agent acks `done`; when it cannot be created,
// the handler puts the previous file back, starts the previous config again, and that agent acks `failed`
// with the reason.
std::optional<CommandOutcome> CommandHandler::set_config(const protocol::Command& cmd,
                                                      const protocol::SetConfigCommand& set) {
    using protocol::AckStatus;
    auto& lifecycle = p_.config_lifecycle;
    if (!lifecycle.can_restart())
        return CommandOutcome{AckStatus::failed,
                              "this agent was not started from a config file it can replace"};
    auto last = lifecycle.last_applied();
    if (!last) return CommandOutcome{AckStatus::failed, "store: " + last.error().message};
    if (is_stale_config(cmd.issued_at, *last))
        return CommandOutcome{AckStatus::stale, "issued " + format_iso8601(cmd.issued_at) +
                                                    ", before the config applied last (issued " +
                                                    format_iso8601(**last) + ")"};
    // A patch (fleet config) becomes the whole config here; from then on both go the same way.
    std::string config_json = set.config_json;
    if (set.is_patch()) {
        auto patched = lifecycle.patched(set.patch_json, set.config_version);
        if (!patched) return CommandOutcome{AckStatus::failed, patched.error().message};
        config_json = std::move(*patched);
    }
    auto next = lifecycle.check(config_json);
    if (!next) return CommandOutcome{AckStatus::rejected, "config refused:\n" + next.error().message};
    if (auto s = lifecycle.install_and_restart(ConfigChange{cmd.command_id, cmd.issued_at, std::move(*next)},
                                               config_json);
        !s)
        return CommandOutcome{AckStatus::failed, s.error().message};
    return std::nullopt;
}

Result<domain::TicketEvent> CommandHandler::acknowledge(const std::string& id, const std::string& by,
                                                     const std::string& note) {
    auto r = p_.detection.acknowledge_ticket(id, by, note, p_.clock.now());
    if (!r) return r.error();
    p_.queue_ticket_events({*r});
    return std::move(r->event);
}

Result<domain::TicketEvent> CommandHandler::resolve(const std::string& id, const std::string& by) {
    auto r = p_.detection.resolve_ticket(id, by, p_.clock.now());
    if (!r) return r.error();
    p_.queue_ticket_events({*r});
    return std::move(r->event);
}

// probe: queued for the poll thread of the device's endpoint, which owns that Modbus session (the executor
// never waits on a device); the thread posts the reading back and finish_probe() acks it.
std::optional<CommandOutcome> CommandHandler::start_probe(const std::string& command_id,
                                                       const std::string& device_id) {
    if (p_.workers.queue_probe(device_id, [this, command_id](Result<std::string> detail) {
            finish_probe(command_id, detail);
        })) {
        probes_in_flight_.insert(command_id);
        return std::nullopt;
    }
    return CommandOutcome{
        protocol::AckStatus::rejected,
        "no device '" + device_id + "' in this site's config (devices: " + p_.workers.known_devices() + ")"};
}

void CommandHandler::finish_probe(const std::string& command_id, const Result<std::string>& detail) {
    probes_in_flight_.erase(command_id);
    finish_command(command_id, protocol::CommandType::probe,
                   detail ? CommandOutcome{protocol::AckStatus::done, *detail}
                          : CommandOutcome{protocol::AckStatus::failed, detail.error().message});
}

void CommandHandler::finish_command(const std::string& command_id, protocol::CommandType type,
                                 const CommandOutcome& outcome) {
    if (outcome.status == protocol::AckStatus::done)
        (void)p_.db.save_cursor(command_key(command_id), std::string(protocol::to_string(outcome.status)));
    constexpr size_t kLoggedDetail = 300;  // a probe's detail can be kilobytes
    PVF_LOG(info, "agent",
            "command " << command_id << " (" << protocol::to_string(type)
                       << "): " << protocol::to_string(outcome.status)
                       << (outcome.detail.empty() ? "" : ": " + outcome.detail.substr(0, kLoggedDetail))
                       << (outcome.detail.size() > kLoggedDetail ? "..." : ""));
    send_ack(command_id, type, outcome.status, outcome.detail);
}

protocol::CommandAck CommandHandler::make_ack(const std::string& command_id, protocol::CommandType type,
                                           protocol::AckStatus status, std::string detail) const {
    protocol::CommandAck ack;
    ack.site_id = p_.config.site_id;
    ack.command_id = command_id;
    ack.command = type;
    ack.status = status;
    ack.at = p_.clock.now();
    ack.detail = std::move(detail);
    return ack;
}

void CommandHandler::send_ack(const std::string& command_id, protocol::CommandType type,
                           protocol::AckStatus status, std::string detail) {
    send_ack(make_ack(command_id, type, status, std::move(detail)));
}

void CommandHandler::send_ack(protocol::CommandAck ack) {
    if (p_.sync == nullptr) return;
    auto payload = protocol::encode(ack);
    if (!payload) {
        PVF_LOG(error, "agent", "command ack: " << payload.error().message);
        return;
    }
    mqtt::Message m{protocol::topic_for(p_.config.site_id, protocol::MessageKind::command_ack),
                    std::move(*payload), 1, false};
    p_.sync->client().publish(std::move(m), [](const Status& s) {
        if (!s) PVF_LOG(warn, "agent", "command ack not sent: " << s.error().message);
    });
}

void CommandHandler::update_ack(const std::string& command_id, protocol::AckStatus status, const std::string& detail,
                                bool final) {
    if (final) {
        (void)p_.db.save_cursor(command_key(command_id), std::string(protocol::to_string(status)));
        PVF_LOG(info, "agent", "command " << command_id << " (update): " << protocol::to_string(status) << ": "
                                          << detail.substr(0, 300));
    }
    send_ack(command_id, protocol::CommandType::update, status, detail);
}

void CommandHandler::log_bundle_ack(const std::string& command_id, protocol::AckStatus status,
                                    const std::string& detail, bool final) {
    if (final) return finish_command(command_id, protocol::CommandType::log_bundle, {status, detail});
    send_ack(command_id, protocol::CommandType::log_bundle, status, detail);
}

void CommandHandler::send_waiting_acks() {
    auto waiting = std::move(acks_waiting_for_link_);
    acks_waiting_for_link_.clear();
    for (auto& ack : waiting) send_ack(std::move(ack));
}

void CommandHandler::finish_config_change(const ConfigChange& change, const Status& outcome) {
    const auto done = p_.config_lifecycle.finish(change, outcome);
    if (change.command_id.empty()) return;  // saved on the local page: no command to answer
    const CommandOutcome result{done.applied ? protocol::AckStatus::done : protocol::AckStatus::failed, done.detail};
    // Recorded either way: a redelivery must not restart the agent again (a config that failed fails again).
    (void)p_.db.save_cursor(command_key(change.command_id), std::string(protocol::to_string(result.status)));
    PVF_LOG(info, "agent",
            "command " << change.command_id << " (set_config): " << protocol::to_string(result.status) << ": "
                       << result.detail);
    // The link is not up yet: the ack goes out at the connect.
    acks_waiting_for_link_.push_back(
        make_ack(change.command_id, protocol::CommandType::set_config, result.status, result.detail));
}

}  // namespace pvfleet::agent
