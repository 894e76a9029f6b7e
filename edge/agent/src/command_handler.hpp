#pragma once
// Downlink commands (docs/protocol.md) and the config lifecycle they share with the local page: acknowledge or
// resolve a ticket (recorded like a technician's action on site), resend a range of seqs, install a new site
// config and restart with it (set_config), read one device now (probe). A command id carried out before is
// acked `duplicate` and not carried out again (ids are kept in the store); an expired one is acked `stale`.
// Executor only.
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "poll_workers.hpp"
#include "pvfleet/agent/agent.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/store/store.hpp"
#include "pvfleet/sync/service.hpp"

namespace pvfleet::agent {

struct CommandOutcome {
    protocol::AckStatus status = protocol::AckStatus::done;
    std::string detail;
};

class CommandHandler {
public:
    struct Parts {
        store::Store& db;
        const Clock& clock;
        const SiteConfig& config;
        boost::asio::any_io_executor executor;
        PollWorkers& workers;
        sync::SyncService* sync;  // nullptr without a broker: acks go nowhere
        // Queues what the store recorded (ticket events of technicians' actions) for the server.
        std::function<void()> forward_ticket_events;
    };
    explicit CommandHandler(Parts parts) : p_(std::move(parts)) {}

    void on_command(const protocol::Command& cmd);
    // Acks that waited for the broker link (a set_config's outcome after the restart).
    void send_waiting_acks();

    // Ticket actions from a command or the local page: recorded in the store, the event queued for the server.
    Result<domain::TicketEvent> acknowledge(const std::string& id, const std::string& by, const std::string& note);
    Result<domain::TicketEvent> resolve(const std::string& id, const std::string& by);

    // ---- config lifecycle ----
    void set_restart_handler(RestartHandler handler) { restart_handler_ = std::move(handler); }
    [[nodiscard]] bool can_restart() const { return restart_handler_ && p_.config.config_file; }
    // A config is installed and this agent is about to be replaced: no new work is taken.
    [[nodiscard]] bool restarting() const { return restarting_; }
    // Installs the checked config as the file, then restarts with it through the restart handler.
    Status install_and_restart(ConfigChange change, std::string_view config_json);
    // See Agent::finish_config_change.
    void finish_config_change(const ConfigChange& change, const Status& outcome);
    // Outcome of the last config saved on the local page, shown there; empty when none.
    [[nodiscard]] const std::string& last_local_change() const { return last_local_change_; }

private:
    // nullopt: answered later (a probe runs on a poll thread; a set_config restarts the agent).
    std::optional<CommandOutcome> carry_out(const protocol::Command& cmd);
    std::optional<CommandOutcome> set_config(const protocol::Command& cmd, const protocol::SetConfigCommand& set);
    std::optional<CommandOutcome> start_probe(const std::string& command_id, const std::string& device_id);
    void finish_probe(const std::string& command_id, const Result<std::string>& detail);
    void finish_command(const std::string& command_id, protocol::CommandType type, const CommandOutcome& outcome);
    [[nodiscard]] protocol::CommandAck make_ack(const std::string& command_id, protocol::CommandType type,
                                                protocol::AckStatus status, std::string detail) const;
    void send_ack(const std::string& command_id, protocol::CommandType type, protocol::AckStatus status,
                  std::string detail);
    void send_ack(protocol::CommandAck ack);

    Parts p_;
    RestartHandler restart_handler_;
    bool restarting_ = false;
    std::set<std::string> probes_in_flight_;                  // command ids
    std::vector<protocol::CommandAck> acks_waiting_for_link_;  // sent at the next connect
    std::string last_local_change_;
};

}  // namespace pvfleet::agent
