#pragma once
// The seam between ingest and work orders: ingest (pvfleet::ingest::Ledger) calls the sink inside its
// transaction for every new ticket event, so a ticket and its work order commit together (or not at all).
// Declared here rather than in ingest because the implementation (storage::WorkOrderSink) writes work orders
// in the database, and storage must not depend on ingest.
#include <cstdint>
#include <string>

#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::storage {

// What one ingest transaction did.
struct IngestOutcome {
    std::uint64_t applied = 0;     // sequenced messages stored for the first time
    std::uint64_t duplicates = 0;  // (site, seq) seen before: dropped
    std::uint64_t samples = 0;     // telemetry samples stored
    std::uint64_t points = 0;      // numeric points stored
    std::uint64_t ticket_events = 0;
    std::uint64_t statuses = 0;
    std::uint64_t acks = 0;
    std::uint64_t work_orders_created = 0;
    std::uint64_t work_orders_updated = 0;
};

class TicketEventSink {
public:
    virtual ~TicketEventSink() = default;
    virtual Status on_ticket_event(Db& db, const std::string& site_id, const domain::TicketEvent& event,
                                   bool historical, TimePoint now, IngestOutcome& outcome) = 0;
};

}  // namespace pvfleet::storage
