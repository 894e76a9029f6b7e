// Webhooks on both engines against a real receiver (receiver.py): the consumer's deliveries, the sender's
// attempts and their log, retries on an injected clock, disabling, the address policy, retention.
#include "pvfleet/webhooks/webhooks.hpp"

#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/version.hpp"
#include "pvfleet/webhooks/sender.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const TimePoint kT0 = from_epoch_ms(1'780'000'000'000);
const std::string kSecret = "whsec_integration_secret_42";

struct Receiver {
    std::filesystem::path log;
    std::unique_ptr<test::ChildProcess> process;
    int port = 0;
    explicit Receiver(const std::filesystem::path& dir) : log(dir / "received.jsonl") {
        const auto out = dir / "receiver.out";
        process = std::make_unique<test::ChildProcess>(
            std::vector<std::string>{test::find_program("python3"),
                                     (test::source_dir() / "tests/integration/webhooks/receiver.py").string(),
                                     kSecret, log.string()},
            out);
        const std::string line = test::wait_for_log_line(out, "listening on ");
        REQUIRE_MESSAGE(!line.empty(), "receiver.py did not start");
        port = std::stoi(line);
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port) + path;
    }
    std::vector<json> received(const std::string& path) const {
        std::vector<json> out;
        std::ifstream in(log);
        for (std::string line; std::getline(in, line);) {
            auto j = json::parse(line);
            if (j["path"] == path) out.push_back(j);
        }
        return out;
    }
};

struct Fixture {
    ManualClock clock{kT0};
    storage::Store store;
    records::FieldCipher cipher = test::test_cipher();
    webhooks::Settings settings;
    std::unique_ptr<webhooks::Poster> poster = webhooks::make_curl_poster();
    explicit Fixture(const test::Backend& be) : store(be.open(), clock) {
        REQUIRE(store.migrate());
        settings.network.allow_loopback = true;
        settings.limits.connect_timeout = 1000ms;
        settings.limits.total_timeout = 1500ms;
        settings.limits.disable_min_failures = 3;
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql, const storage::Params& p = {}) {
        return db().run(sql, p)->rows.at(0).integer(0);
    }
    std::int64_t hook(const std::string& url, std::vector<std::string> events) {
        webhooks::NewWebhook in{url, kSecret, std::move(events)};
        return test::ok(webhooks::create_webhook(db(), cipher, settings, in, "admin", clock.now()))
            .webhook.id;
    }
    std::int64_t event(const std::string& name, json data) {
        return test::ok(storage::append_event(db(), {name, clock.now(), std::move(data), {}}));
    }
    int dispatch() {
        webhooks::WebhookConsumer consumer;
        std::array<storage::EventConsumer*, 1> consumers{&consumer};
        return test::ok(storage::dispatch_pending_events(db(), consumers, clock.now())).dispatched;
    }
    webhooks::SendReport send() {
        return test::ok(
            webhooks::send_due({db(), cipher, settings, *poster, [] { return 0.5; }}, clock.now()));
    }
    webhooks::Delivery only_delivery(std::int64_t webhook) {
        auto list = test::ok(webhooks::list_deliveries(db(), webhook, 0, 50));
        REQUIRE(list.size() == 1);
        return list.front();
    }
    webhooks::Webhook get(std::int64_t id) { return *test::ok(webhooks::get_webhook(db(), id)); }
};

}  // namespace

TEST_CASE(
    "webhooks: each event once to each subscribed webhook, signed; retries, 410, timeouts, big answers") {
    test::TempDir dir("webhooks");
    for (const auto& be : test::fresh_backends(dir, "webhooks")) {
        INFO("engine: " << be.name);
        test::TempDir rdir("receiver");
        Receiver rx(rdir.path());
        Fixture f(be);
        const auto before = f.event("lead.created", {{"lead_id", 1}});  // before any webhook: nobody's
        const auto ok = f.hook(rx.url("/ok"), {"lead.created", "work_order.closed"});
        const auto flaky = f.hook(rx.url("/flaky"), {"*"});
        const auto gone = f.hook(rx.url("/gone"), {"lead.created"});
        const auto hang = f.hook(rx.url("/hang"), {"lead.created"});
        const auto huge = f.hook(rx.url("/huge"), {"lead.created"});
        const auto redirect = f.hook(rx.url("/redirect"), {"lead.created"});
        const auto other = f.hook(rx.url("/other"), {"milestone.overdue"});
        const auto e = f.event("lead.created", {{"lead_id", 42}, {"title", "Dach Süd — 屋顶"}});
        CHECK(f.dispatch() == 2);
        // Nothing for the event from before the webhooks, none for a webhook not subscribed; a repeat writes
        // nothing twice.
        CHECK(f.scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = $1", {before}) == 0);
        CHECK(f.scalar("SELECT COUNT(*) FROM webhook_deliveries") == 6);
        webhooks::WebhookConsumer again;
        REQUIRE(
            again.consume(f.db(), *test::ok(storage::events_after(f.db(), e - 1, 1)).begin(), f.clock.now()));
        CHECK(f.scalar("SELECT COUNT(*) FROM webhook_deliveries") == 6);
        CHECK(test::ok(webhooks::list_deliveries(f.db(), other, 0, 50)).empty());

        auto report = f.send();
        CHECK(report.attempted == 6);
        CHECK(report.delivered == 2);  // ok, huge
        CHECK(report.disabled == 1);   // gone

        // ok: one request, signed (checked by Python's hmac), with the documented headers and body.
        auto got = rx.received("/ok");
        REQUIRE(got.size() == 1);
        CHECK(got[0]["signature_ok"] == true);
        CHECK(got[0]["event"] == "lead.created");
        CHECK(got[0]["content_type"] == "application/json");
        CHECK(got[0]["user_agent"] == "pvfleet-server/" + std::string(util::program_version()));
        const auto d_ok = f.only_delivery(ok);
        CHECK(got[0]["delivery"] == std::to_string(d_ok.id));
        const json body = json::parse(got[0]["body"].get<std::string>());
        CHECK(body["id"] == d_ok.id);
        CHECK(body["event"] == "lead.created");
        CHECK(body["occurred_at"] == "2026-05-28T20:26:40.000Z");
        CHECK(body["data"]["title"] == "Dach Süd — 屋顶");
        CHECK(d_ok.state == webhooks::DeliveryState::delivered);
        REQUIRE(d_ok.log.size() == 1);
        CHECK(d_ok.log[0].http_status == 200);
        CHECK(d_ok.log[0].response_excerpt == "thanks");

        // flaky: 500 now, retried 10 s later (jitter 0.5: the schedule's own value), then delivered.
        auto d_flaky = f.only_delivery(flaky);
        CHECK(d_flaky.state == webhooks::DeliveryState::pending);
        CHECK(d_flaky.next_attempt_at == kT0 + 10s);
        REQUIRE(d_flaky.log.size() == 1);
        CHECK(d_flaky.log[0].http_status == 500);
        CHECK(d_flaky.log[0].response_excerpt == "not yet");
        f.clock.advance(9s);
        CHECK(f.send().attempted == 0);  // not due yet
        f.clock.advance(1s);
        report = f.send();
        CHECK(report.delivered == 1);
        d_flaky = f.only_delivery(flaky);
        CHECK(d_flaky.state == webhooks::DeliveryState::delivered);
        REQUIRE(d_flaky.log.size() == 2);
        CHECK(d_flaky.log[1].http_status == 200);
        got = rx.received("/flaky");
        REQUIRE(got.size() == 2);
        CHECK(got[0]["delivery"] == got[1]["delivery"]);  // the receiver can tell it is the same delivery
        CHECK(got[0]["body"] == got[1]["body"]);          // fixed when the event was dispatched
        CHECK(got[1]["signature_ok"] == true);
        CHECK(f.get(flaky).failing_since == std::nullopt);  // a success ends the run of failures

        // gone: 410 disables the webhook and says why; the delivery failed for good.
        const auto w_gone = f.get(gone);
        CHECK_FALSE(w_gone.enabled);
        CHECK(w_gone.disabled_reason.find("410") != std::string::npos);
        CHECK(f.only_delivery(gone).state == webhooks::DeliveryState::failed);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook disabled'") == 1);

        // hang: no answer within the total timeout; recorded, retried (with flaky's retry, 10 s later).
        const auto d_hang = f.only_delivery(hang);
        REQUIRE(d_hang.log.size() == 2);
        CHECK(d_hang.log[1].error.find("Timeout") != std::string::npos);
        CHECK_FALSE(d_hang.log[0].http_status.has_value());
        CHECK(d_hang.log[0].error.find("Timeout") != std::string::npos);
        CHECK(d_hang.log[0].duration < 4000ms);
        CHECK(d_hang.state == webhooks::DeliveryState::pending);

        // huge: 200 delivered; the read stopped at the bound, the log keeps the first KiB.
        const auto d_huge = f.only_delivery(huge);
        CHECK(d_huge.state == webhooks::DeliveryState::delivered);
        REQUIRE(d_huge.log.size() == 1);
        CHECK(d_huge.log[0].http_status == 200);
        CHECK(d_huge.log[0].response_excerpt == std::string(1024, 'x'));
        CHECK(d_huge.log[0].error.find("cut after 65536 bytes") != std::string::npos);

        // redirect: not followed (it points at cloud metadata), a failure to retry.
        const auto d_redirect = f.only_delivery(redirect);
        REQUIRE(d_redirect.log.size() == 2);
        CHECK(d_redirect.log[0].http_status == 302);
        CHECK(d_redirect.log[0].error.find("redirects are not followed") != std::string::npos);
        CHECK(d_redirect.state == webhooks::DeliveryState::pending);
        CHECK(rx.received("/latest/meta-data/").empty());

        // A ping goes to that webhook only; a disabled webhook's failed delivery is not retried.
        const auto ping = test::ok(webhooks::enqueue_test(f.db(), ok, "admin", f.clock.now()));
        CHECK(f.send().delivered == 1);
        got = rx.received("/ok");
        REQUIRE(got.size() == 2);
        CHECK(got[1]["event"] == "webhook.test");
        CHECK(got[1]["delivery"] == std::to_string(ping.id));
        CHECK(webhooks::enqueue_test(f.db(), gone, "admin", f.clock.now()).error().kind ==
              ErrorKind::conflict);
        CHECK(
            webhooks::retry_delivery(f.db(), f.only_delivery(gone).id, "admin", f.clock.now()).error().kind ==
            ErrorKind::conflict);
        CHECK(webhooks::retry_delivery(f.db(), d_ok.id, "admin", f.clock.now()).error().kind ==
              ErrorKind::conflict);
    }
}

TEST_CASE("webhooks: the address policy at send time, a long run of failures disables, retention purges") {
    test::TempDir dir("webhooks");
    for (const auto& be : test::fresh_backends(dir, "webhookpolicy")) {
        INFO("engine: " << be.name);
        test::TempDir rdir("receiver");
        Receiver rx(rdir.path());
        Fixture f(be);
        const auto pinned = f.hook(rx.url("/ok"), {"site.offline"});
        const auto refused_port =
            f.hook("http://127.0.0.1:" + std::to_string(test::free_tcp_port()) + "/x", {"site.offline"});
        f.event("site.offline", {{"site_id", "sh-01"}});
        REQUIRE(f.dispatch() == 1);
        // The config no longer allows loopback: the attempt is refused before any connection, and logged.
        f.settings.network.allow_loopback = false;
        auto report = f.send();
        CHECK(report.attempted == 2);
        CHECK(report.delivered == 0);
        CHECK(rx.received("/ok").empty());
        auto d = f.only_delivery(pinned);
        REQUIRE(d.log.size() == 1);
        CHECK(d.log[0].error.find("refused") != std::string::npos);
        CHECK(d.log[0].error.find("loopback") != std::string::npos);
        f.settings.network.allow_loopback = true;

        // Nobody listens on refused_port: every attempt fails; after 24 h of failures (and at least 3) the
        // webhook is disabled with the reason, its pending delivery cancelled.
        CHECK(f.get(refused_port).failing_since == kT0);
        f.clock.advance(13h);
        f.send();
        CHECK(f.get(refused_port).enabled);
        f.clock.advance(13h);
        report = f.send();
        const auto w = f.get(refused_port);
        CHECK_FALSE(w.enabled);
        CHECK(w.disabled_reason.find("every attempt failed since 2026-05-28T20:26:40.000Z (3 attempts)") !=
              std::string::npos);
        CHECK(f.only_delivery(refused_port).state == webhooks::DeliveryState::cancelled);
        // The pinned one was delivered on its retry meanwhile.
        CHECK(f.only_delivery(pinned).state == webhooks::DeliveryState::delivered);

        // Enabling again clears the reason; the cancelled delivery can be retried by hand.
        webhooks::WebhookChange enable;
        enable.enabled = true;
        const auto enabled = test::ok(webhooks::update_webhook(f.db(), f.cipher, f.settings, refused_port,
                                                               w.version, enable, "admin", f.clock.now()));
        CHECK(enabled.enabled);
        CHECK(enabled.disabled_reason.empty());
        const auto again = test::ok(
            webhooks::retry_delivery(f.db(), f.only_delivery(refused_port).id, "admin", f.clock.now()));
        CHECK(again.state == webhooks::DeliveryState::pending);
        CHECK(again.attempts == 0);

        // Retention: finished deliveries older than 30 days go with their attempts; pending ones stay.
        f.clock.advance(31 * 24h);
        CHECK(test::ok(webhooks::purge_deliveries(f.db(), f.settings, f.clock.now())) == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM webhook_deliveries") == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = "
                       "a.delivery_id") == f.scalar("SELECT COUNT(*) FROM webhook_attempts"));
    }
}

TEST_CASE("webhooks: creation's checks name the field; the secret is stored encrypted; at most 50") {
    test::TempDir dir("webhooks");
    auto be = test::fresh_backends(dir, "webhookcheck").front();
    Fixture f(be);
    auto create = [&](webhooks::NewWebhook in) {
        return webhooks::create_webhook(f.db(), f.cipher, f.settings, in, "admin", f.clock.now());
    };
    auto bad =
        create({"https://hooks.example.com/", kSecret, {"lead.created", "work_order.created", "lead.eaten"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().path == "events/2");
    bad = create({"https://hooks.example.com/", kSecret, {"lead.created", "lead.created"}});
    CHECK(bad.error().path == "events/1");
    CHECK(create({"https://hooks.example.com/", kSecret, {}}).error().path == "events");
    CHECK(create({"https://hooks.example.com/", "too short", {"*"}}).error().path == "secret");
    CHECK(create({"gopher://hooks.example.com/", kSecret, {"*"}}).error().path == "url");
    f.settings.network.allow_loopback = false;
    CHECK(create({"http://[::ffff:127.0.0.1]/", kSecret, {"*"}}).error().path == "url");
    CHECK(create({"http://2130706433/", kSecret, {"*"}}).error().path == "url");
    CHECK(f.scalar("SELECT COUNT(*) FROM webhooks") == 0);

    // Without a secret the server makes one and returns it once; the row holds only its ciphertext.
    auto made = test::ok(create({"https://hooks.example.com/a", std::nullopt, {"*"}}));
    CHECK(made.generated_secret.rfind("whsec_", 0) == 0);
    CHECK(made.generated_secret.size() == 54);
    const std::string stored =
        f.db().run("SELECT secret FROM webhooks WHERE id = $1", {made.webhook.id})->rows.at(0).text(0);
    CHECK(stored.find(made.generated_secret) == std::string::npos);
    CHECK(test::ok(f.cipher.decrypt(stored)) == made.generated_secret);
    CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook created' AND after_json LIKE "
                   "'%whsec%'") == 0);
    for (int i = 1; i < 50; ++i)
        test::ok(create({"https://hooks.example.com/" + std::to_string(i), kSecret, {"*"}}));
    CHECK(create({"https://hooks.example.com/51", kSecret, {"*"}}).error().kind == ErrorKind::conflict);
}
