#pragma once
// Exactly-once ingest of uplink messages. One group commit is one transaction: (site, seq) goes into
// `received` (a redelivery stops there), telemetry into raw rows and the 5-minute and local-day aggregates,
// ticket events into tickets (and, through the work-order hook, work orders), statuses and acks into their
// tables, and each site's sequence bookkeeping advances; a hole starts the gap clock and, after the grace
// period, becomes a resend request. Either all of it is stored or none of it: a failed commit can be retried
// as a whole. Not thread-safe: one Ledger per connection, used from one strand.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/storage/ticket_event_sink.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::ingest {

using storage::IngestOutcome;

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

class TelemetryWriter;

class Ledger {
public:
    Ledger(storage::Db& db, const Clock& clock);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    // Called inside the transaction for every ticket event stored for the first time.
    void set_ticket_sink(storage::TicketEventSink* sink) { sink_ = sink; }

    // Stores a batch of decoded uplink messages in one transaction. A (site, seq) seen before is a duplicate
    // and changes nothing. Sites not yet on record are created unassigned (no customer) — never dropped.
    Result<IngestOutcome> ingest(const std::vector<protocol::Message>& messages);

    // Gaps due for a resend command (and bookkeeping that one is being sent). Seqs still missing after
    // max_attempts are counted as lost and skipped.
    Result<std::vector<ResendRequest>> due_resends(const GapPolicy& policy);
    Result<std::optional<SiteSeqState>> site_seq(const std::string& site_id);

private:
    using Touched = std::map<std::string, std::vector<std::int64_t>>;  // site -> seqs applied now
    Status prepare_sites(const std::vector<std::string>& sites, std::int64_t now_ms, std::vector<std::string>& created);
    Status ingest_unsequenced(const protocol::Message& m, std::int64_t now_ms, IngestOutcome& out, Touched& touched);
    Status ingest_sequenced(const std::vector<const protocol::Message*>& sequenced, TimePoint now,
                            IngestOutcome& out, Touched& touched);

    storage::Db& db_;
    const Clock& clock_;
    storage::TicketEventSink* sink_ = nullptr;
    std::unique_ptr<TelemetryWriter> telemetry_;
    std::unordered_set<std::string> known_sites_;  // on record (sites are never deleted)
};

}  // namespace pvfleet::ingest
