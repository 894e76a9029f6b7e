// The raw telemetry's layout (schema version 3: rows keyed by time, then device) and the upgrade of a store
// written in the layout before it (schema 2: a WITHOUT ROWID table keyed by (device_id, t_ms)).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/store/sample_row.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {
const TimePoint kDay0 = from_epoch_ms(1'704'067'200'000LL);  // 2024-01-01 00:00 UTC (longitude 0)

domain::Sample layout_sample(const std::string& id, TimePoint t) {
    domain::Sample s;
    s.device_id = id;
    s.t = t;
    const double hour = static_cast<double>(to_epoch_ms(t) % 86'400'000) / 3'600'000.0;
    s.values["ac_power_w"] = hour >= 6 && hour < 18 ? 1000.0 + hour : 0.0;
    s.values["energy_total_wh"] = static_cast<double>((t - kDay0).count()) / 3'600'000.0 * 500.0;
    s.arrays["dc_voltage_v"] = {412.3, std::nullopt};
    s.state = domain::InverterState::producing;
    return s;
}

// A raw connection for checks the store does not offer.
struct Raw {
    explicit Raw(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
    ~Raw() { sqlite3_close(db); }
    Raw(const Raw&) = delete;
    Raw& operator=(const Raw&) = delete;
    void exec(const char* sql) const {
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
        INFO((err != nullptr ? err : ""));
        sqlite3_free(err);
        REQUIRE(rc == SQLITE_OK);
    }
    [[nodiscard]] std::string text(const char* sql) const {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
        std::string out;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (!out.empty()) out += "\n";
            const auto* p = sqlite3_column_text(st, sqlite3_column_count(st) - 1);
            out += p != nullptr ? reinterpret_cast<const char*>(p) : "";
        }
        sqlite3_finalize(st);
        return out;
    }
    sqlite3* db = nullptr;
};

// A store as version 2 wrote it: every table of schema 2, retention's tables, and raw rows of three devices
// (two in the compact encoding, one as JSON text, as rows written before it) over three days.
void write_v2_store(const std::string& path) {
    Raw raw(path);
    raw.exec(R"SQL(
PRAGMA page_size=1024;
PRAGMA journal_mode=WAL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tickets (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
  severity TEXT NOT NULL, opened_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, body TEXT NOT NULL,
  input INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX tickets_one_live_input ON tickets(device_id, kind, input) WHERE state <> 'closed';
CREATE TABLE ticket_events (event_id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX ticket_events_by_ticket ON ticket_events(ticket_id, event_id);
CREATE TABLE detector_state (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE telemetry (device_id TEXT NOT NULL, t_ms INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (device_id, t_ms)) WITHOUT ROWID;
CREATE TABLE telemetry_daily (device_id TEXT NOT NULL, day INTEGER NOT NULL, samples INTEGER NOT NULL,
  first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, energy_first_wh REAL, energy_last_wh REAL, peak_power_w REAL,
  covered_s INTEGER NOT NULL, producing_s INTEGER NOT NULL, complete INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, day)) WITHOUT ROWID;
CREATE TABLE retention_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO retention_meta VALUES ('window_pruned', 7);
INSERT INTO meta VALUES ('schema_version', '2'), ('cursor:feed', '42');
)SQL");
    raw.exec("BEGIN");
    sqlite3_stmt* ins = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw.db, "INSERT INTO telemetry VALUES (?1, ?2, ?3)", -1, &ins, nullptr) == SQLITE_OK);
    for (const std::string id : {"inv-b", "inv-a", "meter"}) {
        const Millis step = id == "meter" ? Millis{3'600'000} : Millis{600'000};
        for (TimePoint t = kDay0; t < kDay0 + 72h; t += step) {
            const auto s = layout_sample(id, t);
            sqlite3_bind_text(ins, 1, id.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 2, to_epoch_ms(t));
            if (id == "meter") {
                const auto body = store::sample_to_json(s).dump();
                sqlite3_bind_text(ins, 3, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
            } else {
                const auto body = store::encode_sample_row(s);
                sqlite3_bind_blob(ins, 3, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
            }
            REQUIRE(sqlite3_step(ins) == SQLITE_DONE);
            sqlite3_reset(ins);
        }
    }
    sqlite3_finalize(ins);
    raw.exec("COMMIT");
}
}  // namespace

TEST_CASE("store: a store in the (device_id, t_ms) layout is upgraded once, every raw row kept") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    write_v2_store(path);

    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    {
        Raw raw(path);
        CHECK(raw.text("SELECT value FROM meta WHERE key = 'schema_version'") == "3");
        CHECK(raw.text("PRAGMA integrity_check") == "ok");
        // Numbered in name order; the view shows the rows as the old table did.
        CHECK(raw.text("SELECT group_concat(device_id || '=' || no, ',') FROM telemetry_devices") ==
              "inv-a=1,inv-b=2,meter=3");
        CHECK(raw.text("SELECT COUNT(*) FROM telemetry") == std::to_string(2 * 432 + 72));
        CHECK(raw.text("SELECT COUNT(*) FROM telemetry_rows WHERE device_id = 'meter'") == "72");
        CHECK(raw.text("SELECT MIN(t_ms) FROM telemetry_rows") == std::to_string(to_epoch_ms(kDay0)));
        CHECK(raw.text("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'telemetry_v3'") == "0");
        // Reading a device's range is a search of the key, not a scan of the table.
        const auto plan = raw.text("EXPLAIN QUERY PLAN SELECT time_dev, body FROM telemetry WHERE time_dev >= 1 AND "
                                   "time_dev < 2 AND (time_dev & 1023) = 3 ORDER BY time_dev");
        CHECK(plan.find("SEARCH telemetry USING INTEGER PRIMARY KEY") != std::string::npos);
    }
    // Every row, compact or JSON, reads back as written.
    for (const std::string id : {"inv-a", "inv-b", "meter"}) {
        CAPTURE(id);
        auto rows = (**db).samples(id, kDay0, kDay0 + 72h);
        REQUIRE(rows);
        REQUIRE(rows->size() == (id == "meter" ? 72u : 432u));
        for (const auto& s : *rows) {
            const auto want = layout_sample(id, s.t);
            CHECK(s.device_id == id);
            CHECK(s.values == want.values);
            CHECK(s.arrays == want.arrays);
            CHECK(s.state == want.state);
        }
        CHECK(rows->front().t == kDay0);
    }
    CHECK((**db).cursor("feed")->value_or("") == "42");

    // New rows go on after the upgrade; a new device gets the next number; a sample of the same device and time
    // replaces the stored one.
    const TimePoint t = kDay0 + 72h;
    REQUIRE((**db).insert_samples({layout_sample("inv-a", t), layout_sample("inv-c", t)}, false));
    auto again = layout_sample("inv-a", t);
    again.values["ac_power_w"] = 7;
    REQUIRE((**db).insert_samples({again}));
    auto after = (**db).samples("inv-a", t, t + 1ms);
    REQUIRE(after);
    REQUIRE(after->size() == 1);
    CHECK(after->front().values.at("ac_power_w") == 7);
    CHECK((**db).samples("inv-c", kDay0, t + 1h)->size() == 1);
    CHECK((**db).samples("nobody", kDay0, t + 1h)->empty());
    CHECK(Raw(path).text("SELECT no FROM telemetry_devices WHERE device_id = 'inv-c'") == "4");

    // Reopening changes nothing; retention goes on over the upgraded rows (its counters kept).
    db->reset();
    auto reopened = store::GatewayStore::open(path);
    REQUIRE(reopened);
    store::RetentionOptions o;
    o.raw_window = 24h;
    auto r = store::Retention::open(path, o);
    REQUIRE(r);
    const TimePoint now = kDay0 + 72h + 1h;
    REQUIRE((*r)->run_until_idle(now, TimePoint::max()));
    auto st = (*r)->status();
    REQUIRE(st);
    CHECK(st->window_pruned == 7 + 2 * (2 * 144 + 7) + (2 * 24 + 2));  // up to now - 24 h, inclusive
    REQUIRE(st->oldest_raw);
    CHECK(*st->oldest_raw == now - 24h + 10min);
    for (const std::string id : {"inv-a", "inv-b", "meter"}) {
        CAPTURE(id);
        auto days = (*r)->daily(id);
        REQUIRE(days);
        REQUIRE(days->size() == 3);
        for (const auto& d : *days) {
            CHECK(d.complete);
            CHECK(d.samples == (id == "meter" ? 24u : 144u));
            CHECK(*d.energy_wh() == doctest::Approx(id == "meter" ? 23 * 500.0 : (24 - 1.0 / 6) * 500.0));
        }
    }
    CHECK(Raw(path).text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("store: devices numbered by two connections at once keep their numbers") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto a = store::GatewayStore::open(path);
    auto b = store::GatewayStore::open(path);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE((**a).insert_samples({layout_sample("inv1", kDay0)}));
    REQUIRE((**b).insert_samples({layout_sample("inv2", kDay0)}));
    REQUIRE((**a).insert_samples({layout_sample("inv3", kDay0 + 10s), layout_sample("inv2", kDay0 + 10s)}));
    REQUIRE((**b).insert_samples({layout_sample("inv1", kDay0 + 10s)}));
    for (const std::string id : {"inv1", "inv2"}) {
        auto rows = (**b).samples(id, kDay0, kDay0 + 1min);
        REQUIRE(rows);
        CHECK(rows->size() == 2);
    }
    CHECK((**b).samples("inv3", kDay0, kDay0 + 1min)->size() == 1);
    CHECK(Raw(path).text("SELECT group_concat(device_id || '=' || no, ',') FROM telemetry_devices") ==
          "inv1=1,inv2=2,inv3=3");
}
