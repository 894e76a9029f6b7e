#pragma once
// MQTT ingest of the server. Subscribes with a persistent session (messages queued by the broker while the
// server was down arrive when it is back), optionally through a shared subscription so several instances
// split the load. Received messages are decoded and checked against their topic, then written in group
// commits (one transaction per up to max_batch messages or max_delay); the store makes (site, seq)
// idempotent. A timer watches per-site sequence gaps and asks the gateway to resend. Everything runs on one
// strand: the Store is not shared. The server gives the ingest an io_context and thread of its own, so a long
// commit never holds up the HTTP API; send_command(), stats() and connected() may be called from any thread.
//
// Paho acknowledges a QoS 1 PUBLISH when it arrives, before the commit. A server killed between the two loses
// what it held in memory; the gap check finds the hole and the gateway, which keeps sent messages for a
// while, fills it (docs/protocol.md).
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pvfleet/mqtt/client.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::ingest {

struct IngestOptions {
    mqtt::ClientOptions mqtt;  // subscriptions are filled in by the ingestor
    std::string shared_group;  // non-empty: subscribe as "$share/<group>/…"
    storage::GapPolicy gaps;
    std::size_t max_batch = 2048;  // messages per transaction (a backlog fills them; live traffic commits every max_delay)
    Millis max_delay{25};         // longest a received message waits for its group commit
    Millis gap_check_interval{5'000};
    // Called on the ingest strand after each successful commit with the messages it stored (metrics, the
    // ingest benchmark's publish-to-commit latency).
    std::function<void(const std::vector<protocol::Message>&)> on_committed;
};

struct IngestStats {
    std::uint64_t received = 0;
    std::uint64_t rejected = 0;
    std::uint64_t applied = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t samples = 0;
    std::uint64_t points = 0;
    std::uint64_t ticket_events = 0;
    std::uint64_t commits = 0;
    std::uint64_t resend_requests = 0;
    std::uint64_t store_errors = 0;
    std::uint64_t work_orders_created = 0;
    std::uint64_t work_orders_updated = 0;
};

class Ingestor {
public:
    static Result<std::unique_ptr<Ingestor>> create(boost::asio::any_io_executor executor,
                                                    IngestOptions options, storage::Store& store,
                                                    const Clock& clock);
    ~Ingestor();
    Ingestor(const Ingestor&) = delete;
    Ingestor& operator=(const Ingestor&) = delete;

    void start();
    // Commits what is pending, disconnects; `done` runs on the executor.
    void stop(std::function<void()> done);

    // Publishes a downlink command to the site (QoS 1) and records it. From another thread it runs on the ingest
    // strand and waits for it (ErrorKind::busy when the strand does not take it within `timeout`).
    Status send_command(const protocol::Command& command, const std::string& issued_by,
                        Millis timeout = Millis{10'000});

    // A snapshot, updated after each message, commit and gap check.
    [[nodiscard]] IngestStats stats() const;
    [[nodiscard]] bool connected() const;

    struct Impl;

private:
    explicit Ingestor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pvfleet::ingest
