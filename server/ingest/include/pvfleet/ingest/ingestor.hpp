#pragma once
// MQTT ingest of the server. Subscribes with a persistent session (messages queued by the broker while the
// server was down arrive when it is back), optionally through a shared subscription so several instances
// split the load. Received messages are decoded and checked against their topic, then written in group
// commits (one transaction per up to max_batch messages or max_delay, GroupCommitter); the Ledger makes
// (site, seq) idempotent. A timer watches per-site sequence gaps and asks the gateway to resend. Everything runs
// on one strand: the Store's connection is not shared. The server gives the ingest an io_context and thread of
// its own, so a long commit never holds up the HTTP API; send_command(), stats() and connected() may be called from any thread.
//
// Paho acknowledges a QoS 1 PUBLISH when it arrives, before the commit. A server killed between the two loses
// what it held in memory; the gap check finds the hole and the gateway, which keeps sent messages for a
// while, fills it (docs/protocol.md).
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "pvfleet/ingest/options.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::ingest {

class Ingestor {
public:
    // `clock` stamps what the ledger stores; `ticket_sink` (optional) turns ticket events into work orders in
    // the same transaction.
    static Result<std::unique_ptr<Ingestor>> create(boost::asio::any_io_executor executor,
                                                    IngestOptions options, storage::Store& store,
                                                    const Clock& clock,
                                                    storage::TicketEventSink* ticket_sink = nullptr);
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
