// The enrollment routes through Router::handle over a real SQLite file, and the cases that store codes and
// certificates on both engines (support/server_backends.hpp): who may manage codes, the code shown once
// and stored hashed, enrollment and its refusals (reuse, expiry on a manual clock, revoked, wrong, mistyped,
// bad CSR, too large, not configured), each refusal audited with its reason, and the rate limits.
#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pvfleet/api/api.hpp"
#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/enrollment/crl.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/time.hpp"
#include "support/paths.hpp"
#include "support/server_backends.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr TimePoint kT0{Millis{1'780'000'000'000}};  // 2026-05-28

struct Fixture {
    explicit Fixture(bool with_ca = true, enrollment::RateLimits limits = {},
                     const test::Backend* backend = nullptr) {
        std::unique_ptr<storage::Db> db;
        if (backend) {
            db = backend->open();
        } else {
            auto sqlite = storage::open_db({storage::Engine::sqlite, (dir / "server.db").string(), ""});
            REQUIRE(sqlite);
            db = std::move(*sqlite);
        }
        store = std::make_unique<storage::Store>(std::move(db), clock);
        REQUIRE(store->migrate());
        records::Site site;
        site.site_id = "site-a";
        site.latitude = 48.0;
        site.longitude = 7.8;
        site.time_zone = "Europe/Berlin";
        REQUIRE(records::upsert_site(store->db(), site, std::nullopt, "test", kT0));
        ca_pem = test_pki::make_ca(kT0 - 24h, 3650);
        if (with_ca) {
            auto ca = enrollment::IssuingCa::from_pem(ca_pem.cert_pem, ca_pem.key_pem, "", kT0);
            REQUIRE(ca);
            context.issuing_ca = *ca;
        }
        context.enrollment.broker_uri = "ssl://broker.example.net:8883";
        context.enroll_limits = limits;
        context.db = &store->db();
        context.clock = &clock;
        api::add_routes(router, context);
        router.before = [this](http::Request& req, const http::Route& route) -> http::Checked<> {
            if (route.info.roles.empty()) return {};
            if (role.empty()) return http::problem(401, "Unauthorized", "log in first");
            req.user = "office";
            req.role = role;
            for (const auto& r : route.info.roles)
                if (r == role) return {};
            return http::problem(403, "Forbidden", "role");
        };
    }
    http::Response call(const std::string& method, const std::string& target, const std::string& body = {},
                        const std::string& remote = "192.0.2.10") {
        http::Request req;
        req.method = method;
        req.target = target;
        REQUIRE(http::parse_target(target, req.path, req.query));
        req.body = body;
        req.remote = remote;
        if (method != "GET") req.headers["content-type"] = "application/json";
        return router.handle(req);
    }
    // A new code for site-a, as shown to the back office.
    std::string new_code(const std::string& ttl = "") {
        const auto r =
            call("POST", "/api/enrollment-codes",
                 ttl.empty() ? R"({"site_id":"site-a"})" : R"({"site_id":"site-a","ttl":")" + ttl + "\"}");
        REQUIRE(r.status == 201);
        return json::parse(r.body).at("code").get<std::string>();
    }
    http::Response enroll(const std::string& code, const std::string& request_csr,
                          const std::string& remote = "192.0.2.10") {
        return call("POST", "/api/enroll", json{{"code", code}, {"csr", request_csr}}.dump(), remote);
    }
    long long scalar(const std::string& sql, const storage::Params& params = {}) {
        auto r = store->db().run(sql, params);
        REQUIRE(r);
        return r->rows.empty() ? 0 : r->rows[0].integer(0);
    }
    long long refusals(const std::string& reason) {
        return scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'enroll refused' AND after_json LIKE $1",
                      {"%\"reason\":\"" + reason + "\"%"});
    }

    test::TempDir dir;
    ManualClock clock{kT0};
    std::unique_ptr<storage::Store> store;
    test_pki::Ca ca_pem;
    api::ApiContext context;
    http::Router router;
    std::string role = "back_office";
    test_pki::Key gateway_key = test_pki::ec_key();
    std::string csr = test_pki::csr(gateway_key.get());
};

std::string reason_of(const http::Response& r) {
    return json::parse(r.body).value("reason", "");
}

}  // namespace

TEST_CASE("enrollment routes: only admin and back office manage codes and see certificates") {
    Fixture f;
    const std::vector<std::pair<std::string, std::string>> routes{
        {"POST", "/api/enrollment-codes"},
        {"GET", "/api/sites/site-a/enrollment-codes"},
        {"DELETE", "/api/enrollment-codes/1"},
        {"GET", "/api/sites/site-a/certificates"}};
    for (const std::string role : {"technician", "manager", ""}) {
        f.role = role;
        for (const auto& [method, target] : routes) {
            CAPTURE(role);
            CAPTURE(target);
            CHECK(f.call(method, target, method == "POST" ? R"({"site_id":"site-a"})" : "").status ==
                  (role.empty() ? 401 : 403));
        }
    }
    CHECK(f.scalar("SELECT COUNT(*) FROM enrollment_codes") == 0);
    for (const std::string role : {"admin", "back_office"}) {
        f.role = role;
        CHECK(f.call("POST", "/api/enrollment-codes", R"({"site_id":"site-a"})").status == 201);
        CHECK(f.call("GET", "/api/sites/site-a/enrollment-codes").status == 200);
        CHECK(f.call("GET", "/api/sites/site-a/certificates").status == 200);
    }
}

TEST_CASE("enrollment routes: a code is shown once, stored hashed, listed without it, default TTL 72 h") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        const auto r = f.call("POST", "/api/enrollment-codes", R"({"site_id":"site-a"})");
        REQUIRE(r.status == 201);
        const json made = json::parse(r.body);
        const std::string code = made.at("code");
        CHECK(code.size() == 19);
        CHECK(made.at("state") == "active");
        CHECK(made.at("expires_at") == format_iso8601(kT0 + 72h));
        CHECK(made.at("qr_svg").get<std::string>().rfind("<svg", 0) == 0);
        const auto canonical = enrollment::normalize_code(code);
        REQUIRE(canonical);
        CHECK(f.scalar("SELECT COUNT(*) FROM enrollment_codes WHERE code_hash = $1",
                       {enrollment::code_hash(*canonical)}) == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM enrollment_codes WHERE code_hash = $1 OR hint = $1",
                       {*canonical}) == 0);
        const auto list = f.call("GET", "/api/sites/site-a/enrollment-codes");
        REQUIRE(list.status == 200);
        CHECK(list.body.find(*canonical) == std::string::npos);
        CHECK(list.body.find(code) == std::string::npos);
        CHECK(json::parse(list.body).at("items").size() == 1);
        // Unknown site, bad TTL, TTL beyond the maximum.
        CHECK(f.call("POST", "/api/enrollment-codes", R"({"site_id":"nope"})").status == 404);
        CHECK(f.call("POST", "/api/enrollment-codes", R"({"site_id":"site-a","ttl":"soon"})").status == 400);
        const auto too_long = f.call("POST", "/api/enrollment-codes", R"({"site_id":"site-a","ttl":"31d"})");
        CHECK(too_long.status == 400);
        CHECK(json::parse(too_long.body).at("field") == "ttl");
    }
}

TEST_CASE("enrollment routes: enroll signs the site's certificate once; reuse is refused and audited") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        const std::string code = f.new_code();
        const auto r = f.enroll(code, f.csr);
        REQUIRE_MESSAGE(r.status == 201, r.body);
        const json j = json::parse(r.body);
        CHECK(j.at("site_id") == "site-a");
        CHECK(j.at("broker_uri") == "ssl://broker.example.net:8883");
        CHECK(j.at("ca_chain") == f.ca_pem.cert_pem);
        CHECK(j.at("config").at("site_id") == "site-a");
        CHECK(j.at("config").at("time_zone") == "Europe/Berlin");
        CHECK(j.at("config").at("latitude") == 48.0);
        BIO* bio = BIO_new_mem_buf(j.at("certificate").get_ref<const std::string&>().data(), -1);
        X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
        REQUIRE(cert != nullptr);
        CHECK(X509_check_private_key(cert, f.gateway_key.get()) == 1);
        X509_free(cert);
        CHECK(f.scalar("SELECT COUNT(*) FROM site_certificates WHERE site_id = 'site-a' AND serial = $1",
                       {j.at("serial").get<std::string>()}) == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'enroll' AND entity_id = 'site-a'") ==
              1);
        const json listed =
            json::parse(f.call("GET", "/api/sites/site-a/enrollment-codes").body).at("items").at(0);
        CHECK(listed.at("state") == "used");
        CHECK(listed.at("used_from") == "192.0.2.10");
        CHECK(listed.at("certificate_serial") == j.at("serial"));

        const auto again = f.enroll(code, f.csr, "192.0.2.11");
        CHECK(again.status == 409);
        CHECK(reason_of(again) == "used_code");
        CHECK(f.refusals("used_code") == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM site_certificates") == 1);
        // A used code cannot be revoked (the certificate is what to revoke).
        CHECK(f.call("DELETE", "/api/enrollment-codes/" + std::to_string(listed.at("id").get<long long>()))
                  .status == 409);
    }
}

TEST_CASE("enrollment routes: the code as people type it, lower case with look-alikes and blanks") {
    Fixture f;
    std::string typed;
    for (const char c : f.new_code()) {
        if (c == '0')
            typed += 'o';
        else if (c == '1')
            typed += 'l';
        else if (c == '-')
            typed += "  ";
        else
            typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const auto r = f.enroll(typed, f.csr);
    CHECK_MESSAGE(r.status == 201, r.body);
}

TEST_CASE(
    "enrollment routes: expired (manual clock), revoked, unknown, mistyped codes are refused and audited") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        const std::string short_lived = f.new_code("1h");
        f.clock.advance(59min);
        const std::string revoked = f.new_code();
        const auto id =
            json::parse(f.call("GET", "/api/sites/site-a/enrollment-codes").body).at("items").at(0).at("id");
        REQUIRE(f.call("DELETE", "/api/enrollment-codes/" + std::to_string(id.get<long long>())).status ==
                200);
        f.clock.advance(1min);
        const auto expired = f.enroll(short_lived, f.csr);
        CHECK(expired.status == 410);
        CHECK(reason_of(expired) == "expired_code");
        const auto gone = f.enroll(revoked, f.csr);
        CHECK(gone.status == 410);
        CHECK(reason_of(gone) == "revoked_code");
        const auto unknown = f.enroll(enrollment::display_code(enrollment::generate_code()), f.csr);
        CHECK(unknown.status == 403);
        CHECK(reason_of(unknown) == "unknown_code");
        std::string typo = short_lived;
        typo[0] = typo[0] == 'A' ? 'B' : 'A';
        const auto mistyped = f.enroll(typo, f.csr);
        CHECK(mistyped.status == 400);
        CHECK(reason_of(mistyped) == "malformed_code");
        CHECK(json::parse(mistyped.body).at("field") == "code");
        for (const char* reason : {"expired_code", "revoked_code", "unknown_code", "malformed_code"}) {
            CAPTURE(reason);
            CHECK(f.refusals(reason) == 1);
        }
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'enroll refused' AND actor = "
                       "'enroll:192.0.2.10'") == 4);
        CHECK(f.scalar("SELECT COUNT(*) FROM site_certificates") == 0);
    }
}

TEST_CASE("enrollment routes: a bad CSR leaves the code unused; size and configuration refusals") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        const std::string code = f.new_code();
        auto weak = test_pki::rsa_key(1024);
        const auto r = f.enroll(code, test_pki::csr(weak.get()));
        CHECK(r.status == 400);
        CHECK(reason_of(r) == "bad_csr");
        CHECK(json::parse(r.body).at("detail") == "csr: RSA key of 1024 bits (at least 2048)");
        CHECK(f.refusals("bad_csr") == 1);
        CHECK(f.enroll(code, f.csr).status == 201);  // the code was not spent by the refusal

        const auto big =
            f.call("POST", "/api/enroll", json{{"code", code}, {"csr", std::string(20000, 'A')}}.dump());
        CHECK(big.status == 413);
        CHECK(f.refusals("too_large") == 1);

        Fixture no_ca(false);
        const auto off = no_ca.enroll(no_ca.new_code(), no_ca.csr);
        CHECK(off.status == 503);
        CHECK(reason_of(off) == "not_configured");
    }
}

TEST_CASE("enrollment routes: attempts are limited per address and globally; the first refusal is audited") {
    enrollment::RateLimits limits;
    limits.per_address = 3;
    limits.global = 5;
    limits.window = 600s;
    Fixture f(true, limits);
    const std::string wrong = enrollment::display_code(enrollment::generate_code());
    for (int i = 0; i < 3; ++i) CHECK(f.enroll(wrong, f.csr, "198.51.100.1").status == 403);
    const auto limited = f.enroll(wrong, f.csr, "198.51.100.1");
    CHECK(limited.status == 429);
    CHECK(reason_of(limited) == "rate_limited");
    CHECK(limited.headers.at("Retry-After") == "600");
    // A valid code from a limited address waits too.
    CHECK(f.enroll(f.new_code(), f.csr, "198.51.100.1").status == 429);
    CHECK(f.refusals("rate_limited") == 1);
    // Another address has its own count, until the global one is reached.
    CHECK(f.enroll(wrong, f.csr, "198.51.100.2").status == 403);
    CHECK(f.enroll(wrong, f.csr, "198.51.100.3").status == 403);
    CHECK(f.enroll(wrong, f.csr, "198.51.100.4").status == 429);
    // An IPv6 client counts by its /64.
    f.clock.advance(600s);
    for (int i = 0; i < 3; ++i)
        CHECK(f.enroll(wrong, f.csr, "2001:db8::" + std::to_string(i + 1)).status == 403);
    CHECK(f.enroll(wrong, f.csr, "2001:db8::99").status == 429);
    // The window ends.
    f.clock.advance(600s);
    CHECK(f.enroll(f.new_code(), f.csr, "198.51.100.1").status == 201);
}

// ---- The certificate lifecycle: revocation and the CRL, renewal, replacement ----

namespace {

// The base64 signature of `text` with `key` (SHA-256): the proof a renewing gateway sends.
std::string sign_b64(EVP_PKEY* key, const std::string& text) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    std::size_t len = 0;
    REQUIRE(EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key) == 1);
    REQUIRE(EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(text.data()),
                           text.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1);
    EVP_MD_CTX_free(md);
    sig.resize(len);
    std::string out(4 * ((len + 2) / 3) + 1, '\0');
    out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                        reinterpret_cast<const unsigned char*>(sig.data()),
                                                        static_cast<int>(len))));
    return out;
}

struct Enrolled {
    std::string serial, certificate;
};

Enrolled enroll_ok(Fixture& f, EVP_PKEY* key, const std::string& remote = "192.0.2.10") {
    const auto r = f.enroll(f.new_code(), test_pki::csr(key), remote);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const json j = json::parse(r.body);
    return {j.at("serial"), j.at("certificate")};
}

http::Response renew(Fixture& f, const std::string& certificate, EVP_PKEY* current, EVP_PKEY* next) {
    const std::string request_csr = test_pki::csr(next);
    return f.call(
        "POST", "/api/renew",
        json{
            {"certificate", certificate}, {"csr", request_csr}, {"signature", sign_b64(current, request_csr)}}
            .dump());
}

std::string revoke_path(const std::string& serial) {
    return "/api/sites/site-a/certificates/" + serial + "/revoke";
}

}  // namespace

TEST_CASE("lifecycle: only admin and back office revoke; a reason is required; the CRL lists the serial") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        const auto crl_file = (f.dir / "broker.crl").string();
        enrollment::CrlSettings crl_settings;
        crl_settings.file = crl_file;
        crl_settings.validity = 7 * 24h;
        f.context.crl = std::make_shared<enrollment::CrlPublisher>(f.context.issuing_ca, crl_settings);
        const auto a = enroll_ok(f, f.gateway_key.get());
        for (const std::string role : {"technician", "manager", ""}) {
            f.role = role;
            CHECK(f.call("POST", revoke_path(a.serial), R"({"reason":"stolen"})").status ==
                  (role.empty() ? 401 : 403));
        }
        f.role = "back_office";
        CHECK(f.call("POST", revoke_path(a.serial), R"({"reason":"lost it"})").status == 400);
        CHECK(f.call("POST", revoke_path(a.serial), R"({})").status == 400);
        CHECK(f.call("POST", revoke_path("ABCDEF"), R"({"reason":"stolen"})").status == 404);
        CHECK(
            f.call("POST", "/api/sites/site-b/certificates/" + a.serial + "/revoke", R"({"reason":"stolen"})")
                .status == 404);
        f.clock.advance(Millis{60'000});
        const auto r =
            f.call("POST", revoke_path(a.serial), R"({"reason":"stolen","note":"gone from the roof"})");
        REQUIRE_MESSAGE(r.status == 200, r.body);
        const json j = json::parse(r.body);
        CHECK(j.at("revocation_reason") == "stolen");
        CHECK(j.at("revoked_by") == "office");
        CHECK(j.at("revoked_at") == format_iso8601(kT0 + 60s));
        CHECK(
            f.scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'revoke' AND entity = 'site_certificate' AND "
                "after_json LIKE '%gone from the roof%'") == 1);
        // Revoking again changes nothing.
        CHECK(f.call("POST", revoke_path(a.serial), R"({"reason":"other"})").status == 200);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'revoke'") == 1);
        const json listed =
            json::parse(f.call("GET", "/api/sites/site-a/certificates").body).at("items").at(0);
        CHECK(listed.at("revocation_reason") == "stolen");

        // The CRL: signed by the issuing CA, the serial with reason keyCompromise, next update a week on.
        BIO* bio = BIO_new_file(crl_file.c_str(), "r");
        REQUIRE(bio != nullptr);
        X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
        REQUIRE(crl != nullptr);
        BIO* ca_bio = BIO_new_mem_buf(f.ca_pem.cert_pem.data(), -1);
        X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr);
        BIO_free(ca_bio);
        CHECK(X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1);
        const auto* revoked = X509_CRL_get_REVOKED(crl);
        REQUIRE(sk_X509_REVOKED_num(revoked) == 1);
        BIGNUM* bn =
            ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, 0)), nullptr);
        char* hex = BN_bn2hex(bn);
        CHECK(std::string(hex) == a.serial);
        OPENSSL_free(hex);
        BN_free(bn);
        int diff_days = 0, diff_secs = 0;
        REQUIRE(ASN1_TIME_diff(&diff_days, &diff_secs, X509_CRL_get0_lastUpdate(crl),
                               X509_CRL_get0_nextUpdate(crl)) == 1);
        CHECK(diff_days == 7);
        X509_free(ca);
        X509_CRL_free(crl);
        CHECK_FALSE(f.context.crl->due(f.clock.now() + 3 * 24h));
        CHECK(f.context.crl->due(f.clock.now() + 85h));
    }
}

TEST_CASE(
    "lifecycle: the CRL's reload command runs off the request; asks made meanwhile fold into one more run") {
    Fixture f;
    // The command blocks until the test lets it go: a revoke that waited for it would never answer.
    const auto go = f.dir / "go";
    const auto runs = f.dir / "runs";
    enrollment::CrlSettings crl_settings;
    crl_settings.file = (f.dir / "broker.crl").string();
    crl_settings.reload_command = "echo run >> '" + runs.string() + "'; i=0; while [ ! -f '" + go.string() +
                                  "' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done";
    f.context.crl = std::make_shared<enrollment::CrlPublisher>(f.context.issuing_ca, crl_settings);
    const auto a = enroll_ok(f, f.gateway_key.get());
    f.role = "back_office";
    REQUIRE(f.call("POST", revoke_path(a.serial), R"({"reason":"stolen"})").status == 200);
    // Answered while the first run still waits; two more writes while it runs.
    CHECK(f.context.crl->reloads_done() == 0);
    REQUIRE(test::wait_until([&] { return std::filesystem::exists(runs); }, std::chrono::seconds{30}));
    REQUIRE(f.context.crl->publish(*f.context.db, f.clock.now()));
    REQUIRE(f.context.crl->publish(*f.context.db, f.clock.now()));
    CHECK(f.context.crl->reloads_done() == 0);
    { std::ofstream(go) << "go"; }
    REQUIRE(test::wait_until([&] { return f.context.crl->reloads_done() == 2; }, std::chrono::seconds{30}));
    std::ifstream in(runs);
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    CHECK(lines == 2);  // the first run, then one for both asks made meanwhile
}

TEST_CASE(
    "lifecycle: renewal with the current key; wrong key, same key, revoked, expired and foreign refused") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        f.context.enrollment.certificate_lifetime = 1h;  // short-lived: renew at 2/3 of it
        const auto a = enroll_ok(f, f.gateway_key.get());
        f.clock.advance(Millis{40 * 60'000});
        auto next_key = test_pki::ec_key();
        auto other_key = test_pki::ec_key();
        const auto wrong = renew(f, a.certificate, other_key.get(), next_key.get());
        CHECK(wrong.status == 403);
        CHECK(reason_of(wrong) == "bad_signature");
        const auto same = renew(f, a.certificate, f.gateway_key.get(), f.gateway_key.get());
        CHECK(same.status == 400);
        CHECK(reason_of(same) == "same_key");
        const auto ok = renew(f, a.certificate, f.gateway_key.get(), next_key.get());
        REQUIRE_MESSAGE(ok.status == 201, ok.body);
        const json j = json::parse(ok.body);
        CHECK(j.at("site_id") == "site-a");
        CHECK(j.at("renewed_from") == a.serial);
        CHECK(j.at("not_after") == format_iso8601(kT0 + 40min + 1h));
        CHECK(f.scalar("SELECT COUNT(*) FROM site_certificates WHERE renewed_from = $1", {a.serial}) == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'renew'") == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'renew refused'") == 2);

        // Expired: an hour and a bit after enrollment the first certificate cannot renew any more.
        f.clock.advance(Millis{25 * 60'000});
        auto third_key = test_pki::ec_key();
        const auto expired = renew(f, a.certificate, f.gateway_key.get(), third_key.get());
        CHECK(expired.status == 403);
        CHECK(reason_of(expired) == "expired_certificate");
        // Revoking the renewed certificate revokes its lineage; the revoked one cannot renew.
        REQUIRE(f.call("POST", revoke_path(j.at("serial")), R"({"reason":"stolen"})").status == 200);
        CHECK(f.scalar("SELECT COUNT(*) FROM site_certificates WHERE revoked_at_ms IS NOT NULL") == 2);
        const auto revoked = renew(f, j.at("certificate"), next_key.get(), third_key.get());
        CHECK(revoked.status == 403);
        CHECK(reason_of(revoked) == "revoked_certificate");
        // A certificate from another CA, and garbage.
        const auto foreign = test_pki::make_ca(kT0 - 24h, 30, false);
        const auto unknown = f.call("POST", "/api/renew",
                                    json{{"certificate", foreign.cert_pem},
                                         {"csr", test_pki::csr(third_key.get())},
                                         {"signature", "AAAA"}}
                                        .dump());
        CHECK(unknown.status == 403);
        CHECK(f.call("POST", "/api/renew", R"({"certificate":1,"csr":"x","signature":"y"})").status == 400);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'renew refused' AND after_json LIKE "
                       "'%revoked_certificate%'") == 1);
    }
}

TEST_CASE("lifecycle: a new gateway for the site revokes the old one's certificate; the history stays") {
    test::TempDir engines;
    for (const auto& be : test::fresh_backends(engines, "enrollment")) {
        CAPTURE(be.name);
        Fixture f(true, {}, &be);
        const auto a = enroll_ok(f, f.gateway_key.get());
        // The old gateway's history: telemetry and its sequence bookkeeping.
        REQUIRE(f.store->db().run(
            "INSERT INTO telemetry_raw (site_id, device_id, t_first_ms, seq, t_last_ms, n, samples) "
            "VALUES ('site-a', 'inv1', 1, 1, 1, 1, '[]')"));
        REQUIRE(
            f.store->db().run("INSERT INTO received (site_id, seq, kind, historical, received_at_ms) "
                              "VALUES ('site-a', 1, 'telemetry', 0, 1)"));
        REQUIRE(f.store->db().run(
            "INSERT INTO site_seq (site_id, contiguous_through, max_seen) VALUES ('site-a', 1, 1) "
            "ON CONFLICT (site_id) DO UPDATE SET contiguous_through = 1, max_seen = 1"));
        auto new_hardware = test_pki::ec_key();
        f.clock.advance(Millis{3'600'000});
        const auto b = enroll_ok(f, new_hardware.get(), "198.51.100.7");
        const json certs = json::parse(f.call("GET", "/api/sites/site-a/certificates").body).at("items");
        REQUIRE(certs.size() == 2);
        CHECK(certs.at(0).at("serial") == b.serial);
        CHECK(certs.at(0).at("revoked_at").is_null());
        CHECK(certs.at(1).at("serial") == a.serial);
        CHECK(certs.at(1).at("revocation_reason") == "replaced");
        CHECK(certs.at(1).at("revoked_by") == "enroll:198.51.100.7");
        CHECK(f.scalar("SELECT COUNT(*) FROM telemetry_raw WHERE site_id = 'site-a'") == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM received WHERE site_id = 'site-a'") == 0);
        CHECK(f.scalar("SELECT contiguous_through FROM site_seq WHERE site_id = 'site-a'") == 0);
        // The replaced gateway cannot renew.
        auto k = test_pki::ec_key();
        CHECK(reason_of(renew(f, a.certificate, f.gateway_key.get(), k.get())) == "revoked_certificate");
    }
}
