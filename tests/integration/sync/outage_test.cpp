// A real mosquitto on a free port: the broker goes down (clean stop, state persisted) while the edge keeps
// producing, then comes back. Everything the edge produced arrives, each (site, seq) at least once, the
// outage's messages flagged historical, and nothing is left in the outbox.
#include <doctest/doctest.h>

#include <iostream>

#include "pvfleet/sync/service.hpp"
#include "support/mqtt_broker.hpp"
#include "support/paths.hpp"
#include "support/sync_samples.hpp"

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

TEST_CASE("mqtt client: username/password accepted, a wrong password refused") {
    if (::pvfleet::test::find_program("mosquitto").empty() || ::pvfleet::test::find_program("mosquitto_passwd").empty()) {
        MESSAGE("mosquitto or mosquitto_passwd not installed: skipped");
        return;
    }
    ::pvfleet::test::TempDir dir;
    const auto script = (::pvfleet::test::source_dir() / "scripts/pki").string();
    std::filesystem::create_directories(dir / "pki");  // `pki password` expects the folder
    const auto added = ::pvfleet::test::run_command({script, "password", (dir / "pki").string(), "site-a", "s3cret-pass"});
    REQUIRE(added.status == 0);
    const int port = test::free_tcp_port();
    Mosquitto broker(dir / "broker", port,
                     {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous false",
                      "password_file " + (dir / "pki" / "passwords").string()});
    REQUIRE(broker.start());
    boost::asio::io_context ioc;
    auto client_with = [&](const std::string& password) {
        mqtt::ClientOptions o;
        o.server_uri = "tcp://127.0.0.1:" + std::to_string(port);
        o.client_id = "site-a-" + password;
        o.username = "site-a";
        o.password = password;
        o.reconnect_min = 100ms;
        auto c = mqtt::Client::create(ioc.get_executor(), o);
        REQUIRE(c.ok());
        (*c)->start();
        return std::move(*c);
    };
    auto good = client_with("s3cret-pass");
    auto bad = client_with("wrong");
    CHECK(sync::itest::run_until(ioc, [&] { return good->connected(); }, 10s));
    CHECK_FALSE(sync::itest::run_until(ioc, [&] { return bad->connected(); }, 1500ms));
    Status published = Error{"not yet"};
    bool done = false;
    good->publish({"pvfleet/v1/sites/site-a/status", "{}", 1, false}, [&](Status s) {
        published = s;
        done = true;
    });
    CHECK(sync::itest::run_until(ioc, [&] { return done; }, 5s));
    CHECK(published.ok());
}

TEST_CASE("mqtt client: option errors name the option") {
    boost::asio::io_context ioc;
    mqtt::ClientOptions o;
    o.server_uri = "http://127.0.0.1:1883";
    o.client_id = "x";
    auto c = mqtt::Client::create(ioc.get_executor(), o);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "server_uri: 'http://127.0.0.1:1883' must start with tcp:// or ssl://");
    o.server_uri = "ssl://127.0.0.1:8883";
    c = mqtt::Client::create(ioc.get_executor(), o);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "tls: required for ssl://127.0.0.1:8883");
    o.tls = mqtt::TlsOptions{"/nonexistent/ca.crt", "", "", true};
    c = mqtt::Client::create(ioc.get_executor(), o);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "tls/ca_file: '/nonexistent/ca.crt' is not a readable file");
}
