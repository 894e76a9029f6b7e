#pragma once
// The server's records over one Db connection: ingest of uplink messages (idempotent on (site, seq)),
// per-site sequence tracking for gap detection, telemetry with 5-minute and local-day aggregates, tickets,
// and the queries the API needs. Every write that belongs together happens in one transaction.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"

namespace date {
class time_zone;
}

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

// Raw readings are stored one row per device and batch (table telemetry_raw); no row spans this long or more
// from its first reading to its last, so a time-range query finds every row it needs among those starting at
// most this long before its range.
inline constexpr std::int64_t kRawRowSpanMs = 60 * 60 * 1000;

// A gap the server should ask the gateway to fill.
struct ResendRequest {
    std::string site_id;
    protocol::Seq from_seq = 0;
    protocol::Seq to_seq = 0;
    int attempt = 1;
};

struct GapPolicy {
    Millis grace{30'000};   // a hole younger than this may still be in flight (shared subscriptions reorder)
    Millis retry{120'000};  // ask again after this long without the hole closing
    int max_attempts = 5;   // then count the seqs as lost and move on (the gateway no longer has them)
    protocol::Seq max_range = 10'000;  // one command asks for at most this many seqs
    // A hole wider than this is a jump of the sequence, not lost messages (a gateway whose outbox was replaced,
    // or a hostile message with a huge seq): it is passed over at once, neither asked for nor counted lost.
    // 100 000 seqs are ten weeks of one batch a minute.
    protocol::Seq max_gap = 100'000;
};
// A status `last_seq` further than this ahead of the highest seq received is not believed (see max_gap).
inline constexpr protocol::Seq kMaxTailAhead = 100'000;

struct SiteSeqState {
    std::string site_id;
    protocol::Seq contiguous_through = 0;
    protocol::Seq max_seen = 0;
    protocol::Seq edge_last_seq = 0;
    std::uint64_t lost = 0;
};

// Work-order hook: called inside the ingest transaction for every new ticket event, so a ticket and its work
// order commit together (or not at all).
class TicketEventSink {
public:
    virtual ~TicketEventSink() = default;
    virtual Status on_ticket_event(Db& db, const std::string& site_id, const domain::TicketEvent& event,
                                   bool historical, TimePoint now, IngestOutcome& outcome) = 0;
};

class Store {
public:
    Store(std::unique_ptr<Db> db, const Clock& clock);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    Db& db() { return *db_; }
    void set_ticket_sink(TicketEventSink* sink) { sink_ = sink; }

    // Brings the schema up to date; returns the number of migrations applied.
    Result<int> migrate();

    // Stores a batch of decoded uplink messages in one transaction. A (site, seq) seen before is a duplicate
    // and changes nothing. Sites not yet on record are created unassigned (no customer) — never dropped.
    Result<IngestOutcome> ingest(const std::vector<protocol::Message>& messages);

    // A payload that could not be accepted: counted, kept for the operator (newest 10 000).
    Status record_reject(const std::string& topic, std::size_t bytes, const std::string& reason);
    Result<std::uint64_t> reject_count();

    // Gaps due for a resend command (and bookkeeping that one is being sent). Seqs still missing after
    // max_attempts are counted as lost and skipped.
    Result<std::vector<ResendRequest>> due_resends(const GapPolicy& policy);
    Result<std::optional<SiteSeqState>> site_seq(const std::string& site_id);

    // Commands sent to a gateway and their acknowledgements.
    Status record_command(const protocol::Command& command, const std::string& issued_by,
                          const std::string& body);

    // Counts for tests, stats and the API.
    Result<std::uint64_t> count(const std::string& table, const std::string& site_id = {});

private:
    Status prepare_sites(const std::vector<std::string>& sites, std::int64_t now_ms, std::vector<std::string>& created);
    Status ingest_unsequenced(const protocol::Message& m, std::int64_t now_ms, IngestOutcome& out,
                              std::map<std::string, std::vector<std::int64_t>>& touched);
    Status store_telemetry(const std::vector<const protocol::TelemetryBatch*>& batches, IngestOutcome& out);
    Status apply_ticket_event(const protocol::TicketEventMessage& te, TimePoint now, IngestOutcome& out);
    Status update_seq_state(const std::map<std::string, std::vector<std::int64_t>>& touched);
    Status advance_seq(const std::string& site_id);
    const date::time_zone* zone(const std::string& name);

    std::unique_ptr<Db> db_;
    const Clock& clock_;
    TicketEventSink* sink_ = nullptr;
    std::unordered_set<std::string> known_sites_;  // on record (sites are never deleted)
    std::unordered_map<std::string, const date::time_zone*> zones_;
};

}  // namespace pvfleet::storage
