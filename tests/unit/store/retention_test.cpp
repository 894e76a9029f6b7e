// Local retention and the disk budget (store::Retention, store::TelemetryWriter) on real SQLite files.
#include <doctest/doctest.h>

#include <cmath>

#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/store/telemetry_writer.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {
const TimePoint kT0 = from_epoch_ms(1'704'067'200'000LL);  // 2024-01-01 00:00 UTC (longitude 0: a solar midnight)
constexpr double kDayWh = 12'000;                          // each inverter makes 12 kWh a day

// An inverter's sample as the agent stores it: a bell of power over the day, the counter integrating it.
domain::Sample inverter_sample(const std::string& id, TimePoint t) {
    const double day_frac = static_cast<double>(to_epoch_ms(t) % 86'400'000) / 86'400'000.0;
    const double day = std::floor(static_cast<double>((t - kT0).count()) / 86'400'000.0);
    const double x = std::clamp((day_frac - 0.25) / 0.5, 0.0, 1.0);  // 06:00 .. 18:00
    const double sun = std::sin(M_PI * x);
    domain::Sample s;
    s.device_id = id;
    s.t = t;
    s.values["ac_power_w"] = std::round(kDayWh * M_PI / 24.0 * sun * sun * 2.0);  // integrates to kDayWh
    s.values["energy_total_wh"] = std::round(1e6 + kDayWh * (day + (x - std::sin(2 * M_PI * x) / (2 * M_PI))));
    s.values["ac_frequency_hz"] = 50.01;
    s.values["temperature_c"] = 31.5;
    s.arrays["dc_voltage_v"] = {412.3, 398.7};
    s.arrays["dc_current_a"] = {5.1, 4.9};
    s.arrays["ac_voltage_v"] = {230.1, 231.4, 229.8};
    s.state = sun > 0 ? domain::InverterState::producing : domain::InverterState::sleeping;
    return s;
}

// `days` of two inverters every `step`, written in transactions of an hour.
void fill(store::GatewayStore& db, TimePoint from, int days, Millis step) {
    std::vector<domain::Sample> batch;
    for (TimePoint t = from; t < from + std::chrono::hours(24 * days); t += step) {
        batch.push_back(inverter_sample("inv1", t));
        batch.push_back(inverter_sample("inv2", t));
        if (batch.size() >= 720) {
            REQUIRE(db.insert_samples(batch));
            batch.clear();
        }
    }
    REQUIRE(db.insert_samples(batch));
}

long long raw_rows(const store::GatewayStore& db, const std::string& device) {
    auto rows = db.samples(device, TimePoint{}, kT0 + std::chrono::hours(24 * 4000));
    REQUIRE(rows);
    return static_cast<long long>(rows->size());
}
}  // namespace

TEST_CASE("retention: raw samples past the window are folded into daily aggregates and deleted") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    fill(**db, kT0, 6, 300s);
    store::RetentionOptions o;
    o.raw_window = std::chrono::hours(24 * 2);
    auto r = store::Retention::open(path, o);
    REQUIRE(r);
    const TimePoint now = kT0 + std::chrono::hours(24 * 6) + 1h;
    REQUIRE((*r)->run_until_idle(now, TimePoint::max()));

    // Kept: the last 2 days (the window). Deleted: the 4 days and 1 hour before.
    auto rows = (**db).samples("inv1", TimePoint{}, now);
    REQUIRE(rows);
    REQUIRE_FALSE(rows->empty());
    CHECK(rows->front().t > now - std::chrono::hours(24 * 2));
    CHECK(rows->front().t <= now - std::chrono::hours(24 * 2) + 5min);
    // Aggregates for every finished day, pruned or still raw, complete, with the day's energy and coverage.
    for (const std::string dev : {"inv1", "inv2"}) {
        auto days = (*r)->daily(dev);
        REQUIRE(days);
        REQUIRE(days->size() == 6);
        for (const auto& d : *days) {
            CAPTURE(d.to_json().dump());
            CHECK(d.complete);
            CHECK(d.samples == 288);
            REQUIRE(d.energy_wh());
            CHECK(*d.energy_wh() == doctest::Approx(kDayWh).epsilon(0.01));
            CHECK(d.covered_s == 86'400 - 300);
            CHECK(d.producing_s == doctest::Approx(12 * 3600).epsilon(0.01));
            CHECK(*d.peak_power_w == doctest::Approx(kDayWh * M_PI / 12.0).epsilon(0.01));
        }
    }
    auto st = (*r)->status();
    REQUIRE(st);
    CHECK(st->window_pruned == 2 * (4 * 288 + 13));  // up to the window's start, 1 h into day 5 (inclusive)
    CHECK(st->unsynced_pruned == 0);
    CHECK_FALSE(st->over_budget);

    // Idempotent: running again changes nothing.
    REQUIRE((*r)->run_until_idle(now, TimePoint::max()));
    CHECK((*r)->status()->window_pruned == st->window_pruned);
}

TEST_CASE("retention: raw rows not yet synced stay, however old") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    fill(**db, kT0, 8, 600s);
    store::RetentionOptions o;
    o.raw_window = std::chrono::hours(24);
    auto r = store::Retention::open(path, o);
    REQUIRE(r);
    const TimePoint now = kT0 + std::chrono::hours(24 * 8);
    SUBCASE("nothing synced") {
        REQUIRE((*r)->run_until_idle(now, std::nullopt));
        CHECK(raw_rows(**db, "inv1") == 8 * 144);
    }
    SUBCASE("synced through day 5") {
        const TimePoint synced = kT0 + std::chrono::hours(24 * 5) - 1ms;
        REQUIRE((*r)->run_until_idle(now, synced));
        CHECK(raw_rows(**db, "inv1") == 3 * 144);
        auto days = (*r)->daily("inv1");
        REQUIRE(days);
        CHECK(days->size() == 8);  // finished days are aggregated whether pruned or not
    }
}

TEST_CASE("retention: the disk budget takes synced raw telemetry first, then unsynced (counted), never tickets") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    // A ticket and its event: never touched by the budget.
    domain::Ticket t;
    t.id = "T-1";
    t.device_id = "inv1";
    t.kind = domain::FaultKind::not_producing;
    t.opened_at = t.updated_at = kT0;
    REQUIRE((**db).record(domain::TicketEvent{domain::TicketEventKind::opened, kT0, t}));
    fill(**db, kT0, 20, 240s);
    REQUIRE((**db).exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    auto outbox = store::SqliteOutbox::open(path);
    REQUIRE(outbox);
    store::RetentionOptions o;
    {
        auto probe = store::Retention::open(path, o, outbox->get());
        REQUIRE(probe);
        o.budget_bytes = (*probe)->status()->used_bytes * 2 / 3;  // a third of the raw rows must go
    }
    o.batch_rows = 2000;
    auto r = store::Retention::open(path, o, outbox->get());
    REQUIRE(r);
    const TimePoint now = kT0 + std::chrono::hours(24 * 20);
    REQUIRE((*r)->status()->over_budget);

    SUBCASE("synced data covers the excess: no loss") {
        REQUIRE((*r)->run_until_idle(now, now));
        auto st = (*r)->status();
        REQUIRE(st);
        CHECK(st->used_bytes <= o.budget_bytes);
        CHECK(st->budget_pruned > 0);
        CHECK(st->unsynced_pruned == 0);
        // Oldest went first: what is left is the newest.
        auto rows = (**db).samples("inv1", TimePoint{}, now);
        REQUIRE(rows);
        CHECK(rows->back().t == now - 240s);
    }
    SUBCASE("nothing synced: unsynced raw goes, counted as lost") {
        REQUIRE((*r)->run_until_idle(now, std::nullopt));
        auto st = (*r)->status();
        REQUIRE(st);
        CHECK(st->used_bytes <= o.budget_bytes);
        CHECK(st->budget_pruned == 0);
        CHECK(st->unsynced_pruned > 0);
        CHECK(st->to_json()["raw_lost_unsynced"] == st->unsynced_pruned);
    }
    // The ticket and its event are still there, and the days pruned early still have their aggregates.
    auto ticket = (**db).ticket("T-1");
    REQUIRE(ticket);
    CHECK(ticket->has_value());
    CHECK((**db).events_of("T-1")->size() == 1);
    auto days = (*r)->daily("inv1");
    REQUIRE(days);
    CHECK(days->size() == 20);
    CHECK(days->front().samples == 360);
}

TEST_CASE("telemetry writer: a commit per poll cycle, fsynced once a minute; below the free-space floor raw samples stop growing the file") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    std::uint64_t free_bytes = 1ull << 30;
    store::TelemetryWriterOptions o;
    o.min_free_bytes = 64ull << 20;
    o.free_space = [&](const std::filesystem::path&) { return std::optional<std::uint64_t>(free_bytes); };
    store::TelemetryWriter w(**db, o);
    TimePoint t = kT0;
    auto feed = [&](int n) {
        for (int i = 0; i < n; ++i, t += 10s) {
            w.add(inverter_sample("inv1", t));
            w.add(inverter_sample("inv2", t));
            REQUIRE(w.flush(t));
        }
    };
    feed(60);  // 10 minutes of 10-s cycles: a commit each, one a minute durable
    CHECK(w.stats().commits == 60);
    CHECK(w.stats().durable_commits == 10);
    CHECK(w.stats().written == 120);
    CHECK(w.buffered() == 0);

    free_bytes = 1ull << 20;  // below the floor, and no free pages in the file
    const auto written = w.stats().written;
    feed(60);
    CHECK(w.stats().written == written);
    CHECK(w.stats().skipped > 0);

    // The budget frees pages inside the file (synced raw first): the writer uses them again.
    store::RetentionOptions ro;
    ro.min_free_bytes = o.min_free_bytes;
    ro.free_space = o.free_space;
    auto r = store::Retention::open(path, ro);
    REQUIRE(r);
    REQUIRE((*r)->status()->over_budget);
    REQUIRE((*r)->run_until_idle(t, t));
    auto use = (**db).page_use();
    REQUIRE(use);
    CHECK(use->free_bytes() > 0);
    const auto skipped = w.stats().skipped;
    feed(12);
    CHECK(w.stats().skipped == skipped);
    CHECK(w.stats().written > written);
}
