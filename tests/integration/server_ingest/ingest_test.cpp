// Server ingest end to end: real mosquitto, gateway sync processes (tests/integration/sync/agent_main.cpp)
// and the pvfleet-server binary with its SQLite file. Checks exactly-once storage across server kills, the
// broker queue of the persistent session, gap detection with resend, rejection of bad and hostile payloads,
// and a 7-day backlog drain while live data keeps flowing.
#include <doctest/doctest.h>

#include <csignal>
#include <iostream>
#include <random>

#include "support/sync_samples.hpp"
#include "support/mqtt_broker.hpp"
#include "support/server_process.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/sync/service.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

itest::ServerProcessOptions server_options(const std::string& uri) {
    itest::ServerProcessOptions o;
    o.broker_uri = uri;
    return o;
}

bool have_mosquitto() {
    return !test::find_program("mosquitto").empty();
}

struct Env {
    test::TempDir dir;
    int port = test::free_tcp_port();
    sync::itest::Mosquitto broker{
        dir / "broker", port, {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous true"}};
    std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
};

// A raw publisher (what a misbehaving or hand-made client would send).
class RawClient {
public:
    RawClient(const std::string& uri, const std::string& id,
              std::vector<std::pair<std::string, int>> subs = {}) {
        mqtt::ClientOptions o;
        o.server_uri = uri;
        o.client_id = id;
        o.reconnect_min = 100ms;
        o.subscriptions = std::move(subs);
        io_.run([&] {
            auto c = mqtt::Client::create(io_.context().get_executor(), o);
            REQUIRE(c.ok());
            client_ = std::move(*c);
            client_->on_message = [this](const mqtt::Message& m) {
                std::lock_guard lock(mu_);
                received_.push_back(m);
            };
            client_->start();
        });
        REQUIRE(sync::itest::wait_until([&] { return connected(); }, 10s));
    }
    ~RawClient() {
        io_.run([&] { client_.reset(); });
    }
    bool connected() {
        bool c = false;
        io_.run([&] { c = client_->connected(); });
        return c;
    }
    void publish(const std::string& topic, std::string payload) {
        std::atomic<bool> done{false};
        io_.run([&] {
            client_->publish({topic, std::move(payload), 1, false}, [&](Status) { done = true; });
        });
        REQUIRE(sync::itest::wait_until([&] { return done.load(); }, 10s));
    }
    std::vector<mqtt::Message> received() {
        std::lock_guard lock(mu_);
        return received_;
    }

private:
    sync::itest::IoThread io_;
    std::unique_ptr<mqtt::Client> client_;
    std::mutex mu_;
    std::vector<mqtt::Message> received_;
};

std::string telemetry_payload(const std::string& site, protocol::Seq seq) {
    protocol::TelemetryBatch b;
    b.site_id = site;
    b.seq = seq;
    b.sent_at = sync::test::t0();
    b.samples.push_back(sync::test::sample("inv1", sync::test::t0() + std::chrono::seconds(10 * seq),
                                           100.0 * static_cast<double>(seq)));
    return *protocol::encode(b);
}

}  // namespace

TEST_CASE(
    "server ingest: every seq stored exactly once while the server is killed and restarted mid-ingest") {
    if (!have_mosquitto()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    Env env;
    REQUIRE(env.broker.start());
    itest::ServerProcess server(env.dir / "server", server_options(env.uri));
    REQUIRE_MESSAGE(server.start(), server.log());

    // What the gateways publish, seen from beside the server (its own session: the server's is untouched).
    sync::itest::Recorder published;
    mqtt::ClientOptions watch;
    watch.server_uri = env.uri;
    watch.client_id = "test-watcher";
    watch.reconnect_min = 100ms;
    watch.subscriptions = sync::itest::all_uplink_subscriptions();
    sync::itest::Subscriber watcher(watch, published);
    REQUIRE(sync::itest::wait_until([&] { return watcher.connected(); }, 10s));

    constexpr int kCount = 500;
    const std::vector<std::string> argv_a{
        SYNC_TEST_AGENT, env.uri, (env.dir / "edge-a.db").string(), "site-a", std::to_string(kCount), "60"};
    const std::vector<std::string> argv_b{
        SYNC_TEST_AGENT, env.uri, (env.dir / "edge-b.db").string(), "site-b", std::to_string(kCount), "60"};
    test::ChildProcess agent_a(argv_a, env.dir / "agent-a.log");
    test::ChildProcess agent_b(argv_b, env.dir / "agent-b.log");

    // Kill the server mid-ingest while both gateways publish; each restart resumes the persistent session (the
    // broker kept what arrived meanwhile) and the gap check asks for what died in memory. The moments are points
    // of progress rather than pauses, so every kill lands mid-stream however fast the machine is: after the
    // server stored another fifth of all messages, and it stays down until the gateways published another 100
    // (or everything).
    const auto stored = [&] { return server.scalar("SELECT COUNT(*) FROM received"); };
    int kills = 0;
    for (int round = 0; round < 4; ++round) {
        const long long target = (round + 1) * 2LL * kCount / 5;
        CHECK_MESSAGE(sync::itest::wait_until([&] { return stored() >= target; }, 60s), server.log());
        server.kill();
        ++kills;
        const std::size_t seen = published.seqs().size();
        sync::itest::wait_until([&] {
            const std::size_t now = published.seqs().size();
            return now >= seen + 100 || now >= 2u * kCount;
        }, 30s);
        REQUIRE_MESSAGE(server.start(), server.log());
    }
    const auto complete = [&](const std::string& site) {
        return server.scalar("SELECT COUNT(*) FROM received WHERE site_id = $1", {site}) == kCount;
    };
    const bool all = sync::itest::wait_until([&] { return complete("site-a") && complete("site-b"); }, 90s);
    CHECK_MESSAGE(all, server.log());
    for (const std::string site : {"site-a", "site-b"}) {
        CAPTURE(site);
        CHECK(server.scalar("SELECT COUNT(*) FROM received WHERE site_id = $1", {site}) == kCount);
        CHECK(server.scalar("SELECT MIN(seq) FROM received WHERE site_id = $1", {site}) == 1);
        CHECK(server.scalar("SELECT MAX(seq) FROM received WHERE site_id = $1", {site}) == kCount);
        // Every 5th seq is a ticket event, the rest one-sample telemetry batches: no loss, no duplicate row.
        CHECK(server.scalar("SELECT COUNT(*) FROM ticket_events WHERE site_id = $1", {site}) == kCount / 5);
        CHECK(server.scalar("SELECT COUNT(*) FROM tickets WHERE site_id = $1", {site}) == kCount / 5);
        CHECK(server.scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw WHERE site_id = $1", {site}) ==
              kCount - kCount / 5);
        CHECK(server.scalar("SELECT contiguous_through FROM site_seq WHERE site_id = $1", {site}) == kCount);
        CHECK(server.scalar("SELECT lost FROM site_seq WHERE site_id = $1", {site}) == 0);
        // 5-minute aggregates count each stored reading once.
        CHECK(server.scalar("SELECT SUM(n) FROM telemetry_5min WHERE site_id = $1 AND point = 'ac_power_w'",
                            {site}) == kCount - kCount / 5);
    }
    std::cout << "server killed " << kills << " times; resend requests logged: " << [&] {
        const auto log = server.log();
        std::size_t n = 0;
        for (auto p = log.find("asking for seq"); p != std::string::npos;
             p = log.find("asking for seq", p + 1))
            ++n;
        return n;
    }() << "\n";
    agent_a.stop();
    agent_b.stop();
}

TEST_CASE("server ingest: bad payloads are rejected, counted and logged; the server keeps ingesting") {
    if (!have_mosquitto()) return;
    Env env;
    REQUIRE(env.broker.start());
    itest::ServerProcess server(env.dir / "server", server_options(env.uri));
    REQUIRE_MESSAGE(server.start(), server.log());
    RawClient client(env.uri, "bad-client");
    const std::string topic = protocol::topic_for("site-x", protocol::MessageKind::telemetry);
    std::string wrong_type = telemetry_payload("site-x", 7);
    wrong_type.replace(wrong_type.find("\"seq\":7"), 7, "\"seq\":\"7\"");
    std::string unknown_version = telemetry_payload("site-x", 8);
    unknown_version.replace(unknown_version.find("\"v\":1"), 5, "\"v\":9");
    client.publish(topic, "{not json");                        // malformed JSON
    client.publish(topic, wrong_type);                         // wrong type
    client.publish(topic, std::string(2 * 1024 * 1024, '{'));  // huge
    client.publish(topic, unknown_version);                    // unknown version
    client.publish(topic, telemetry_payload("site-y", 9));     // payload site differs from the topic
    client.publish(protocol::topic_for("site-x", protocol::MessageKind::ticket_event),
                   telemetry_payload("site-x", 10));        // kind vs topic
    client.publish(topic, telemetry_payload("site-x", 1));  // and a good one still goes in
    REQUIRE_MESSAGE(sync::itest::wait_until(
                        [&] { return server.scalar("SELECT COUNT(*) FROM ingest_rejects") == 6; }, 20s),
                    server.log());
    CHECK(sync::itest::wait_until(
        [&] { return server.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-x'") == 1; }, 20s));
    CHECK(server.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-y'") == 0);
    CHECK(server.running());
    const std::string log = server.log();
    CHECK(log.find("rejected") != std::string::npos);
    CHECK(log.find("site_id") != std::string::npos);  // the reason names the field
    CHECK(server.stop() == 0);
}

TEST_CASE("server ingest: hostile payloads (sample bomb, seq and last_seq beyond 2^53 - 1, reserved site, site "
          "not the topic's, oversized) store nothing; the ingest keeps going") {
    if (!have_mosquitto()) return;
    Env env;
    REQUIRE(env.broker.start());
    itest::ServerProcess server(env.dir / "server", server_options(env.uri));
    REQUIRE_MESSAGE(server.start(), server.log());
    RawClient client(env.uri, "hostile-client");
    const std::string topic = protocol::topic_for("site-h", protocol::MessageKind::telemetry);
    // A few kB of zlib inflating to 450 000 samples (what stalled the server before samples were bounded).
    std::string bomb_json = R"({"v":1,"kind":"telemetry","site_id":"site-h","seq":3,"sent_at":1468915230000,)"
                            R"("devices":[{"device_id":"inv1","t0":1468915200000,"dt":[0)";
    for (int i = 1; i < 450000; ++i) bomb_json += ",0";
    bomb_json += R"(],"points":{}}]})";
    const std::string bomb = protocol::deflate_payload(bomb_json);
    REQUIRE(bomb.size() < 10000);
    std::string huge_seq = telemetry_payload("site-h", 4);
    huge_seq.replace(huge_seq.find("\"seq\":4"), 7, "\"seq\":9007199254740992");
    const std::string huge_last_seq =
        R"({"v":1,"kind":"status","site_id":"site-h","state":"offline","sent_at":1468915230000,)"
        R"("agent_version":"x","last_seq":4611686018427387904})";
    std::string reserved = telemetry_payload("site-h", 5);
    reserved.replace(reserved.find("site-h"), 6, "pvfleet-server");

    client.publish(topic, bomb);
    client.publish(topic, huge_seq);
    client.publish(protocol::topic_for("site-h", protocol::MessageKind::status), huge_last_seq);
    client.publish("pvfleet/v1/sites/pvfleet-server/telemetry", reserved);
    client.publish(topic, telemetry_payload("site-q", 6));                        // site not the topic's
    client.publish(topic, protocol::deflate_payload(std::string(5 << 20, ' ')));  // inflates past 4 MiB
    client.publish(topic, telemetry_payload("site-h", 1));                        // a good one still goes in
    REQUIRE_MESSAGE(sync::itest::wait_until(
                        [&] { return server.scalar("SELECT COUNT(*) FROM ingest_rejects") == 6; }, 20s),
                    server.log());
    CHECK(sync::itest::wait_until(
        [&] { return server.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-h'") == 1; }, 20s));
    CHECK(server.scalar("SELECT COUNT(*) FROM received") == 1);
    CHECK(server.scalar("SELECT COUNT(*) FROM telemetry_raw WHERE site_id <> 'site-h'") == 0);
    CHECK(server.scalar("SELECT COUNT(*) FROM site_status") == 0);
    CHECK(server.scalar("SELECT COALESCE(MAX(max_seen), 0) FROM site_seq") == 1);
    auto rejected_for = [&](const std::string& reason) {
        return server.scalar("SELECT COUNT(*) FROM ingest_rejects WHERE reason LIKE $1", {"%" + reason + "%"});
    };
    CHECK(rejected_for("devices/0/dt: the batch has more than 20000 samples") == 1);
    CHECK(rejected_for("seq: 9007199254740992 exceeds the largest seq 9007199254740991") == 1);
    CHECK(rejected_for("last_seq: 4611686018427387904 exceeds the largest seq") == 1);
    CHECK(rejected_for("'pvfleet-server' is not a valid site id") == 1);
    CHECK(rejected_for("inflated size exceeds") == 1);
    CHECK(server.running());
    // Still ingesting after all that.
    client.publish(topic, telemetry_payload("site-h", 2));
    CHECK(sync::itest::wait_until(
        [&] { return server.scalar("SELECT contiguous_through FROM site_seq WHERE site_id = 'site-h'") == 2; },
        20s));
    CHECK(server.stop() == 0);
}

TEST_CASE(
    "server ingest: a hole in a site's sequence makes the server ask for a resend; a redelivery adds "
    "nothing") {
    if (!have_mosquitto()) return;
    Env env;
    REQUIRE(env.broker.start());
    itest::ServerProcess server(env.dir / "server", server_options(env.uri));
    REQUIRE_MESSAGE(server.start(), server.log());
    RawClient gateway(env.uri, "gw-z", {{protocol::topic_for("site-z", protocol::MessageKind::command), 1}});
    const std::string topic = protocol::topic_for("site-z", protocol::MessageKind::telemetry);
    for (protocol::Seq s : {1, 2, 5}) gateway.publish(topic, telemetry_payload("site-z", s));
    REQUIRE_MESSAGE(sync::itest::wait_until([&] { return !gateway.received().empty(); }, 20s), server.log());
    auto cmd = protocol::decode_command(gateway.received().front().payload);
    REQUIRE(cmd.ok());
    const auto* resend = std::get_if<protocol::ResendCommand>(&cmd->body);
    REQUIRE(resend != nullptr);
    CHECK(resend->from_seq == 3);
    CHECK(resend->to_seq == 4);
    for (protocol::Seq s : {3, 4, 4, 1})
        gateway.publish(topic, telemetry_payload("site-z", s));  // 4 and 1 twice
    CHECK(sync::itest::wait_until(
        [&] {
            return server.scalar("SELECT contiguous_through FROM site_seq WHERE site_id = 'site-z'") == 5;
        },
        20s));
    CHECK(server.scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw WHERE site_id = 'site-z'") == 5);
    CHECK(server.scalar("SELECT COUNT(*) FROM commands WHERE site_id = 'site-z' AND command = 'resend'") >=
          1);
}

TEST_CASE("server ingest: a 7-day backlog drains completely while live data keeps flowing") {
    if (!have_mosquitto()) return;
    Env env;
    REQUIRE(env.broker.start());
    itest::ServerProcess server(env.dir / "server", server_options(env.uri));
    REQUIRE_MESSAGE(server.start(), server.log());

    auto outbox = store::SqliteOutbox::open((env.dir / "edge.db").string());
    REQUIRE(outbox.ok());
    boost::asio::io_context io;
    SystemClock clock;
    sync::SyncServiceOptions so;
    so.mqtt.server_uri = env.uri;
    so.mqtt.reconnect_min = 100ms;
    so.sync.site_id = "site-week";
    so.sync.config_version = "cfg";
    so.sync.devices = {"inv1", "inv2"};
    so.sync.batch_interval = std::chrono::hours(24);
    so.sync.batch_max_samples = 12;  // 60 s of two inverters per message, as live
    so.sync.heartbeat_interval = 1s;
    so.tick_interval = 20ms;
    // Written while the link was down: 7 days at 10 s for two inverters.
    const TimePoint start = sync::test::t0() - std::chrono::days(8);
    {
        auto fill = sync::SyncService::create(io.get_executor(), so, **outbox, clock);
        REQUIRE(fill.ok());
        bool all_written = true;
        for (long long k = 0; k < 7 * 8640LL; ++k)
            for (const char* dev : {"inv1", "inv2"})
                all_written = (*fill)
                                  ->engine()
                                  .add_sample(sync::test::sample(dev, start + std::chrono::seconds(10 * k),
                                                                 1.0 * (k % 500)))
                                  .ok() &&
                              all_written;
        REQUIRE(all_written);
        REQUIRE((*fill)->engine().flush().ok());
    }
    const auto backlog = static_cast<long long>((*outbox)->last_seq());
    CHECK(backlog == 7 * 1440);

    // Live: a batch every 100 ms of wall time while the backlog drains, paced at 200 backlog messages/s.
    so.sync.batch_max_samples = 2;
    so.sync.backlog_per_second = 200;
    so.sync.backlog_burst = 50;
    auto svc = sync::SyncService::create(io.get_executor(), so, **outbox, clock);
    REQUIRE(svc.ok());
    (*svc)->start();
    long long live_batches = 0;
    const auto t_begin = std::chrono::steady_clock::now();
    const auto received = [&] {
        return server.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-week'");
    };
    long long live_seen_during_drain = 0;
    const auto historical_stored = [&] {
        return server.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-week' AND seq <= $1", {backlog});
    };
    while (std::chrono::steady_clock::now() - t_begin < 240s && historical_stored() < backlog) {
        io.run_for(100ms);
        for (const char* dev : {"inv1", "inv2"})
            REQUIRE((*svc)->engine().add_sample(sync::test::sample(dev, clock.now(), 42)).ok());
        ++live_batches;
        // Live messages are the ones above the backlog's seqs: count those stored before the backlog is complete.
        live_seen_during_drain = server.scalar(
            "SELECT COUNT(*) FROM received WHERE site_id = 'site-week' AND seq > $1 AND historical = 0", {backlog});
    }
    // Then let the last live batches through.
    const auto drained_at = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - drained_at < 30s && (received() < backlog + live_batches || (*outbox)->depth() > 0))
        io.run_for(100ms);
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_begin).count();
    std::cout << "7-day backlog: " << backlog << " messages drained in " << seconds << " s with "
              << live_batches << " live batches; " << live_seen_during_drain
              << " live batches stored before the backlog was complete\n";
    CHECK(server.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-week' AND seq <= $1",
                        {backlog}) == backlog);
    CHECK(received() == backlog + live_batches);
    CHECK(server.scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw WHERE site_id = 'site-week'") ==
          2 * (7 * 8640LL + live_batches));
    CHECK(live_seen_during_drain > 0);
    CHECK(server.scalar(
              "SELECT COUNT(*) FROM received WHERE site_id = 'site-week' AND seq <= $1 AND historical = 0",
              {backlog}) == 0);
    (*svc)->stop();
    io.run_for(300ms);
}
