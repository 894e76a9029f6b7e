#pragma once
// The running gateway agent (`pvfleet-edge run`): one poll thread per endpoint (blocking Modbus stays off the
// executor), detection and storage on the Asio executor, sync over MQTT when the site config has a broker.
//
//   poll thread ──post──► executor: store telemetry → detection (SQLite transaction) → sync outbox → MQTT
//
// Devices with profile auto/sunspec are identified on their endpoint's thread at start and, while they do not
// answer (asleep at night, offline), again every `identify_retry` until they do.
#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/agent/clock_sync.hpp"
#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"
#include "pvfleet/util/time_system.hpp"

namespace pvfleet::agent {

struct AgentStats {
    uint64_t samples = 0;
    uint64_t ticket_events = 0;
    uint64_t no_answers = 0;
};

// A set_config that passed every check and is installed as the config file: the agent that received it asks
// to be replaced by one running `config` (docs/site-config.md, "Changing the config remotely").
struct ConfigChange {
    std::string command_id;  // empty: saved from the local page (no command to ack)
    TimePoint issued_at;
    SiteConfig config;
};
using RestartHandler = std::function<void(ConfigChange)>;

// Whether the wall clock may stamp samples yet, and the monotonic clock held samples are restamped from
// (clock_sync.hpp). Left out: the clock is trusted and std::chrono::steady_clock is the monotonic one.
struct AgentClocks {
    const ClockSync* sync = nullptr;
    const Clock* steady = nullptr;
};

class Agent {
public:
    // `time`: the wall clock (samples, tickets, commands) and detection's periodic tick; its timers must fire on
    // `executor` (pvfleet::asio::AsioTimeSystem in production). Its clock is also read on the poll threads.
    static Result<std::unique_ptr<Agent>> create(SiteConfig config, boost::asio::any_io_executor executor,
                                                 TimeSystem& time, AgentClocks clocks = {});
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Where a set_config goes once installed (runs on the executor; the handler stops this agent and creates
    // the next). Without one, set_config is answered `failed`: nothing could apply it. Set before start().
    void on_restart_requested(RestartHandler handler);
    // After the restart for `change`: records the outcome in the store (the command id, and when applied the
    // issued_at that later set_configs are ordered against) and acks the command `done`, or `failed` with
    // the outcome's error, as soon as the broker link is up. Call before start().
    void finish_config_change(const ConfigChange& change, const Status& outcome);

    void start();
    // Staged: stop the poll threads (their in-flight request finishes or times out), drain what they posted,
    // flush the sync's batch to the outbox, disconnect. Call on the executor; `done` runs there.
    void stop(std::function<void()> done);
    // False while a poll thread is still inside a Modbus request after stop(): everything worth keeping is
    // committed by then, so the caller may exit without waiting for that request to time out.
    [[nodiscard]] bool idle() const;

    // ---- the gateway's local page (edge/local_ui, docs/local-ui.md); call on the executor ----
    // Site, devices with their latest readings, today's energy against the clear-sky expectation, the broker
    // link and the open/acknowledged tickets: the page's GET /local/api/state.
    [[nodiscard]] nlohmann::json local_state() const;
    // The downlink ack_ticket / resolve_ticket path: recorded in the store, the event queued for the server.
    Result<domain::Ticket> acknowledge_ticket(const std::string& id, const std::string& by,
                                              const std::string& note);
    Result<domain::Ticket> resolve_ticket(const std::string& id, const std::string& by);
    // The probe command's reading of a configured device, on its endpoint's poll thread; `done` runs on the
    // executor with the probe detail (JSON text). Refused at once for an unknown device.
    Status probe(const std::string& device_id, std::function<void(Result<std::string>)> done);
    // Runs `task` on the poll thread of a configured endpoint, between polls, with its Modbus session: the
    // one link a serial line or a one-connection inverter allows. The task posts its own result back.
    // Dropped without running when the agent stops first.
    Status run_on_endpoint(const std::string& endpoint_id, std::function<void(modbus::ModbusBus&)> task);
    // A config for this site checked like a set_config's (every key path; the site id must stay), not saved.
    [[nodiscard]] Result<SiteConfig> check_config(std::string_view config_json) const;
    // Checked, installed atomically as the config file, and applied by the set_config restart; returns the
    // config_version being applied. ErrorKind::invalid: refused (every error with its key path).
    Result<std::string> apply_config(std::string_view config_json);

    [[nodiscard]] const AgentStats& stats() const;
    // Samples held, restamped and dropped for the clock's sake, and the steps seen (executor only).
    [[nodiscard]] const ClockGate::Stats& clock_stats() const;
    [[nodiscard]] const SiteConfig& config() const;

    struct Impl;

private:
    explicit Agent(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pvfleet::agent
