// Webhooks' pure parts (sender.hpp, url_policy.hpp, webhooks.hpp): signature, body, retry schedule, URL
// policy.
#include <doctest/doctest.h>

#include "pvfleet/webhooks/sender.hpp"
#include "pvfleet/webhooks/url_policy.hpp"
#include "pvfleet/webhooks/webhooks.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using webhooks::NetworkPolicy;

TEST_CASE("webhooks: the signature is HMAC-SHA256 of the body, hex, after sha256=") {
    // RFC 4231, test case 2.
    CHECK(webhooks::signature("what do ya want for nothing?", "Jefe") ==
          "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // A delivery's body, signed; the expected value computed with Python's hmac (docs/webhooks.md shows how):
    //   hmac.new(b"whsec_test_secret_0123456789", body.encode(), hashlib.sha256).hexdigest()
    const std::string body = webhooks::delivery_body(7, "lead.created", from_epoch_ms(1'780'000'000'000),
                                                     {{"lead_id", 42}, {"title", "天"}});
    CHECK(
        body ==
        R"({"data":{"lead_id":42,"title":"天"},"event":"lead.created","id":7,"occurred_at":"2026-05-28T20:26:40.000Z"})");
    CHECK(webhooks::signature(body, "whsec_test_secret_0123456789") ==
          "sha256=bc8eba7bde0f2a85c805d9d82889112a20064f1fb8ccab28a79a1e52e2d8b9ee");
    // One changed byte, another signature.
    CHECK(webhooks::signature(body + " ", "whsec_test_secret_0123456789") !=
          webhooks::signature(body, "whsec_test_secret_0123456789"));
}

TEST_CASE("webhooks: retries back off 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, jittered ±20 %") {
    const std::vector<Millis> base{10s, 1min, 5min, 30min, 2h, 6h, 12h};
    for (std::size_t i = 0; i < base.size(); ++i) {
        CAPTURE(i);
        CHECK(webhooks::retry_delay(static_cast<int>(i) + 1, 0.5) == base[i]);
        CHECK(webhooks::retry_delay(static_cast<int>(i) + 1, 0.0) == base[i] * 8 / 10);
        CHECK(webhooks::retry_delay(static_cast<int>(i) + 1, 0.999999) < base[i] * 12 / 10);
        CHECK(webhooks::retry_delay(static_cast<int>(i) + 1, 0.999999) > base[i] * 119 / 100);
    }
    CHECK(webhooks::retry_delay(30, 0.5) == 12h);  // the last step repeats
    // The default attempts (8) span less than a day even at the longest jitter.
    Millis total{0};
    for (int n = 1; n < webhooks::Limits{}.max_attempts; ++n) total += webhooks::retry_delay(n, 0.999999);
    CHECK(total < 24h + 2h);
    CHECK(total > 16h);
}

TEST_CASE("webhooks: URL form — http or https, a host, no credentials, no ambiguous numeric host") {
    const NetworkPolicy strict;
    auto ok = [&](const std::string& url) { return webhooks::parse_url(url, strict, 2048).ok(); };
    auto why = [&](const std::string& url) {
        auto r = webhooks::parse_url(url, strict, 2048);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "url");
        return r.error().message;
    };
    CHECK(ok("https://hooks.example.com/pvfleet?token=abc"));
    CHECK(ok("http://Hooks.Example.com:8080"));
    CHECK(ok("https://93.184.216.34/x"));
    CHECK(ok("https://[2606:2800:220:1:248:1893:25c8:1946]:8443/x"));
    auto parsed = webhooks::parse_url("https://Hooks.Example.com:8443/a", strict, 2048);
    REQUIRE(parsed);
    CHECK(parsed->host == "hooks.example.com");
    CHECK(parsed->port == 8443);
    CHECK(webhooks::parse_url("http://example.com/", strict, 2048)->port == 80);
    CHECK(why("ftp://example.com/").find("scheme") != std::string::npos);
    CHECK(why("HTTPS://example.com/").find("scheme") != std::string::npos);
    CHECK(why("https://user:pw@example.com/").find("password") != std::string::npos);
    CHECK(why("https://example.com/#frag").find("fragment") != std::string::npos);
    CHECK(why("https://exa mple.com/").find("blanks") != std::string::npos);
    CHECK(why("https://example.com:0/").find("port") != std::string::npos);
    CHECK(why("https://example.com:99999/").find("port") != std::string::npos);
    CHECK(why("https:///path").find("host") != std::string::npos);
    CHECK(why("https://exa_mple.com/").find("host") != std::string::npos);
    CHECK(why("https://[fe80::1%25eth0]/").find("IPv6") != std::string::npos);
    CHECK(why("https://" + std::string(2100, 'a') + ".com/").find("longer") != std::string::npos);
    // Numeric disguises of 127.0.0.1 are refused as such, whatever the policy.
    NetworkPolicy open;
    open.allow_loopback = open.allow_private_networks = true;
    for (const char* url : {"http://2130706433/", "http://0x7f000001/", "http://0x7f.0.0.1/", "http://127.1/",
                            "http://017700000001/", "http://0177.0.0.1/"}) {
        CAPTURE(url);
        auto r = webhooks::parse_url(url, open, 2048);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("four decimal numbers") != std::string::npos);
    }
    // A name whose last label is a word is a host name, even with digits elsewhere.
    CHECK(ok("https://127.0.0.1.nip.example/"));
}

TEST_CASE("webhooks: addresses — loopback, link-local, metadata and private ranges by policy") {
    const NetworkPolicy strict;
    NetworkPolicy loopback;
    loopback.allow_loopback = true;
    NetworkPolicy internal;
    internal.allow_private_networks = true;
    auto refused = [](std::string_view a, const NetworkPolicy& p) {
        return webhooks::address_refusal(a, p).has_value();
    };
    for (const char* a :
         {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1"}) {
        CAPTURE(a);
        CHECK(refused(a, strict));
        CHECK_FALSE(refused(a, loopback));
        CHECK(refused(a, internal));
    }
    // Never: link-local (cloud metadata), metadata by name of range, unspecified, multicast.
    for (const char* a : {"169.254.169.254", "169.254.0.1", "::ffff:169.254.169.254", "fe80::1",
                          "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "::", "224.0.0.1", "255.255.255.255",
                          "ff02::1", "2002:a9fe:a9fe::1"}) {
        CAPTURE(a);
        CHECK(refused(a, strict));
        NetworkPolicy all;
        all.allow_loopback = all.allow_private_networks = true;
        CHECK(refused(a, all));
    }
    for (const char* a : {"10.0.0.5", "172.16.3.4", "172.31.255.255", "192.168.1.10", "100.64.0.1",
                          "fd12:3456::1", "::ffff:10.1.2.3", "fc00::1"}) {
        CAPTURE(a);
        CHECK(refused(a, strict));
        CHECK_FALSE(refused(a, internal));
    }
    for (const char* a : {"93.184.216.34", "172.32.0.1", "8.8.8.8", "2606:4700:4700::1111"}) {
        CAPTURE(a);
        CHECK_FALSE(refused(a, strict));
    }
    CHECK(webhooks::address_refusal("127.0.0.1", strict)->find("allow_loopback") != std::string::npos);
    CHECK(webhooks::address_refusal("10.0.0.5", strict)->find("allow_private_networks") != std::string::npos);
    // Literal hosts are judged when the URL is read, in every written form.
    for (const char* url :
         {"http://127.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
          "http://169.254.169.254/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/", "https://10.0.0.1/"}) {
        CAPTURE(url);
        auto r = webhooks::parse_url(url, strict, 2048);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ErrorKind::rejected);
    }
    // A name is resolved before each attempt and judged by every address it has: localhost is loopback.
    auto local = webhooks::resolve_target("http://localhost:8080/hook", strict, 2048);
    REQUIRE_FALSE(local.ok());
    CHECK(local.error().message.find("loopback") != std::string::npos);
    auto allowed = webhooks::resolve_target("http://localhost:8080/hook", loopback, 2048);
    REQUIRE_MESSAGE(allowed.ok(), allowed.error().message);
    CHECK((allowed->address == "127.0.0.1" || allowed->address == "::1"));
    CHECK(allowed->url.port == 8080);
}

TEST_CASE("webhooks: the catalogue holds the issue's events, and no ping") {
    const auto names = webhooks::event_catalogue();
    CHECK(names.size() == 11);
    CHECK(std::find(names.begin(), names.end(), "site.first_production") != names.end());
    CHECK(std::find(names.begin(), names.end(), webhooks::kTestEvent) == names.end());
}
