#include "pvfleet/store/gateway_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>

#include "pvfleet/detect/ticket_book.hpp"
#include "pvfleet/sqlite/statement.hpp"
#include "pvfleet/store/sample_row.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/util/time.hpp"
#include "telemetry_key.hpp"

namespace pvfleet::store {
namespace {

constexpr int kGatewaySchemaVersion = 3;

// Schema v1 (tables only; the live-ticket index and the raw telemetry's layout since v3 are the migrations' below). The outbox (wire sequence numbers for
// the sync) keeps its own tables (outbox.cpp) and reads ticket_events in event_id order.
constexpr const char* kGatewaySchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  opened_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ticket_events (
  event_id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id TEXT NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_events_by_ticket ON ticket_events(ticket_id, event_id);
CREATE TABLE IF NOT EXISTS detector_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS telemetry (
  device_id TEXT NOT NULL,
  t_ms INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (device_id, t_ms)
) WITHOUT ROWID;
)SQL";

// Migrations from version N-1 to N, applied in order inside the opening transaction; existing rows are kept.
constexpr const char* kMigrations[] = {
    // 1: one live ticket per (device, kind).
    "CREATE UNIQUE INDEX IF NOT EXISTS tickets_one_live ON tickets(device_id, kind) WHERE state <> 'closed';",
    // 2: per-input tickets (string_fault per MPPT input): one live ticket per (device, kind, input), input 0 for
    // whole-device tickets. Tickets stored before name their input only in the summary ("MPPT 3 open ...").
    R"SQL(
ALTER TABLE tickets ADD COLUMN input INTEGER NOT NULL DEFAULT 0;
UPDATE tickets SET input = CAST(substr(json_extract(body, '$.summary'), 6) AS INTEGER)
  WHERE kind = 'string_fault' AND json_extract(body, '$.summary') LIKE 'MPPT %';
UPDATE tickets SET body = json_set(body, '$.input', input) WHERE input > 0;
DROP INDEX IF EXISTS tickets_one_live;
CREATE UNIQUE INDEX tickets_one_live_input ON tickets(device_id, kind, input) WHERE state <> 'closed';
)SQL",
    // 3: raw telemetry keyed by time, then device (telemetry_key.hpp): a poll cycle's rows are appended to the
    // table's last leaf instead of one leaf per device in the middle of a (device_id, t_ms) B-tree — a third of
    // the bytes written per site-day (docs/performance.md). Existing rows are copied in key order, then the old
    // table is dropped (its pages are reused). `telemetry_rows` shows the rows as before, for people.
    R"SQL(
CREATE TABLE telemetry_devices (
  no INTEGER PRIMARY KEY CHECK (no BETWEEN 1 AND 1023),
  device_id TEXT NOT NULL UNIQUE
);
INSERT INTO telemetry_devices(device_id) SELECT DISTINCT device_id FROM telemetry ORDER BY device_id;
CREATE TABLE telemetry_v3 (time_dev INTEGER PRIMARY KEY, body NOT NULL);
INSERT INTO telemetry_v3(time_dev, body)
  SELECT t.t_ms * 1024 + d.no, t.body FROM telemetry t JOIN telemetry_devices d USING (device_id) ORDER BY 1;
DROP TABLE telemetry;
ALTER TABLE telemetry_v3 RENAME TO telemetry;
CREATE VIEW telemetry_rows AS
  SELECT d.device_id AS device_id, t.time_dev >> 10 AS t_ms, t.body AS body
  FROM telemetry t JOIN telemetry_devices d ON d.no = (t.time_dev & 1023);
)SQL",
};

using sqlite::Statement;

std::string event_body(const domain::TicketEvent& e) {
    return nlohmann::json{{"kind", to_string(e.kind)}, {"at", format_iso8601(e.at)}, {"ticket", detect::to_json(e.ticket)}}
        .dump();
}

Result<domain::TicketEvent> event_from_body(const std::string& body) {
    try {
        auto j = nlohmann::json::parse(body);
        domain::TicketEvent e;
        auto kind = domain::parse_ticket_event_kind(j.at("kind").get<std::string>());
        if (!kind) return Error{"stored event: unknown kind"};
        e.kind = *kind;
        auto at = parse_iso8601(j.at("at").get<std::string>());
        if (!at) return at.error().under("stored event/at");
        e.at = *at;
        auto t = detect::ticket_from_json(j.at("ticket"));
        if (!t) return t.error().under("stored event/ticket");
        e.ticket = std::move(*t);
        return e;
    } catch (const nlohmann::json::exception& ex) {
        return Error{std::string("stored event: ") + ex.what()};
    }
}

Result<domain::Ticket> ticket_from_body(const std::string& body) {
    try {
        return detect::ticket_from_json(nlohmann::json::parse(body));
    } catch (const nlohmann::json::exception& ex) {
        return Error{std::string("stored ticket: ") + ex.what()};
    }
}

}  // namespace

Result<std::unique_ptr<GatewayStore>> GatewayStore::open(const std::string& path, GatewayStoreOptions options) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return Error{"cannot open store '" + path + "': " + msg, ErrorKind::io};
    }
    std::unique_ptr<GatewayStore> store(new GatewayStore(db, path, options));
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    // Before WAL mode: only a new, empty database takes it.
    if (auto s = store->exec("PRAGMA page_size=" + std::to_string(options.page_size)); !s) return s.error();
    if (auto s = store->exec("PRAGMA journal_mode=WAL"); !s) return s.error();
    if (auto s = store->exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !s) {
        return s.error();
    }
    if (auto s = store->exec("PRAGMA foreign_keys=ON"); !s) return s.error();
    if (auto s = store->exec("PRAGMA wal_autocheckpoint=" + std::to_string(options.wal_autocheckpoint_pages)); !s) {
        return s.error();
    }
    int from_version = 0;
    if (auto s = store->migrate(from_version); !s) {
        return Error{"store '" + path + "': " + s.error().message, s.error().kind};
    }
    // The upgrade to v3 copied the raw telemetry through the WAL: write it back and shrink the WAL now (busy
    // readers may leave it to the next checkpoint).
    if (from_version > 0 && from_version < 3) (void)store->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return store;
}

GatewayStore::~GatewayStore() { sqlite3_close(db_); }

Status GatewayStore::exec(const std::string& sql) { return sqlite::exec(db_, sql, "sqlite"); }

Status GatewayStore::migrate(int& from_version) {
    static_assert(telemetry_key::kDeviceSlots == 1024, "migration 3 and samples() spell the key's layout out");
    return transaction([&]() -> Status {
        if (auto s = exec(kGatewaySchema); !s) return s;
        int v = 0;  // a new file
        Statement get(db_, "SELECT value FROM meta WHERE key='schema_version'");
        if (get.step() == SQLITE_ROW) {
            const auto version = parse_leading_number<int>(get.text(0));
            if (!version) return Error{"schema version '" + get.text(0) + "' is not a number", ErrorKind::unsupported};
            v = *version;
            if (v > kGatewaySchemaVersion) {
                return Error{"schema version " + std::to_string(v) + " is newer than this build (" +
                                 std::to_string(kGatewaySchemaVersion) + ")",
                             ErrorKind::unsupported};
            }
        }
        get.reset();
        from_version = v;
        for (int next = std::max(v, 0) + 1; next <= kGatewaySchemaVersion; ++next) {
            if (auto s = exec(kMigrations[next - 1]); !s) {
                return Error{"migration to schema version " + std::to_string(next) + ": " + s.error().message,
                             s.error().kind};
            }
        }
        if (v == kGatewaySchemaVersion) return {};
        return exec("INSERT INTO meta(key, value) VALUES('schema_version', '" + std::to_string(kGatewaySchemaVersion) +
                    "') ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    });
}

Result<long long> GatewayStore::record(const domain::TicketEvent& e) {
    const auto& t = e.ticket;
    Statement up(db_,
                 "INSERT INTO tickets(id, device_id, kind, state, severity, opened_at_ms, updated_at_ms, body, input) "
                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
                 "severity=excluded.severity, updated_at_ms=excluded.updated_at_ms, body=excluded.body");
    up.bind(1, t.id).bind(2, t.device_id).bind(3, std::string(to_string(t.kind)));
    up.bind(4, std::string(to_string(t.state))).bind(5, std::string(to_string(t.severity)));
    up.bind(6, to_epoch_ms(t.opened_at)).bind(7, to_epoch_ms(t.updated_at)).bind(8, detect::to_json(t).dump());
    up.bind(9, static_cast<long long>(t.input.value_or(0)));
    if (up.step() != SQLITE_DONE) return up.error("write ticket " + t.id);
    Statement ev(db_, "INSERT INTO ticket_events(ticket_id, kind, at_ms, body) VALUES(?1, ?2, ?3, ?4)");
    ev.bind(1, t.id).bind(2, std::string(to_string(e.kind))).bind(3, to_epoch_ms(e.at)).bind(4, event_body(e));
    if (ev.step() != SQLITE_DONE) return ev.error("write event of " + t.id);
    return static_cast<long long>(sqlite3_last_insert_rowid(db_));
}

Result<long long> GatewayStore::last_event_id() const {
    Statement q(db_, "SELECT COALESCE(MAX(event_id), 0) FROM ticket_events");
    if (q.step() != SQLITE_ROW) return q.error("read the last ticket event");
    return q.integer(0);
}

Result<std::vector<domain::Ticket>> GatewayStore::tickets(bool include_closed) const {
    Statement q(db_, include_closed ? "SELECT body FROM tickets ORDER BY opened_at_ms, id"
                                    : "SELECT body FROM tickets WHERE state <> 'closed' ORDER BY opened_at_ms, id");
    std::vector<domain::Ticket> out;
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) {
        auto t = ticket_from_body(q.text(0));
        if (!t) return t.error();
        out.push_back(std::move(*t));
    }
    if (rc != SQLITE_DONE) return q.error("read tickets");
    return out;
}

Result<std::optional<domain::Ticket>> GatewayStore::ticket(const std::string& id) const {
    Statement q(db_, "SELECT body FROM tickets WHERE id = ?1");
    q.bind(1, id);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<domain::Ticket>{};
    if (rc != SQLITE_ROW) return q.error("read ticket " + id);
    auto t = ticket_from_body(q.text(0));
    if (!t) return t.error();
    return std::optional<domain::Ticket>(std::move(*t));
}

namespace {
Result<std::vector<StoredEvent>> read_events(Statement& q) {
    std::vector<StoredEvent> out;
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) {
        auto e = event_from_body(q.text(1));
        if (!e) return e.error();
        out.push_back(StoredEvent{q.integer(0), std::move(*e)});
    }
    if (rc != SQLITE_DONE) return q.error("read events");
    return out;
}
}  // namespace

Result<std::vector<StoredEvent>> GatewayStore::events_after(long long event_id, int limit) const {
    Statement q(db_, "SELECT event_id, body FROM ticket_events WHERE event_id > ?1 ORDER BY event_id LIMIT ?2");
    q.bind(1, event_id).bind(2, static_cast<long long>(limit));
    return read_events(q);
}

Result<std::vector<StoredEvent>> GatewayStore::events_of(const std::string& ticket_id) const {
    Statement q(db_, "SELECT event_id, body FROM ticket_events WHERE ticket_id = ?1 ORDER BY event_id");
    q.bind(1, ticket_id);
    return read_events(q);
}

Status GatewayStore::save_detector_state(const nlohmann::json& state) {
    Statement q(db_, "INSERT INTO detector_state(id, body) VALUES(1, ?1) ON CONFLICT(id) DO UPDATE SET body=excluded.body");
    q.bind(1, state.dump());
    if (q.step() != SQLITE_DONE) return q.error("write detector state");
    return {};
}

Result<std::optional<nlohmann::json>> GatewayStore::detector_state() const {
    Statement q(db_, "SELECT body FROM detector_state WHERE id = 1");
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<nlohmann::json>{};
    if (rc != SQLITE_ROW) return q.error("read detector state");
    auto j = nlohmann::json::parse(q.text(0), nullptr, false);
    if (j.is_discarded()) return Error{"detector state: not valid JSON", ErrorKind::invalid};
    return std::optional<nlohmann::json>(std::move(j));
}

Status GatewayStore::save_cursor(const std::string& name, const std::string& value) {
    Statement q(db_, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    q.bind(1, "cursor:" + name).bind(2, value);
    if (q.step() != SQLITE_DONE) return q.error("write cursor " + name);
    return {};
}

Result<std::optional<std::string>> GatewayStore::cursor(const std::string& name) const {
    Statement q(db_, "SELECT value FROM meta WHERE key = ?1");
    q.bind(1, "cursor:" + name);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<std::string>{};
    if (rc != SQLITE_ROW) return q.error("read cursor " + name);
    return std::optional<std::string>(q.text(0));
}

nlohmann::json sample_to_json(const domain::Sample& s) {
    nlohmann::json j{{"device", s.device_id}, {"t", to_epoch_ms(s.t)}, {"values", s.values}};
    if (!s.arrays.empty()) {
        nlohmann::json arrays = nlohmann::json::object();
        for (const auto& [name, vals] : s.arrays) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& v : vals) a.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
            arrays[name] = std::move(a);
        }
        j["arrays"] = std::move(arrays);
    }
    if (s.state) j["state"] = to_string(*s.state);
    if (!s.events.empty()) j["events"] = s.events;
    return j;
}

Result<domain::Sample> sample_from_json(const nlohmann::json& j) {
    try {
        domain::Sample s;
        s.device_id = j.at("device").get<std::string>();
        s.t = from_epoch_ms(j.at("t").get<long long>());
        for (const auto& [k, v] : j.at("values").items()) s.values[k] = v.get<double>();
        if (j.contains("arrays")) {
            for (const auto& [k, arr] : j.at("arrays").items()) {
                auto& out = s.arrays[k];
                for (const auto& v : arr) out.push_back(v.is_null() ? std::nullopt : std::optional<double>(v.get<double>()));
            }
        }
        if (j.contains("state")) s.state = domain::parse_inverter_state(j.at("state").get<std::string>());
        if (j.contains("events")) s.events = j.at("events").get<std::vector<std::string>>();
        return s;
    } catch (const nlohmann::json::exception& e) {
        return Error{std::string("stored sample: ") + e.what()};
    }
}

std::string GatewayStore::row_body(const domain::Sample& sample) const {
    return options_.compact_rows ? encode_sample_row(sample) : sample_to_json(sample).dump();
}

Status GatewayStore::insert_sample(const domain::Sample& sample) { return insert_samples({sample}); }

Result<long long> GatewayStore::device_no(const std::string& device_id, std::map<std::string, long long>& assigned) {
    if (auto it = device_nos_.find(device_id); it != device_nos_.end()) return it->second;
    if (auto it = assigned.find(device_id); it != assigned.end()) return it->second;
    Statement get(db_, "SELECT no FROM telemetry_devices WHERE device_id = ?1");
    get.bind(1, device_id);
    long long no = 0;
    if (const int rc = get.step(); rc == SQLITE_ROW) {
        no = get.integer(0);
    } else if (rc != SQLITE_DONE) {
        return get.error("read the number of device " + device_id);
    } else {
        // A new device: the next number (numbers are never reused; the table's CHECK bounds them).
        Statement add(db_, "INSERT INTO telemetry_devices(device_id) VALUES(?1)");
        add.bind(1, device_id);
        if (add.step() != SQLITE_DONE) {
            return Error{"telemetry: cannot number device '" + device_id + "' (at most " +
                             std::to_string(telemetry_key::kMaxDevices) + " devices): " + sqlite3_errmsg(db_),
                         ErrorKind::unsupported};
        }
        no = static_cast<long long>(sqlite3_last_insert_rowid(db_));
    }
    assigned.emplace(device_id, no);
    return no;
}

Status GatewayStore::insert_samples(const std::vector<domain::Sample>& samples, bool durable) {
    if (samples.empty()) return {};
    const bool relax = options_.synchronous_full && !durable;
    if (relax)
        if (auto s = exec("PRAGMA synchronous=NORMAL"); !s) return s;
    // Numbers looked up or given in this transaction: remembered only once it committed.
    std::map<std::string, long long> assigned;
    Status result = transaction([&]() -> Status {
        Statement q(db_, "INSERT OR REPLACE INTO telemetry(time_dev, body) VALUES(?1, ?2)");
        for (const auto& sample : samples) {
            auto no = device_no(sample.device_id, assigned);
            if (!no) return no.error();
            q.bind(1, telemetry_key::make(to_epoch_ms(sample.t), *no));
            if (options_.compact_rows) {
                q.bind_blob(2, row_body(sample));
            } else {
                q.bind(2, row_body(sample));
            }
            if (q.step() != SQLITE_DONE) return q.error("write samples");
            q.reset();
        }
        return {};
    });
    if (result) device_nos_.merge(assigned);
    // Everything else this connection commits (tickets, events, acks, config) stays fsynced at commit.
    if (relax)
        if (auto s = exec("PRAGMA synchronous=FULL"); !s && result) return s;
    return result;
}

Result<GatewayStore::PageUse> GatewayStore::page_use() const {
    PageUse u;
    for (auto [pragma, field] : {std::pair{"PRAGMA page_size", &u.page_size}, std::pair{"PRAGMA page_count", &u.page_count},
                                 std::pair{"PRAGMA freelist_count", &u.freelist_count}}) {
        Statement q(db_, pragma);
        if (q.step() != SQLITE_ROW) return q.error(pragma);
        *field = static_cast<std::uint64_t>(q.integer(0));
    }
    return u;
}

Result<std::vector<domain::Sample>> GatewayStore::samples(const std::string& device_id, TimePoint from, TimePoint to) const {
    std::vector<domain::Sample> out;
    Statement no(db_, "SELECT no FROM telemetry_devices WHERE device_id = ?1");
    no.bind(1, device_id);
    if (const int rc = no.step(); rc == SQLITE_DONE) {
        return out;  // never stored
    } else if (rc != SQLITE_ROW) {
        return no.error("read samples");
    }
    // The range's rows of every device, in time order (a rowid range), those of this device kept.
    Statement q(db_, "SELECT time_dev, body FROM telemetry WHERE time_dev >= ?1 AND time_dev < ?2 "
                     "AND (time_dev & 1023) = ?3 ORDER BY time_dev");
    q.bind(1, telemetry_key::first_at(to_epoch_ms(from))).bind(2, telemetry_key::first_at(to_epoch_ms(to)));
    q.bind(3, no.integer(0));
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) {
        const bool text = q.column_type(1) == SQLITE_TEXT;
        const TimePoint t = from_epoch_ms(telemetry_key::time_ms(q.integer(0)));
        auto s = decode_stored_sample(text ? q.text(1) : q.blob(1), text, device_id, t);
        if (!s) return s.error();
        out.push_back(std::move(*s));
    }
    if (rc != SQLITE_DONE) return q.error("read samples");
    return out;
}

}  // namespace pvfleet::store
