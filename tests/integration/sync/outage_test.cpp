// A real mosquitto on a free port: the broker goes down (clean stop, state persisted) while the edge keeps
// producing, then comes back. Everything the edge produced arrives, each (site, seq) at least once, the
// outage's messages flagged historical, and nothing is left in the outbox.
#include <doctest/doctest.h>

#include <iostream>

#include "../../unit/sync/helpers.hpp"
#include "broker.hpp"
#include "pvfleet/sync/service.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using sync::itest::Mosquitto;

namespace {

sync::SyncServiceOptions service_options(int port, const std::string& site) {
    sync::SyncServiceOptions o;
    o.mqtt.server_uri = "tcp://127.0.0.1:" + std::to_string(port);
    o.mqtt.reconnect_min = 100ms;
    o.mqtt.reconnect_max = 400ms;
    o.mqtt.keep_alive = 2s;
    o.sync.site_id = site;
    o.sync.config_version = "cfg-1";
    o.sync.devices = {"inv1"};
    o.sync.batch_interval = 200ms;
    o.sync.backlog_per_second = 50;
    o.sync.backlog_burst = 10;
    o.tick_interval = 50ms;
    return o;
}

}  // namespace

TEST_CASE("sync over mosquitto: broker down then back, everything arrives, each seq counted once") {
    if (test::find_program("mosquitto").empty()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    test::TempDir dir;
    const int port = test::free_tcp_port();
    Mosquitto broker(dir / "broker", port, {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous true"});
    REQUIRE(broker.start());

    sync::itest::Recorder recorder;
    mqtt::ClientOptions sub;
    sub.server_uri = "tcp://127.0.0.1:" + std::to_string(port);
    sub.client_id = "test-server";
    sub.clean_session = false;  // the broker queues for it while it is away
    sub.reconnect_min = 100ms;
    sub.reconnect_max = 400ms;
    sub.subscriptions = sync::itest::all_uplink_subscriptions();
    sync::itest::Subscriber subscriber(sub, recorder);
    REQUIRE(sync::itest::wait_until([&] { return subscriber.connected(); }, 10s));

    boost::asio::io_context ioc;
    SystemClock clock;
    auto outbox = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(outbox.ok());
    auto svc = sync::SyncService::create(ioc.get_executor(), service_options(port, "site-a"), **outbox, clock);
    REQUIRE_MESSAGE(svc.ok(), (svc.ok() ? "" : svc.error().message));
    auto& engine = (*svc)->engine();
    (*svc)->start();
    REQUIRE(sync::itest::run_until(ioc, [&] { return (*svc)->client().connected(); }, 10s));

    auto produce = [&](int from, int to) {
        for (int i = from; i < to; ++i) {
            if (i % 7 == 3) REQUIRE(engine.add_ticket_event(sync::test::ticket_event("T-" + std::to_string(i), clock.now())).ok());
            REQUIRE(engine.add_sample(sync::test::sample("inv1", sync::test::t0() + i * 10s, i)).ok());
            REQUIRE(engine.flush().ok());
            engine.note_poll_ok("inv1", clock.now());
            sync::itest::run_until(ioc, [] { return false; }, 10ms);
        }
    };
    produce(0, 20);
    REQUIRE(sync::itest::run_until(ioc, [&] { return (*outbox)->depth() == 0; }, 15s));
    const auto before_outage = (*outbox)->last_seq();
    REQUIRE(sync::itest::wait_until([&] { return recorder.seqs_of("site-a").size() == before_outage; }, 10s));

    broker.stop();
    REQUIRE(sync::itest::run_until(ioc, [&] { return !(*svc)->client().connected(); }, 10s));
    produce(20, 60);
    const auto total = (*outbox)->last_seq();
    CHECK((*outbox)->depth() == total - before_outage);  // all of it waits in the outbox

    REQUIRE(broker.start());
    const bool drained = sync::itest::run_until(ioc, [&] { return (*outbox)->depth() == 0; }, 30s);
    CHECK_MESSAGE(drained, broker.log());
    const bool all = sync::itest::wait_until([&] { return recorder.seqs_of("site-a").size() == total; }, 15s);
    CHECK(all);

    const auto seqs = recorder.seqs_of("site-a");
    CHECK(seqs.size() == total);
    CHECK(*seqs.begin() == 1);
    CHECK(*seqs.rbegin() == total);
    std::size_t duplicates = 0;
    for (const auto& [key, arrivals] : recorder.seqs()) {
        duplicates += arrivals.size() - 1;
        for (const auto& a : arrivals) CHECK(a.fingerprint == arrivals.front().fingerprint);  // dups repeat the same message
        if (key.second > before_outage) CHECK(arrivals.back().historical);  // sent from the backlog
    }
    CHECK(recorder.undecodable() == 0);
    const auto statuses = recorder.statuses();
    REQUIRE_FALSE(statuses.empty());
    CHECK(statuses.back().state == protocol::SiteState::online);
    std::cout << "outage: " << total << " seqs, " << before_outage << " before the outage, " << duplicates
              << " duplicate deliveries, " << statuses.size() << " status messages\n";
    (*svc)->stop();
}
