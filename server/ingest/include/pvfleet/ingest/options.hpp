#pragma once
// What the server's config sets for ingest, and the counters it reports.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/mqtt/client.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::ingest {

struct IngestOptions {
    mqtt::ClientOptions mqtt;  // subscriptions are filled in by the ingestor
    std::string shared_group;  // non-empty: subscribe as "$share/<group>/…"
    GapPolicy gaps;
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

}  // namespace pvfleet::ingest
