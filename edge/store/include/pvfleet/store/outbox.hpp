#pragma once
// The sync outbox: every uplink message that carries a wire sequence number (telemetry batches, ticket
// events) is written here, with the site's next `seq`, BEFORE it is published, and removed only once the
// broker has acknowledged it (PUBACK). `SqliteOutbox` keeps it in SQLite (WAL): after a kill -9 or a power
// cut every appended row is still there and is sent again in seq order (the server dedups on (site, seq)).
// The highest seq ever assigned is persisted separately, so seq never repeats even when the outbox has been
// emptied.
//
// Durability is asymmetric on purpose. Appends commit with synchronous=FULL (the WAL is fsynced before
// append() returns): losing an appended row would lose data. Removals of acknowledged rows come in batches
// (remove_acked(), one transaction for many seqs) and commit with synchronous=NORMAL: in WAL mode a NORMAL
// commit may be rolled back by a power cut but never corrupts the database, and a removal that is rolled back
// only makes its rows go out once more (a duplicate seq, which the server drops). The next FULL append fsyncs
// the WAL, and with it every removal before it. PRAGMA synchronous is per connection, so the store's own
// connection to a shared edge.db is not affected.
//
// Disk quota policy (enforce_quota): ticket events are never dropped; raw telemetry is replaced, oldest
// first, by 5-minute aggregates (`aggregate: true`, resolution 300 s) under the seq of the first merged
// batch, the other merged seqs become empty rows that go out as empty batches (so no gap stays open); only
// when no raw telemetry is left are the oldest aggregates emptied too. What was done is kept as a
// protocol::QuotaReport for the status message.
#include <cstdint>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pvfleet/store/gateway_store.hpp"

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/sqlite/statement.hpp"
#include "pvfleet/util/result.hpp"

struct sqlite3;

namespace pvfleet::store {

enum class OutboxKind { telemetry, ticket_event };
std::string_view to_string(OutboxKind k);

struct OutboxEntry {
    protocol::Seq seq = 0;
    OutboxKind kind = OutboxKind::telemetry;
    // The encoded payload as first written (historical=false; telemetry zlib-compressed, by the sync engine in
    // the head-split framing of protocol::encode_resendable, so that it can be flagged historical without
    // recompressing). Empty when the quota
    // policy deleted the data: the sync then sends an empty telemetry batch with this seq.
    std::string payload;
    TimePoint created_at;
    bool aggregate = false;     // payload holds quota aggregates (or nothing)
    std::uint64_t samples = 0;  // samples carried (telemetry)
    // For a head-split payload, the length and Adler-32 of its uncompressed rest, known when the row was
    // appended: flagging the row historical then needs no inflate (protocol::replace_payload_head). Not
    // set for other payloads, nor for rows written before it was kept (those inflate the rest each time).
    std::optional<protocol::SplitRest> split_rest;
    friend bool operator==(const OutboxEntry&, const OutboxEntry&) = default;
};

// What an Outbox::Encoder makes of a message: the payload to store and, for a head-split payload whose
// encoder knows it (protocol::encode_resendable), the SplitRest kept with the row. A head-split payload given
// without one has it computed by inflating the rest once.
struct EncodedPayload {
    EncodedPayload(std::string p, std::optional<protocol::SplitRest> rest = std::nullopt)  // NOLINT(google-explicit-constructor)
        : payload(std::move(p)), split_rest(rest) {}
    std::string payload;
    std::optional<protocol::SplitRest> split_rest;
};

// Progress markers saved in the same transaction as an appended row, for a restart to resume from.
struct AppendCursors {
    // The store's event_id of the ticket event queued: a restart re-queues GatewayStore::events_after() it.
    std::optional<long long> ticket_event_id;
    // The newest sample time in the batch: a restart re-feeds the store's telemetry after it (the samples
    // still buffered in memory when the process died).
    std::optional<TimePoint> telemetry_through;
    // The oldest sample time in the batch, kept with the row: the gateway's raw telemetry older than the oldest
    // unacknowledged row's is synced and may be pruned (synced_through()).
    std::optional<TimePoint> telemetry_from;
};

// The seam the sync engine uses; SqliteOutbox is the real one.
class Outbox {
public:
    virtual ~Outbox() = default;
    // Encodes a message for a given seq (the seq goes into the payload).
    using Encoder = std::function<Result<EncodedPayload>(protocol::Seq)>;

    // Assigns last_seq()+1, encodes with it and stores the row, all in one transaction together with the
    // cursors given. A failed encoder rolls everything back (the seq is not used up).
    virtual Result<protocol::Seq> append(OutboxKind kind, TimePoint created_at, std::uint64_t samples,
                                         const Encoder& encode, AppendCursors cursors = {}) = 0;
    // Up to `limit` rows not yet acknowledged with seq > `after`, in seq order (the backlog).
    [[nodiscard]] virtual Result<std::vector<OutboxEntry>> after(protocol::Seq after, std::size_t limit) const = 0;
    // Up to `limit` rows with from <= seq <= to, acknowledged or not, in seq order: what a `resend` command
    // asks for. A broker PUBACK is not the server's commit (a server killed in between loses the message), so
    // acknowledged rows are kept for OutboxOptions::acked_retention.
    [[nodiscard]] virtual Result<std::vector<OutboxEntry>> range(protocol::Seq from, protocol::Seq to,
                                                                 std::size_t limit) const = 0;
    // Takes acknowledged rows out of the backlog, all in one transaction (no error for rows already gone or
    // already acknowledged), and deletes acknowledged rows older than the retention. Call it only with seqs the
    // broker has acknowledged: an acknowledged row is sent again only on a `resend`.
    virtual Status remove_acked(std::span<const protocol::Seq> seqs) = 0;
    // One acknowledged row.
    Status remove(protocol::Seq seq) { return remove_acked(std::span<const protocol::Seq>(&seq, 1)); }

    [[nodiscard]] virtual std::uint64_t depth() const = 0;   // rows not yet acknowledged
    [[nodiscard]] virtual std::uint64_t bytes() const = 0;   // payload bytes plus a fixed per-row overhead
    [[nodiscard]] virtual protocol::Seq last_seq() const = 0;  // highest seq ever assigned (0: none)
    [[nodiscard]] virtual std::optional<long long> ticket_event_cursor() const = 0;
    [[nodiscard]] virtual std::optional<TimePoint> telemetry_through() const = 0;
    [[nodiscard]] virtual protocol::QuotaReport quota_report() const = 0;
    // Every sample up to this time has reached the broker (PUBACK) or been given up by the quota policy:
    // the older of telemetry_through() and just before the oldest sample of a telemetry row not yet
    // acknowledged. nullopt: nothing is synced yet (also while a row of an older outbox, written before rows
    // kept their oldest sample time, waits). Local retention never prunes raw telemetry after it.
    // (This default, for outboxes that keep no sample times: all of it once nothing waits.)
    [[nodiscard]] virtual Result<std::optional<TimePoint>> synced_through() const {
        return depth() == 0 ? telemetry_through() : std::optional<TimePoint>{};
    }
    // Deletes acknowledged rows kept for resends, oldest first, until bytes() <= max_bytes or none is left
    // (the gateway's disk budget: they have reached the broker once). Returns the bytes freed.
    virtual Result<std::uint64_t> drop_acked(std::uint64_t max_bytes) {
        (void)max_bytes;
        return std::uint64_t{0};
    }

    // Applies the disk quota policy until bytes() <= max_bytes (or nothing is left to shrink).
    virtual Result<protocol::QuotaReport> enforce_quota(std::uint64_t max_bytes) = 0;
};

struct OutboxOptions {
    int busy_timeout_ms = 5000;
    // How long acknowledged rows stay for the server's `resend` (0: deleted at once). They are the first thing
    // the disk quota policy deletes. remove_acked() deletes the expired ones at most once per
    // `acked_purge_interval` (looking for them on every batch cost a statement per batch for nothing), so they
    // may stay up to that much longer.
    std::chrono::hours acked_retention{48};
    std::chrono::seconds acked_purge_interval{60};
    std::size_t merge_rows = 120;  // raw batches merged into aggregates per quota step (about 2 h of 60-s batches)
    int wal_autocheckpoint_pages = kWalAutocheckpointPages;  // gateway_store.hpp
};

class SqliteOutbox final : public Outbox {
public:
    // Opens (creating if needed) the outbox tables in the SQLite file at `path`; may be the store's edge.db.
    static Result<std::unique_ptr<SqliteOutbox>> open(const std::string& path, OutboxOptions options = {});
    ~SqliteOutbox() override;
    SqliteOutbox(const SqliteOutbox&) = delete;
    SqliteOutbox& operator=(const SqliteOutbox&) = delete;

    Result<protocol::Seq> append(OutboxKind kind, TimePoint created_at, std::uint64_t samples, const Encoder& encode,
                                 AppendCursors cursors = {}) override;
    [[nodiscard]] Result<std::vector<OutboxEntry>> after(protocol::Seq after, std::size_t limit) const override;
    [[nodiscard]] Result<std::vector<OutboxEntry>> range(protocol::Seq from, protocol::Seq to, std::size_t limit) const override;
    Status remove_acked(std::span<const protocol::Seq> seqs) override;
    [[nodiscard]] std::uint64_t depth() const override { return depth_; }
    [[nodiscard]] std::uint64_t bytes() const override { return bytes_; }
    [[nodiscard]] protocol::Seq last_seq() const override { return last_seq_; }
    [[nodiscard]] std::optional<long long> ticket_event_cursor() const override { return ticket_cursor_; }
    [[nodiscard]] std::optional<TimePoint> telemetry_through() const override { return telemetry_through_; }
    [[nodiscard]] protocol::QuotaReport quota_report() const override { return quota_; }
    Result<protocol::QuotaReport> enforce_quota(std::uint64_t max_bytes) override;
    [[nodiscard]] Result<std::optional<TimePoint>> synced_through() const override;
    Result<std::uint64_t> drop_acked(std::uint64_t max_bytes) override;

    // Fixed cost counted per row on top of its payload (row header, index entry).
    static constexpr std::uint64_t kRowOverheadBytes = 64;

private:
    mutable protocol::Seq unacked_from_ = 0;  // no row below it is unacknowledged (synced_through())
    // Runs a statement without results (BEGIN, COMMIT, PRAGMA) kept in the statement cache.
    Status run(const char* sql);

    SqliteOutbox(sqlite3* db, OutboxOptions options) : db_(db), options_(options), statements_(db) {}
    Status init();
    Status exec(const char* sql);
    Status set_meta(const char* key, long long value);
    Status set_synchronous_full(bool full);
    Result<bool> downsample_step();
    Result<bool> drop_step();

    sqlite3* db_;
    OutboxOptions options_;
    bool synchronous_full_ = true;  // set by init()
    std::uint64_t depth_ = 0;
    std::uint64_t bytes_ = 0;
    protocol::Seq last_seq_ = 0;
    std::optional<long long> ticket_cursor_;
    std::optional<TimePoint> telemetry_through_;
    protocol::QuotaReport quota_;
    // remove_acked() runs once per batch of PUBACKs while a backlog drains: its statements are prepared once.
    // So are the backlog read (once per read-ahead) and the transaction and synchronous switches around it.
    // Finalized before the connection closes.
    mutable sqlite::StatementCache statements_;
    std::optional<std::chrono::steady_clock::time_point> last_purge_;
};

}  // namespace pvfleet::store
