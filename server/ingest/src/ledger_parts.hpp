#pragma once
// The parts of the ledger, one file each: sequence bookkeeping (sequences.cpp), raw telemetry and its
// aggregates (telemetry_writer.cpp, sample_json.cpp), ticket events and the work-order hook (ticket_events.cpp).
// Every function runs inside the caller's transaction unless it says otherwise.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/util/result.hpp"

namespace date {
class time_zone;
}

namespace pvfleet::ingest {

inline std::int64_t i64(std::uint64_t v) {
    return static_cast<std::int64_t>(v);
}

// --- sequences.cpp
// Moves each touched site's contiguous prefix over the seqs now stored (`touched`: sorted seqs per site; an
// empty list re-examines the site); a hole starts the grace clock.
Status advance_sequences(storage::Db& db, const std::map<std::string, std::vector<std::int64_t>>& touched,
                         std::int64_t now_ms);
// Runs its own transaction.
Result<std::vector<ResendRequest>> due_resends(storage::Db& db, const GapPolicy& policy, std::int64_t now_ms);
Result<std::optional<SiteSeqState>> read_site_seq(storage::Db& db, const std::string& site_id);

// --- ticket_events.cpp
// The event row, the ticket's newest snapshot and, for an event that changed the ticket, the sink.
Status apply_ticket_event(storage::Db& db, const protocol::TicketEventMessage& te, TimePoint now,
                          storage::TicketEventSink* sink, IngestOutcome& out);

// --- sample_json.cpp
// One reading as stored in a raw row.
void append_sample_json(std::string& out, const domain::Sample& s);

// --- telemetry_writer.cpp
// Raw readings and their aggregates for the batches stored now. Keeps the site time zones it has looked up.
class TelemetryWriter {
public:
    Status write(storage::Db& db, const std::vector<const protocol::TelemetryBatch*>& batches, IngestOutcome& out);

private:
    const date::time_zone* zone(const std::string& name);
    std::unordered_map<std::string, const date::time_zone*> zones_;
};

}  // namespace pvfleet::ingest
