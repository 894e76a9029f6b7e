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
#include <memory>
#include <string>
#include <vector>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::agent {

struct AgentStats {
    uint64_t samples = 0;
    uint64_t ticket_events = 0;
    uint64_t no_answers = 0;
};

class Agent {
public:
    static Result<std::unique_ptr<Agent>> create(SiteConfig config, boost::asio::any_io_executor executor,
                                                 const Clock& clock);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    void start();
    // Staged: stop the poll threads (their in-flight request finishes or times out), drain what they posted,
    // flush the sync's batch to the outbox, disconnect. Call on the executor; `done` runs there.
    void stop(std::function<void()> done);
    // False while a poll thread is still inside a Modbus request after stop(): everything worth keeping is
    // committed by then, so the caller may exit without waiting for that request to time out.
    [[nodiscard]] bool idle() const;

    [[nodiscard]] const AgentStats& stats() const;
    [[nodiscard]] const SiteConfig& config() const;

    struct Impl;

private:
    explicit Agent(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pvfleet::agent
