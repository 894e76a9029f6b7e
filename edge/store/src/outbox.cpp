#include "pvfleet/store/outbox.hpp"

#include <algorithm>

#include <sqlite3.h>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/store/downsample.hpp"
#include "pvfleet/util/enum_names.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::store {
namespace {

constexpr const char* kOutboxSchema = R"SQL(
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  aggregate INTEGER NOT NULL DEFAULT 0,
  samples INTEGER NOT NULL DEFAULT 0,
  payload BLOB NOT NULL,
  acked_ms INTEGER,
  rest_adler INTEGER,
  rest_len INTEGER,
  from_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_raw_telemetry ON outbox(kind, aggregate, seq);
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)SQL";

Error sql_error(sqlite3* db, const std::string& what) { return sqlite::last_error(db, "outbox: " + what); }

using Stmt = sqlite::Statement;

constexpr EnumNames<OutboxKind, 2> kOutboxKinds{{{OutboxKind::telemetry, "telemetry"},
                                                 {OutboxKind::ticket_event, "ticket_event"}}};

std::optional<OutboxKind> parse_kind(const std::string& s) { return enum_from_name(kOutboxKinds, s); }

std::uint64_t row_bytes(std::size_t payload) { return payload + SqliteOutbox::kRowOverheadBytes; }

}  // namespace

std::string_view to_string(OutboxKind k) { return enum_name(kOutboxKinds, k); }

Result<std::unique_ptr<SqliteOutbox>> SqliteOutbox::open(const std::string& path, OutboxOptions options) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return Error::at("outbox", "cannot open '" + path + "': " + msg, ErrorKind::io);
    }
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    std::unique_ptr<SqliteOutbox> outbox(new SqliteOutbox(db, options));
    if (auto s = outbox->init(); !s) return s.error();
    return outbox;
}

SqliteOutbox::~SqliteOutbox() {
    statements_.clear();  // sqlite3_close() refuses while statements are still prepared
    sqlite3_close(db_);
}

Status SqliteOutbox::run(const char* sql) {
    auto st = statements_.get(sql);
    if (!st) return Error{"outbox: " + st.error().message, st.error().kind};
    const int rc = (*st)->step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sql_error(db_, sql);
    return {};
}

Status SqliteOutbox::exec(const char* sql) { return sqlite::exec(db_, sql, "outbox"); }

Status SqliteOutbox::set_meta(const char* key, long long value) {
    Stmt st(db_, "INSERT INTO outbox_meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st.ok()) return sql_error(db_, key);
    st.bind(1, std::string(key)).bind(2, value);
    if (st.step() != SQLITE_DONE) return sql_error(db_, key);
    return {};
}

Status SqliteOutbox::init() {
    if (auto s = exec("PRAGMA journal_mode=WAL"); !s) return s;
    if (auto s = exec("PRAGMA synchronous=FULL"); !s) return s;
    const auto autocheckpoint = "PRAGMA wal_autocheckpoint=" + std::to_string(options_.wal_autocheckpoint_pages);
    if (auto s = exec(autocheckpoint.c_str()); !s) return s;
    if (auto s = exec(kOutboxSchema); !s) return s;
    {
        // Outboxes written before acknowledged rows were kept have no acked_ms column.
        Stmt cols(db_, "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'acked_ms'");
        if (!cols.ok() || cols.step() != SQLITE_ROW) return sql_error(db_, "read columns");
        if (cols.integer(0) == 0)
            if (auto s = exec("ALTER TABLE outbox ADD COLUMN acked_ms INTEGER"); !s) return s;
    }
    {
        // Outboxes written before the rest's checksum was kept have no rest_adler/rest_len: their rows inflate
        // the rest whenever they are flagged historical.
        Stmt cols(db_, "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'rest_adler'");
        if (!cols.ok() || cols.step() != SQLITE_ROW) return sql_error(db_, "read columns");
        if (cols.integer(0) == 0) {
            if (auto s = exec("ALTER TABLE outbox ADD COLUMN rest_adler INTEGER"); !s) return s;
            if (auto s = exec("ALTER TABLE outbox ADD COLUMN rest_len INTEGER"); !s) return s;
        }
    }
    {
        // Outboxes written before rows kept their oldest sample time have no from_ms: until those rows are
        // acknowledged nothing counts as synced (synced_through()).
        Stmt cols(db_, "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'from_ms'");
        if (!cols.ok() || cols.step() != SQLITE_ROW) return sql_error(db_, "read columns");
        if (cols.integer(0) == 0)
            if (auto s = exec("ALTER TABLE outbox ADD COLUMN from_ms INTEGER"); !s) return s;
    }
    if (auto s = exec("CREATE INDEX IF NOT EXISTS outbox_acked ON outbox(acked_ms) WHERE acked_ms IS NOT NULL"); !s) return s;
    {
        Stmt st(db_, "SELECT key, value FROM outbox_meta");
        if (!st.ok()) return sql_error(db_, "read meta");
        while (st.step() == SQLITE_ROW) {
            const auto key = st.text(0);
            const long long v = st.integer(1);
            if (key == "last_seq") last_seq_ = static_cast<protocol::Seq>(v);
            else if (key == "ticket_event_cursor") ticket_cursor_ = v;
            else if (key == "telemetry_through_ms") telemetry_through_ = from_epoch_ms(v);
            else if (key == "downsampled_samples") quota_.downsampled_samples = static_cast<std::uint64_t>(v);
            else if (key == "dropped_samples") quota_.dropped_samples = static_cast<std::uint64_t>(v);
            else if (key == "downsampled_before_ms") quota_.downsampled_before = from_epoch_ms(v);
        }
    }
    Stmt st(db_, "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), COALESCE(MAX(seq), 0), "
                 "COALESCE(SUM(acked_ms IS NULL), 0) FROM outbox");
    if (!st.ok() || st.step() != SQLITE_ROW) return sql_error(db_, "count rows");
    depth_ = static_cast<std::uint64_t>(st.integer(3));
    bytes_ = static_cast<std::uint64_t>(st.integer(1)) + static_cast<std::uint64_t>(st.integer(0)) * kRowOverheadBytes;
    // A row can never be above the persisted last_seq; be safe if meta was lost.
    last_seq_ = std::max<protocol::Seq>(last_seq_, static_cast<protocol::Seq>(st.integer(2)));
    return {};
}

Result<protocol::Seq> SqliteOutbox::append(OutboxKind kind, TimePoint created_at, std::uint64_t samples,
                                           const Encoder& encode, AppendCursors cursors) {
    if (auto s = set_synchronous_full(true); !s) return s.error();
    if (auto s = exec("BEGIN IMMEDIATE"); !s) return s.error();
    auto fail = [this](Error e) -> Result<protocol::Seq> {
        (void)exec("ROLLBACK");
        return e;
    };
    const protocol::Seq seq = last_seq_ + 1;
    auto encoded = encode(seq);
    if (!encoded) return fail(encoded.error());
    const std::string* payload = &encoded->payload;
    {
        // Kept with the row, it spares inflating the rest on every later send as backlog. A head-split payload
        // given without it is inflated once here (which also checks it).
        const auto rest = encoded->split_rest ? encoded->split_rest : protocol::split_payload_rest(*payload);
        Stmt st(db_, "INSERT INTO outbox(seq, kind, created_ms, aggregate, samples, payload, rest_adler, rest_len, from_ms) "
                     "VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8)");
        if (!st.ok()) return fail(sql_error(db_, "insert"));
        st.bind(1, static_cast<long long>(seq)).bind(2, std::string(to_string(kind))).bind(3, to_epoch_ms(created_at));
        st.bind(4, static_cast<long long>(samples)).bind_blob(5, *payload);
        if (rest) st.bind(6, static_cast<long long>(rest->adler)).bind(7, static_cast<long long>(rest->length));
        if (cursors.telemetry_from) st.bind(8, to_epoch_ms(*cursors.telemetry_from));
        if (st.step() != SQLITE_DONE) return fail(sql_error(db_, "insert seq " + std::to_string(seq)));
    }
    if (auto s = set_meta("last_seq", static_cast<long long>(seq)); !s) return fail(s.error());
    if (cursors.ticket_event_id)
        if (auto s = set_meta("ticket_event_cursor", *cursors.ticket_event_id); !s) return fail(s.error());
    if (cursors.telemetry_through && (!telemetry_through_ || *cursors.telemetry_through > *telemetry_through_))
        if (auto s = set_meta("telemetry_through_ms", to_epoch_ms(*cursors.telemetry_through)); !s) return fail(s.error());
    if (auto s = exec("COMMIT"); !s) return fail(s.error());
    last_seq_ = seq;
    if (cursors.ticket_event_id) ticket_cursor_ = *cursors.ticket_event_id;
    if (cursors.telemetry_through && (!telemetry_through_ || *cursors.telemetry_through > *telemetry_through_))
        telemetry_through_ = *cursors.telemetry_through;
    ++depth_;
    bytes_ += row_bytes(payload->size());
    return seq;
}

namespace {
// Rows of a SELECT seq, kind, created_ms, aggregate, samples, payload, rest_adler, rest_len.
Result<std::vector<OutboxEntry>> read_entries(Stmt& st) {
    std::vector<OutboxEntry> out;
    int rc = 0;
    while ((rc = st.step()) == SQLITE_ROW) {
        OutboxEntry e;
        e.seq = static_cast<protocol::Seq>(st.integer(0));
        auto kind = parse_kind(st.text(1));
        if (!kind) return Error::at("outbox/" + std::to_string(e.seq) + "/kind", "unknown '" + st.text(1) + "'");
        e.kind = *kind;
        e.created_at = from_epoch_ms(st.integer(2));
        e.aggregate = st.integer(3) != 0;
        e.samples = static_cast<std::uint64_t>(st.integer(4));
        e.payload = st.blob(5);
        if (!st.is_null(6) && !st.is_null(7))
            e.split_rest = protocol::SplitRest{static_cast<std::uint32_t>(st.integer(6)), static_cast<std::uint32_t>(st.integer(7))};
        out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return st.error("outbox: select");
    return out;
}
}  // namespace

Result<std::vector<OutboxEntry>> SqliteOutbox::after(protocol::Seq after, std::size_t limit) const {
    auto st = statements_.get("SELECT seq, kind, created_ms, aggregate, samples, payload, rest_adler, rest_len FROM outbox "
                              "WHERE seq > ?1 AND acked_ms IS NULL ORDER BY seq LIMIT ?2");
    if (!st) return Error{"outbox: " + st.error().message, st.error().kind};
    (*st)->bind(1, static_cast<long long>(after)).bind(2, static_cast<long long>(limit));
    return read_entries(**st);
}

Result<std::vector<OutboxEntry>> SqliteOutbox::range(protocol::Seq from, protocol::Seq to, std::size_t limit) const {
    Stmt st(db_, "SELECT seq, kind, created_ms, aggregate, samples, payload, rest_adler, rest_len FROM outbox WHERE seq >= ?1 AND seq <= ?2 "
                 "ORDER BY seq LIMIT ?3");
    if (!st.ok()) return sql_error(db_, "select range");
    st.bind(1, static_cast<long long>(from)).bind(2, static_cast<long long>(to)).bind(3, static_cast<long long>(limit));
    return read_entries(st);
}


Status SqliteOutbox::set_synchronous_full(bool full) {
    if (synchronous_full_ == full) return {};
    auto s = full ? run("PRAGMA synchronous=FULL") : run("PRAGMA synchronous=NORMAL");
    if (!s) return s;
    synchronous_full_ = full;
    return {};
}

Status SqliteOutbox::remove_acked(std::span<const protocol::Seq> seqs) {
    if (seqs.empty()) return {};
    auto ack = statements_.get("UPDATE outbox SET acked_ms = ?3 WHERE seq BETWEEN ?1 AND ?2 AND acked_ms IS NULL");
    if (!ack) return Error{"outbox: " + ack.error().message, ack.error().kind};
    auto purge = statements_.get("DELETE FROM outbox WHERE acked_ms IS NOT NULL AND acked_ms <= ?1 RETURNING LENGTH(payload)");
    if (!purge) return Error{"outbox: " + purge.error().message, purge.error().kind};
    // NORMAL for this commit only (see outbox.hpp: a lost removal means a resend, never a lost row).
    if (auto s = set_synchronous_full(false); !s) return s;
    const auto steady_now = std::chrono::steady_clock::now();
    // Without retention acknowledged rows go at once; with it, looking for expired ones once a minute is enough.
    const bool purge_due = options_.acked_retention.count() <= 0 || !last_purge_ ||
                           steady_now - *last_purge_ >= options_.acked_purge_interval;
    auto result = [&]() -> Status {
        if (auto s = run("BEGIN IMMEDIATE"); !s) return s;
        auto fail = [this](Error e) -> Status {
            (void)exec("ROLLBACK");
            return e;
        };
        const long long now_ms = to_epoch_ms(std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()));
        Stmt& st = **ack;
        std::uint64_t rows = 0;
        std::uint64_t freed = 0;
        // PUBACKs of a drain come in seq order: one statement per run of consecutive seqs, not one per seq.
        std::vector<protocol::Seq> sorted;
        if (!std::is_sorted(seqs.begin(), seqs.end())) {
            sorted.assign(seqs.begin(), seqs.end());
            std::sort(sorted.begin(), sorted.end());
            seqs = sorted;
        }
        for (std::size_t i = 0; i < seqs.size();) {
            std::size_t j = i + 1;
            while (j < seqs.size() && seqs[j] <= seqs[j - 1] + 1) ++j;  // duplicates stay in the run
            st.bind(1, static_cast<long long>(seqs[i])).bind(2, static_cast<long long>(seqs[j - 1])).bind(3, now_ms);
            const int rc = st.step();
            st.reset();
            if (rc != SQLITE_DONE) return fail(sql_error(db_, "acknowledge seq " + std::to_string(seqs[i])));
            rows += static_cast<std::uint64_t>(st.changes());
            i = j;
        }
        if (purge_due) {
            // Acknowledged rows past the retention go for good.
            Stmt& del = **purge;
            del.bind(1, now_ms - static_cast<long long>(std::chrono::duration_cast<Millis>(options_.acked_retention).count()));
            int rc = 0;
            while ((rc = del.step()) == SQLITE_ROW) freed += row_bytes(static_cast<std::size_t>(del.integer(0)));
            del.reset();
            if (rc != SQLITE_DONE) return fail(sql_error(db_, "purge"));
        }
        if (auto s = run("COMMIT"); !s) return fail(s.error());
        if (purge_due) last_purge_ = steady_now;
        depth_ -= std::min(depth_, rows);
        bytes_ -= std::min(bytes_, freed);
        return {};
    }();
    // Appends must find FULL again; if it cannot be restored here, append() retries and fails rather than
    // commit a row without fsync.
    if (auto s = set_synchronous_full(true); !s && result) return s;
    return result;
}

Result<protocol::QuotaReport> SqliteOutbox::enforce_quota(std::uint64_t max_bytes) {
    if (auto s = set_synchronous_full(true); !s) return s.error();
    if (bytes_ > max_bytes) {
        // Acknowledged rows kept for resends go first, oldest first: they have reached the broker once.
        Stmt st(db_, "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE acked_ms IS NOT NULL ORDER BY seq) "
                     "RETURNING LENGTH(payload)");
        if (!st.ok()) return sql_error(db_, "delete acknowledged");
        std::uint64_t freed = 0;
        int rc = 0;
        while ((rc = st.step()) == SQLITE_ROW) freed += row_bytes(static_cast<std::size_t>(st.integer(0)));
        if (rc != SQLITE_DONE) return sql_error(db_, "delete acknowledged");
        bytes_ -= std::min(bytes_, freed);
    }
    while (bytes_ > max_bytes) {
        auto did = downsample_step();
        if (!did) return did.error();
        if (*did) continue;
        auto dropped = drop_step();
        if (!dropped) return dropped.error();
        if (!*dropped) break;  // only ticket events and empty rows left: nothing more may go
    }
    return quota_;
}

// Merges the oldest raw telemetry rows into one row of 5-minute aggregates; false when there is none.
Result<bool> SqliteOutbox::downsample_step() {
    struct Row {
        protocol::Seq seq;
        std::uint64_t samples;
        std::size_t len;
        std::string payload;
    };
    std::vector<Row> rows;
    {
        Stmt st(db_, "SELECT seq, samples, payload FROM outbox WHERE kind = 'telemetry' AND aggregate = 0 ORDER BY seq LIMIT ?1");
        if (!st.ok()) return sql_error(db_, "select raw telemetry");
        st.bind(1, static_cast<long long>(std::max<std::size_t>(1, options_.merge_rows)));
        while (st.step() == SQLITE_ROW) {
            auto p = st.blob(2);
            rows.push_back({static_cast<protocol::Seq>(st.integer(0)), static_cast<std::uint64_t>(st.integer(1)), p.size(), std::move(p)});
        }
    }
    if (rows.empty()) return false;
    std::vector<domain::Sample> raw;
    std::string site_id;
    TimePoint sent_at{};
    for (const auto& r : rows) {
        if (r.payload.empty()) continue;
        auto batch = protocol::decode_telemetry(r.payload);
        if (!batch) {
            PVF_LOG(warn, "outbox", "seq " << r.seq << ": unreadable telemetry dropped by the quota policy: " << batch.error().message);
            continue;
        }
        if (site_id.empty()) {
            site_id = batch->site_id;
            sent_at = batch->sent_at;
        }
        for (auto& s : batch->samples) raw.push_back(std::move(s));
    }
    auto aggregates = downsample(raw, std::chrono::seconds{300});
    std::string first_payload;
    if (!aggregates.empty()) {
        protocol::TelemetryBatch b;
        b.site_id = site_id;
        b.seq = rows.front().seq;
        b.historical = true;
        b.sent_at = sent_at;
        b.resolution_s = 300;
        b.aggregate = true;
        b.samples = aggregates;
        auto enc = protocol::encode(b, {.compress = true});
        if (!enc) return enc.error().under("outbox/quota");
        first_payload = std::move(*enc);
    }
    TimePoint before{};
    for (const auto& s : raw) before = std::max(before, s.t + Millis{1});
    if (auto s = exec("BEGIN IMMEDIATE"); !s) return s.error();
    auto fail = [this](Error e) -> Result<bool> {
        (void)exec("ROLLBACK");
        return e;
    };
    std::uint64_t freed = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        Stmt st(db_, "UPDATE outbox SET aggregate = 1, samples = ?2, payload = ?3, rest_adler = NULL, rest_len = NULL WHERE seq = ?1");
        if (!st.ok()) return fail(sql_error(db_, "update"));
        const std::string& p = i == 0 ? first_payload : std::string();
        st.bind(1, static_cast<long long>(rows[i].seq)).bind(2, static_cast<long long>(i == 0 ? aggregates.size() : 0)).bind_blob(3, p);
        if (st.step() != SQLITE_DONE) return fail(sql_error(db_, "update seq " + std::to_string(rows[i].seq)));
        freed += rows[i].len;
    }
    auto report = quota_;
    report.downsampled_samples += raw.size();
    if (!raw.empty()) report.downsampled_before = std::max(report.downsampled_before.value_or(TimePoint{}), before);
    if (auto s = set_meta("downsampled_samples", static_cast<long long>(report.downsampled_samples)); !s) return fail(s.error());
    if (report.downsampled_before)
        if (auto s = set_meta("downsampled_before_ms", to_epoch_ms(*report.downsampled_before)); !s) return fail(s.error());
    if (auto s = exec("COMMIT"); !s) return fail(s.error());
    quota_ = report;
    bytes_ = bytes_ - std::min(bytes_, freed) + first_payload.size();
    return true;
}

// Empties the oldest telemetry row that still has data (aggregates by now); false when there is none.
Result<bool> SqliteOutbox::drop_step() {
    Stmt st(db_, "SELECT seq, samples, LENGTH(payload) FROM outbox WHERE kind = 'telemetry' AND LENGTH(payload) > 0 ORDER BY seq LIMIT 1");
    if (!st.ok()) return sql_error(db_, "select telemetry");
    if (st.step() != SQLITE_ROW) return false;
    const auto seq = st.integer(0);
    const auto samples = static_cast<std::uint64_t>(st.integer(1));
    const auto len = static_cast<std::uint64_t>(st.integer(2));
    if (auto s = exec("BEGIN IMMEDIATE"); !s) return s.error();
    Stmt up(db_, "UPDATE outbox SET aggregate = 1, samples = 0, payload = X'', rest_adler = NULL, rest_len = NULL WHERE seq = ?1");
    if (!up.ok()) {
        (void)exec("ROLLBACK");
        return sql_error(db_, "update");
    }
    up.bind(1, seq);
    if (up.step() != SQLITE_DONE) {
        (void)exec("ROLLBACK");
        return sql_error(db_, "update seq " + std::to_string(seq));
    }
    if (auto s = set_meta("dropped_samples", static_cast<long long>(quota_.dropped_samples + samples)); !s) {
        (void)exec("ROLLBACK");
        return s.error();
    }
    if (auto s = exec("COMMIT"); !s) {
        (void)exec("ROLLBACK");
        return s.error();
    }
    quota_.dropped_samples += samples;
    bytes_ -= std::min(bytes_, len);
    return true;
}

Result<std::optional<TimePoint>> SqliteOutbox::synced_through() const {
    if (!telemetry_through_) return std::optional<TimePoint>{};
    // Only rows from the oldest unacknowledged one on are looked at: an acknowledged row never becomes
    // unacknowledged again and new rows take higher seqs, so the acknowledged rows kept for resends (two days of
    // them) are not read again on every call. Rows the quota policy emptied carry nothing left to send; a row
    // without from_ms (an older outbox) counts from the beginning of time.
    Stmt st(db_, "SELECT seq, kind, from_ms, LENGTH(payload) FROM outbox WHERE seq >= ?1 AND acked_ms IS NULL ORDER BY seq");
    if (!st.ok()) return sql_error(db_, "oldest unacknowledged telemetry");
    st.bind(1, static_cast<long long>(unacked_from_));
    std::optional<long long> oldest;
    bool first = true;
    int rc = 0;
    while ((rc = st.step()) == SQLITE_ROW) {
        if (first) unacked_from_ = static_cast<protocol::Seq>(st.integer(0));
        first = false;
        if (st.text(1) != "telemetry" || st.integer(3) == 0) continue;
        if (st.is_null(2)) return std::optional<TimePoint>{};
        oldest = std::min(oldest.value_or(st.integer(2)), st.integer(2));
    }
    if (rc != SQLITE_DONE) return sql_error(db_, "oldest unacknowledged telemetry");
    if (first) unacked_from_ = last_seq_ + 1;
    if (!oldest) return std::optional<TimePoint>(*telemetry_through_);
    return std::optional<TimePoint>(std::min(*telemetry_through_, from_epoch_ms(*oldest - 1)));
}

Result<std::uint64_t> SqliteOutbox::drop_acked(std::uint64_t max_bytes) {
    if (bytes_ <= max_bytes) return std::uint64_t{0};
    if (auto s = set_synchronous_full(true); !s) return s.error();
    std::uint64_t freed = 0;
    // Small batches, oldest first: each is one short transaction.
    while (bytes_ > max_bytes) {
        Stmt st(db_, "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE acked_ms IS NOT NULL ORDER BY seq "
                     "LIMIT 64) RETURNING LENGTH(payload)");
        if (!st.ok()) return sql_error(db_, "delete acknowledged");
        std::uint64_t batch = 0;
        int rows = 0;
        int rc = 0;
        while ((rc = st.step()) == SQLITE_ROW) {
            batch += row_bytes(static_cast<std::size_t>(st.integer(0)));
            ++rows;
        }
        if (rc != SQLITE_DONE) return sql_error(db_, "delete acknowledged");
        bytes_ -= std::min(bytes_, batch);
        freed += batch;
        if (rows == 0) break;
    }
    return freed;
}

}  // namespace pvfleet::store
