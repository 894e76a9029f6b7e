// TLS with the project's PKI (scripts/pki) and broker ACL (firmware-config/broker/acl): gateways
// authenticate with a client certificate whose CN is their site id; the broker maps it to the username the ACL
// confines to the site's own topics. A site's sync gets through; a site cannot publish as another site; a
// plain-text connection and a TLS connection without a client certificate are refused.
#include <doctest/doctest.h>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/sync/service.hpp"
#include "support/mqtt_broker.hpp"
#include "support/paths.hpp"
#include "support/sync_samples.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

mqtt::TlsOptions tls_for(const fs::path& pki, const std::string& name) {
    return mqtt::TlsOptions{(pki / "ca.crt").string(), (pki / (name + ".crt")).string(), (pki / (name + ".key")).string(), true};
}

// A payload site-a could forge for site-b: valid for the site-b topic.
std::string forged_for_site_b() {
    protocol::TelemetryBatch b;
    b.site_id = "site-b";
    b.seq = 999;
    b.sent_at = sync::test::t0();
    b.samples = {sync::test::sample("inv1", sync::test::t0(), 1)};
    return *protocol::encode(b);
}

}  // namespace

TEST_CASE("sync over TLS: client certificates, the ACL keeps a site to its own topics, plain text refused") {
    if (::pvfleet::test::find_program("mosquitto").empty() || ::pvfleet::test::find_program("openssl").empty()) {
        MESSAGE("mosquitto or openssl not installed: skipped");
        return;
    }
    ::pvfleet::test::TempDir dir;
    const fs::path pki = dir / "pki";
    const auto script = (::pvfleet::test::source_dir() / "scripts/pki").string();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"init"}, {"broker", "localhost", "127.0.0.1"}, {"site", "site-a"}, {"site", "site-b"}, {"server"}}) {
        std::vector<std::string> argv{script, args[0], pki.string()};
        argv.insert(argv.end(), args.begin() + 1, args.end());
        REQUIRE_MESSAGE(::pvfleet::test::run_command(argv).status == 0, "scripts/pki " << args[0]);
    }
    // No site certificate with a reserved or malformed name: one named pvfleet-server would be the server at
    // the broker (the broker takes the certificate's CN as the user name).
    for (const std::string id : {"pvfleet-server", "pvfleet", "pvfleet-backup", "broker", "ca", "Bad_Id", "a/b", ""}) {
        CAPTURE(id);
        CHECK(::pvfleet::test::run_command({script, "site", pki.string(), id}).status != 0);
        CHECK_FALSE(fs::exists(pki / ("site-" + id + ".crt")));
        CHECK_FALSE(fs::exists(pki / ("site-" + id + ".key")));
    }
    const int port = ::pvfleet::test::free_tcp_port();
    // The production settings of firmware-config/broker/mosquitto.conf, on a test port and paths.
    sync::itest::Mosquitto broker(dir / "broker", port,
                                  {"per_listener_settings false", "allow_anonymous false",
                                   "listener " + std::to_string(port) + " 127.0.0.1",
                                   "cafile " + (pki / "ca.crt").string(), "certfile " + (pki / "broker.crt").string(),
                                   "keyfile " + (pki / "broker.key").string(), "require_certificate true",
                                   "use_identity_as_username true", "tls_version tlsv1.2",
                                   "acl_file " + (::pvfleet::test::source_dir() / "firmware-config/broker/acl").string()});
    REQUIRE(broker.start());
    const std::string tls_uri = "ssl://127.0.0.1:" + std::to_string(port);

    // The central server's identity reads every site's uplink.
    sync::itest::Recorder recorder;
    mqtt::ClientOptions sub;
    sub.server_uri = tls_uri;
    sub.client_id = "pvfleet-server";
    sub.tls = tls_for(pki, "server");
    sub.reconnect_min = 100ms;
    sub.subscriptions = sync::itest::all_uplink_subscriptions();
    sync::itest::Subscriber subscriber(sub, recorder);
    REQUIRE_MESSAGE(sync::itest::wait_until([&] { return subscriber.connected(); }, 10s), broker.log());

    boost::asio::io_context ioc;
    SystemClock clock;
    auto outbox = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(outbox.ok());

    SUBCASE("a site's sync gets through with its certificate") {
        sync::SyncServiceOptions o;
        o.mqtt.server_uri = tls_uri;
        o.mqtt.tls = tls_for(pki, "site-site-a");
        o.mqtt.reconnect_min = 100ms;
        o.sync.site_id = "site-a";
        o.sync.config_version = "cfg-1";
        o.tick_interval = 50ms;
        auto svc = sync::SyncService::create(ioc.get_executor(), o, **outbox, clock);
        REQUIRE(svc.ok());
        (*svc)->start();
        for (int i = 0; i < 3; ++i) {
            REQUIRE((*svc)->engine().add_sample(sync::test::sample("inv1", sync::test::t0() + i * 10s, 1)).ok());
            REQUIRE((*svc)->engine().flush().ok());
        }
        REQUIRE((*svc)->engine().add_ticket_event(sync::test::ticket_event("T-1", sync::test::t0())).ok());
        CHECK_MESSAGE(sync::itest::run_until(ioc, [&] { return (*outbox)->depth() == 0; }, 15s), broker.log());
        CHECK(sync::itest::wait_until([&] { return recorder.seqs_of("site-a").size() == 4; }, 10s));
        CHECK(sync::itest::wait_until([&] { return !recorder.statuses().empty(); }, 10s));
        (*svc)->stop();
    }

    SUBCASE("a site cannot publish as another site") {
        mqtt::ClientOptions forger;
        forger.server_uri = tls_uri;
        forger.client_id = "site-a-forger";
        forger.tls = tls_for(pki, "site-site-a");
        auto c = mqtt::Client::create(ioc.get_executor(), forger);
        REQUIRE(c.ok());
        (*c)->start();
        REQUIRE(sync::itest::run_until(ioc, [&] { return (*c)->connected(); }, 10s));
        int done = 0;
        // MQTT 3.1.1 brokers acknowledge a denied publish and drop it; the subscriber must never see it.
        (*c)->publish({protocol::topic_for("site-b", protocol::MessageKind::telemetry), forged_for_site_b(), 1, false},
                      [&](Status) { ++done; });
        (*c)->publish({protocol::topic_for("site-b", protocol::MessageKind::status), "{}", 1, true}, [&](Status) { ++done; });
        // Then a marker on its own topic: once it arrives, anything published before it would have too.
        protocol::TelemetryBatch marker;
        marker.site_id = "site-a";
        marker.seq = 1;
        marker.sent_at = sync::test::t0();
        (*c)->publish({protocol::topic_for("site-a", protocol::MessageKind::telemetry), *protocol::encode(marker), 1, false},
                      [&](Status) { ++done; });
        REQUIRE(sync::itest::run_until(ioc, [&] { return done == 3; }, 10s));
        // The marker came after the forged messages from the same client: had the broker passed those on,
        // they would have arrived before it.
        CHECK(sync::itest::wait_until([&] { return recorder.seqs_of("site-a").size() == 1; }, 10s));
        CHECK(recorder.seqs_of("site-b").empty());
        for (const auto& t : recorder.topics()) CHECK(t.find("/site-b/") == std::string::npos);
        CHECK(broker.log().find("Denied PUBLISH from site-a-forger") != std::string::npos);
    }

    SUBCASE("plain text and TLS without a client certificate are refused") {
        mqtt::ClientOptions plain_options;
        plain_options.server_uri = "tcp://127.0.0.1:" + std::to_string(port);
        plain_options.client_id = "site-a-plain";
        auto plain = mqtt::Client::create(ioc.get_executor(), plain_options);
        REQUIRE(plain.ok());
        mqtt::ClientOptions anon;
        anon.server_uri = tls_uri;
        anon.client_id = "site-a-nocert";
        anon.tls = mqtt::TlsOptions{(pki / "ca.crt").string(), "", "", true};
        auto nocert = mqtt::Client::create(ioc.get_executor(), anon);
        REQUIRE(nocert.ok());
        mqtt::ClientOptions wrong_ca;
        wrong_ca.server_uri = tls_uri;
        wrong_ca.client_id = "site-a-wrongca";
        wrong_ca.tls = mqtt::TlsOptions{(pki / "site-site-a.crt").string(), (pki / "site-site-a.crt").string(),
                                        (pki / "site-site-a.key").string(), true};
        auto untrusted = mqtt::Client::create(ioc.get_executor(), wrong_ca);
        REQUIRE(untrusted.ok());
        (*plain)->start();
        (*nocert)->start();
        (*untrusted)->start();
        const bool any = sync::itest::run_until(
            ioc, [&] { return (*plain)->connected() || (*nocert)->connected() || (*untrusted)->connected(); }, 3s);
        CHECK_FALSE(any);
        // And the refused clients' topics saw nothing.
        CHECK(recorder.seqs().empty());
    }
}
