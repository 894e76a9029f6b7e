#pragma once
// Downlink commands (docs/protocol.md): acknowledge or resolve a ticket (recorded like a technician's action on
// site), resend a range of seqs, install a new site config and restart with it (set_config, through the
// ConfigLifecycle it shares with the local page), read one device now (probe). A command id carried out before is
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
#include "pvfleet/agent/config_lifecycle.hpp"
#include "pvfleet/agent/log_bundle_handler.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "pvfleet/sync/service.hpp"
#include "update_handler.hpp"

namespace pvfleet::agent {

struct CommandOutcome {
    protocol::AckStatus status = protocol::AckStatus::done;
    std::string detail;
};

class CommandHandler {
public:
    struct Parts {
        store::GatewayStore& db;
        const Clock& clock;
        const SiteConfig& config;
        boost::asio::any_io_executor executor;
        PollWorkers& workers;
        ConfigLifecycle& config_lifecycle;  // set_config installs and restarts through it
        sync::SyncService* sync;  // nullptr without a broker: acks go nowhere
        store::PersistentDetection& detection;  // technicians' ticket actions go through its book
        // Queues ticket events just recorded for the server.
        std::function<void(const std::vector<store::StoredEvent>&)> queue_ticket_events;
        UpdateHandler* updates;  // the update command (nullptr: refused)
        LogBundleHandler* log_bundles = nullptr;  // the log_bundle command (nullptr: refused)
    };
    explicit CommandHandler(Parts parts) : p_(std::move(parts)) {}

    void on_command(const protocol::Command& cmd);
    // Acks that waited for the broker link (a set_config's outcome after the restart).
    void send_waiting_acks();

    // Ticket actions from a command or the local page: recorded in the store, the event queued for the server.
    Result<domain::TicketEvent> acknowledge(const std::string& id, const std::string& by, const std::string& note);
    Result<domain::TicketEvent> resolve(const std::string& id, const std::string& by);

    // An update command's ack from its handler (a final one is recorded, so a redelivery is a duplicate).
    void update_ack(const std::string& command_id, protocol::AckStatus status, const std::string& detail, bool final);
    // A log_bundle command's ack from its handler (a final `done` is recorded).
    void log_bundle_ack(const std::string& command_id, protocol::AckStatus status, const std::string& detail,
                        bool final);

    // After the restart for `change` (see Agent::finish_config_change): a set_config's ack waits for the link.
    void finish_config_change(const ConfigChange& change, const Status& outcome);

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
    std::set<std::string> probes_in_flight_;                  // command ids
    std::vector<protocol::CommandAck> acks_waiting_for_link_;  // sent at the next connect
};

}  // namespace pvfleet::agent
