// A simulated year of a gateway's storage at speed stays within its disk budget.
//
// Design (the whole year in well under a minute, also under ASan): two inverters sampled every 15 minutes
// instead of every 10 s (a ninetieth of the rows; each row stands for a poll cycle and takes the same path),
// committed an hour at a time through TelemetryWriter, synced through the real SyncEngine and SQLite outbox to
// a broker stand-in that acknowledges at once (hourly batches; acknowledged rows deleted at once, since their
// 48-h keep runs on the real clock), retention stepping on a SimulatedTimeSystem timer after each commit, as the
// agent does on its tick. The simulated clock steps an hour at a time (the hour's four sampling cycles added at
// once), the database lives in memory when there is a tmpfs: the test's time is its own CPU, not the
// scheduler's or the disk's. The budget is scaled down with the rows: for the first half year it holds the 30-day window
// easily, so the window's pruning and the daily aggregates are what keep the file small; then it is lowered
// (as an installer may) to 2 MiB, the WAL's megabyte included. At this sampling 30 days of raw rows still fit
// under it, so the budget's own pruning order is tested in retention_test.cpp, not here. Checked
// every simulated day: pages in use plus the WAL within the budget, the file never above the first budget; at
// the end: a complete daily aggregate for each of the 365 days per device, raw rows only inside the window, the
// ticket of day 1 still there, nothing lost unsynced.
#include <doctest/doctest.h>

#include <cmath>
#include <deque>

#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/store/telemetry_writer.hpp"
#include "pvfleet/sync/engine.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

const TimePoint kStart = from_epoch_ms(1'704'067'200'000LL);  // 2024-01-01 00:00 UTC (longitude 0)
constexpr Millis kSampling{900'000};  // a sample every 15 minutes per inverter
constexpr Millis kStep{3'600'000};     // the simulated clock's step: an hour of samples, committed at once

class YearPublisher final : public sync::Publisher {
public:
    void publish(sync::PublishRequest, Completion done) override { pending.push_back(std::move(done)); }
    [[nodiscard]] bool connected() const override { return true; }
    void drain() {
        while (!pending.empty()) {
            auto d = std::move(pending.front());
            pending.pop_front();
            d({});
        }
    }
    std::deque<Completion> pending;
};

domain::Sample year_sample(const std::string& id, TimePoint t, double& energy_wh) {
    const double day_frac = static_cast<double>(to_epoch_ms(t) % 86'400'000) / 86'400'000.0;
    const double x = std::clamp((day_frac - 0.25) / 0.5, 0.0, 1.0);
    const double p = std::round(4000 * std::sin(M_PI * x));
    energy_wh += p * 900 / 3600.0;
    domain::Sample s;
    s.device_id = id;
    s.t = t;
    s.values["ac_power_w"] = p;
    s.values["energy_total_wh"] = std::round(energy_wh);
    s.values["ac_frequency_hz"] = 50.01;
    s.values["temperature_c"] = 25 + p / 300;
    s.arrays["dc_voltage_v"] = {p > 0 ? 410.2 : 0.0, p > 0 ? 398.7 : 0.0};
    s.arrays["dc_current_a"] = {p / 2 / 410.2, p / 2 / 398.7};
    s.arrays["ac_voltage_v"] = {230.1, 231.4, 229.8};
    s.state = p > 0 ? domain::InverterState::producing : domain::InverterState::sleeping;
    return s;
}

}  // namespace

TEST_CASE("retention: a simulated year at speed stays within the disk budget") {
    // In memory when the machine has a tmpfs: the year's ~16 000 fsyncs (hourly FULL commits, checkpoints) were
    // most of the test's time on a busy disk, and what is checked here is sizes, not durability (store_kill).
    test::TempDir dir(test::memory_temp_dir());
    const auto path = (dir / "edge.db").string();
    SimulatedTimeSystem time(kStart);
    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    auto outbox = store::SqliteOutbox::open(path, {.acked_retention = std::chrono::hours(0)});
    REQUIRE(outbox);
    domain::Ticket ticket;
    ticket.id = "T-1";
    ticket.device_id = "inv1";
    ticket.kind = domain::FaultKind::not_producing;
    ticket.opened_at = ticket.updated_at = kStart;
    REQUIRE((**db).record(domain::TicketEvent{domain::TicketEventKind::opened, kStart, ticket}));

    constexpr std::uint64_t kFirstBudget = 4ull << 20;   // 30 days of raw rows here: about 0.8 MB
    constexpr std::uint64_t kSecondBudget = 2ull << 20;  // the WAL (up to 1 MiB) and about two weeks of raw rows
    auto open_retention = [&](std::uint64_t budget) {
        store::RetentionOptions o;
        o.raw_window = std::chrono::hours(24 * 30);
        o.budget_bytes = budget;
        auto r = store::Retention::open(path, o, outbox->get());
        REQUIRE(r);
        return std::move(*r);
    };
    auto retention = open_retention(kFirstBudget);
    store::TelemetryWriter writer(**db, {});
    YearPublisher publisher;
    sync::SyncConfig sc;
    sc.site_id = "year-site";
    sc.config_version = "y1";
    sc.devices = {"inv1", "inv2"};
    sc.batch_interval = 1h;
    sc.resolution_s = 900;
    sc.heartbeat_interval = std::chrono::hours(24);
    auto engine = sync::SyncEngine::create(sc, **outbox, publisher, time);
    REQUIRE(engine);
    (*engine)->on_connected();

    double e1 = 1e6, e2 = 2e6;
    std::uint64_t budget = kFirstBudget;
    std::uint64_t largest_file = 0;
    int over_budget_days = 0;
    auto timer = time.make_timer();
    // Every hour: its four quarter-hours of samples (each a poll cycle of both inverters) added and committed
    // in one transaction, the sync's tick, and retention's steps.
    std::function<void()> hour = [&] {
        const TimePoint now = time.now();
        for (TimePoint t = now - kStep + kSampling; t <= now; t += kSampling) {
            for (auto* id : {"inv1", "inv2"}) {
                auto s = year_sample(id, t, std::string(id) == "inv1" ? e1 : e2);
                writer.add(s);
                REQUIRE((*engine)->add_sample(std::move(s)));
            }
        }
        REQUIRE(writer.flush(now));
        (*engine)->tick();
        publisher.drain();
        // The agent's retention pace: a step per tick, more while there is work.
        for (int i = 0; i < 40; ++i) {
            auto more = retention->step(now, [&] { return (*outbox)->synced_through(); });
            REQUIRE(more);
            if (!*more) break;
        }
        timer->arm(kStep, hour);
    };
    timer->arm(kStep, hour);
    for (int day = 1; day <= 365; ++day) {
        if (day == 183) {
            budget = kSecondBudget;
            retention = open_retention(budget);
        }
        time.advance(24h);
        auto st = retention->status();
        REQUIRE(st);
        largest_file = std::max(largest_file, st->db_file_bytes + st->wal_bytes);
        // Within the budget at the end of every day (a day's growth is pruned the same day).
        if (st->used_bytes > budget) ++over_budget_days;
        CHECK_MESSAGE(st->used_bytes <= budget, "day " << day << ": " << st->to_json().dump());
    }
    REQUIRE(writer.flush(time.now()));
    auto st = retention->status();
    REQUIRE(st);
    MESSAGE("after a year: " << st->to_json().dump() << ", largest file + WAL " << largest_file << " B");
    CHECK(over_budget_days == 0);
    CHECK(largest_file <= kFirstBudget);
    CHECK(st->window_pruned > 0);
    CHECK(st->unsynced_pruned == 0);
    REQUIRE(st->oldest_raw);
    CHECK(*st->oldest_raw >= time.now() - std::chrono::hours(24 * 30) - std::chrono::hours(6) - kStep);
    for (const std::string id : {"inv1", "inv2"}) {
        auto days = retention->daily(id);
        REQUIRE(days);
        CAPTURE(id);
        REQUIRE(days->size() >= 365);
        days->resize(365);
        for (const auto& d : *days) {
            CAPTURE(d.to_json().dump());
            CHECK(d.complete);
            CHECK(d.samples == (d.day_start == kStart ? 95u : 96u));  // from 00:15 on the first day
            REQUIRE(d.energy_wh());
            CHECK(*d.energy_wh() > 15'000);  // about 30 kWh a day
        }
    }
    auto kept = (**db).ticket("T-1");
    REQUIRE(kept);
    CHECK(kept->has_value());
}
