// Payload budget through the real sync path: one site-day of two inverters at 10-second resolution (the
// protocol tests' measured-day fixture) fed sample by sample into the SyncEngine with its live defaults
// (60-s batches, zlib), everything acknowledged; counts the telemetry payload bytes that reach MQTT. Also
// measures the same day sent entirely as backlog (an outage of the whole day, re-encoded historical).
#include <doctest/doctest.h>

#include <iostream>

#include "pvfleet/fakes/fake_publisher.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/sync/engine.hpp"
#include "support/paths.hpp"
#include "support/protocol_fixtures.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

struct DayResult {
    std::size_t bytes = 0;
    std::size_t messages = 0;
    std::size_t samples = 0;
};

DayResult run_day(bool outage) {
    const auto day = protocol::test::site_day();
    test::TempDir dir;
    auto outbox = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(outbox.ok());
    fakes::FakePublisher pub;
    pub.is_connected = !outage;
    ManualClock clock{day.samples.front().t};
    sync::SyncConfig cfg;  // live defaults: 60-s batches, 10-s resolution
    cfg.site_id = "demo-site-01";
    cfg.devices = {"inv1", "inv2"};
    cfg.config_version = "cfg-1";
    cfg.backlog_per_second = 1000;
    auto engine = sync::SyncEngine::create(cfg, **outbox, pub, clock);
    REQUIRE(engine.ok());
    auto& e = **engine;
    if (!outage) e.on_connected();
    for (const auto& s : day.samples) {
        if (s.t > clock.now()) clock.set(s.t);
        e.tick();
        REQUIRE(e.add_sample(s).ok());
        pub.ack_all();
    }
    REQUIRE(e.flush().ok());
    if (outage) {
        pub.is_connected = true;
        e.on_connected();
    }
    for (int i = 0; i < 100000 && (*outbox)->depth() > 0; ++i) {
        clock.advance(1s);
        e.tick();
        pub.ack_all();
    }
    REQUIRE((*outbox)->depth() == 0);
    DayResult r;
    for (const auto& m : pub.on("/telemetry")) {
        r.bytes += m.payload.size();
        ++r.messages;
        auto b = protocol::decode_telemetry(m.payload);
        REQUIRE(b.ok());
        CHECK(b->historical == outage);
        r.samples += b->samples.size();
    }
    CHECK(r.samples == day.samples.size());
    std::cout << (outage ? "backlog (whole-day outage)" : "live") << ": " << day.samples.size() << " samples ("
              << day.source << ") -> " << r.messages << " telemetry messages, " << r.bytes << " payload bytes ("
              << r.bytes / day.samples.size() << " B/sample)\n";
    return r;
}

}  // namespace

TEST_CASE("site-day: two inverters at 10 s cost at most 1 MB of MQTT payload through the sync engine") {
    const auto live = run_day(false);
    CHECK(live.bytes <= 1'000'000);
    const auto backlog = run_day(true);
    CHECK(backlog.bytes <= 1'000'000);
}
