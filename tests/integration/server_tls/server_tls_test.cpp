// pvfleet-server serves HTTPS itself (http/tls): a certificate made at test time, a verified TLS connection, the
// API over it with HSTS and a Secure session cookie, TLS 1.1 refused, plain HTTP on the TLS port answered with
// nothing; SIGHUP serves a new certificate to new connections while an open one goes on, and a broken
// certificate on reload keeps the one in use.
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <csignal>

#include "server_fixture.hpp"
#include "support/paths.hpp"
#include "tls_client.hpp"

using namespace pvfleet;
using namespace pvfleet::itest;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPassword = "a long enough password 42";

struct TlsServerDir {
    test::TempDir temp;
    fs::path config = temp / "server.json";
    fs::path cert = temp / "cert.pem";
    fs::path key = temp / "key.pem";

    TlsServerDir() {
        make_certificate(cert, key, "first");
        write_file(config, R"({"database": {"kind": "sqlite", "path": "server.db"},
                              "http": {"port": 0, "tls": {"cert_file": "cert.pem", "key_file": "key.pem"}}})");
        write_file(temp / "password", std::string(kPassword) + "\n");
        const auto added = run_server_verb(temp.path(),
                                           {"user", "add", "--config", config.string(), "--name", "admin", "--role",
                                            "admin", "--password-file", (temp / "password").string()},
                                           "user-add");
        REQUIRE_MESSAGE(added.status == 0, added.output);
    }
};

std::string login_body() {
    return std::string(R"({"user": "admin", "password": ")") + kPassword + "\"}";
}

}  // namespace

TEST_CASE("https: a verified TLS connection serves the API with HSTS and a Secure session cookie") {
    TlsServerDir d;
    RunningServer server(d.config, d.temp / "run.log");
    REQUIRE_MESSAGE(server.start(), server.log());
    CHECK(server.log().find("(TLS)") != std::string::npos);
    CHECK(server.log().find("TLS certificate: CN=first") != std::string::npos);

    TlsClient client({.ca_file = d.cert.string()});
    REQUIRE_MESSAGE(client.connect(server.port()), client.error());
    CHECK(client.peer_subject() == "/CN=first");
    CHECK(client.protocol() == "TLSv1.3");
    const auto health = client.request("GET", "/api/health");
    CHECK(health.status == 200);
    CHECK(health.header("strict-transport-security") == "max-age=31536000");

    // Same connection (keep-alive): log in, the cookie is Secure.
    const auto login = client.request("POST", "/api/login", login_body());
    REQUIRE_MESSAGE(login.status == 200, login.body);
    CHECK(login.header("set-cookie").find("; Secure") != std::string::npos);
    CHECK(login.header("set-cookie").find("HttpOnly") != std::string::npos);
    CHECK(login.header("strict-transport-security") == "max-age=31536000");

    {  // TLS 1.2 is accepted
        TlsClient tls12({.min_version = TLS1_2_VERSION, .max_version = TLS1_2_VERSION, .ca_file = {}});
        REQUIRE_MESSAGE(tls12.connect(server.port()), tls12.error());
        CHECK(tls12.protocol() == "TLSv1.2");
        CHECK(tls12.request("GET", "/api/health").status == 200);
    }
    {  // TLS 1.1 and 1.0 are refused by the server
        for (const int version : {TLS1_1_VERSION, TLS1_VERSION}) {
            TlsClient old({.min_version = version, .max_version = version, .ca_file = {}});
            CHECK_FALSE(old.connect(server.port()));
            // The server's alert, not a client that could not offer the version.
            CHECK_MESSAGE(old.error().find("protocol version") != std::string::npos, old.error());
        }
    }
    {  // plain HTTP on the TLS port gets no HTTP answer
        const auto r = test::run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                          "http://127.0.0.1:" + std::to_string(server.port()) + "/api/health"});
        CHECK(r.out.find("200") == std::string::npos);
    }
    CHECK(server.process().stop() == 0);
}

TEST_CASE("https: SIGHUP reloads the certificate for new connections; a broken one on reload keeps the old") {
    TlsServerDir d;
    RunningServer server(d.config, d.temp / "run.log");
    REQUIRE_MESSAGE(server.start(), server.log());

    TlsClient before;
    REQUIRE_MESSAGE(before.connect(server.port()), before.error());
    CHECK(before.peer_subject() == "/CN=first");
    CHECK(before.request("GET", "/api/health").status == 200);

    // A renewed certificate written in place (as certbot or an operator does), then SIGHUP.
    make_certificate(d.cert, d.key, "second");
    server.process().signal(SIGHUP);
    REQUIRE_MESSAGE(server.wait_for_log("TLS certificate reloaded: CN=second"), server.log());

    TlsClient after({.ca_file = d.cert.string()});
    REQUIRE_MESSAGE(after.connect(server.port()), after.error());
    CHECK(after.peer_subject() == "/CN=second");
    CHECK(after.request("GET", "/api/health").status == 200);
    // The connection opened before the reload is still served, on its certificate.
    const auto again = before.request("GET", "/api/health");
    CHECK_MESSAGE(again.status == 200, before.error());
    CHECK(before.peer_subject() == "/CN=first");

    {  // a certificate file that is not PEM
        write_file(d.cert, "not a certificate\n");
        server.process().signal(SIGHUP);
        REQUIRE_MESSAGE(server.wait_for_log("TLS reload failed", 1), server.log());
        CHECK(server.log().find("still serving CN=second") != std::string::npos);
        CHECK(server.log().find("http/tls/cert_file: '" + d.cert.string() + "' holds no PEM block") !=
              std::string::npos);
    }
    {  // a key that is not the certificate's
        make_certificate(d.cert, d.temp / "key-of-second.pem", "second");  // a valid certificate again
        make_certificate(d.temp / "other.pem", d.key, "third");  // but key.pem is another certificate's key
        server.process().signal(SIGHUP);
        REQUIRE_MESSAGE(server.wait_for_log("TLS reload failed", 2), server.log());
        CHECK(server.log().find("http/tls/key_file: '" + d.key.string() + "' is not the key of the certificate") !=
              std::string::npos);
    }
    TlsClient still;
    REQUIRE_MESSAGE(still.connect(server.port()), still.error());
    CHECK(still.peer_subject() == "/CN=second");
    CHECK(still.request("GET", "/api/health").status == 200);
    CHECK(server.process().stop() == 0);
}

TEST_CASE("http: without http/tls the server speaks plain HTTP (localhost, demo) and sets neither HSTS nor Secure") {
    test::TempDir temp;
    write_file(temp / "server.json", R"({"database": {"kind": "sqlite", "path": "server.db"}, "http": {"port": 0}})");
    RunningServer server(temp / "server.json", temp / "run.log");
    REQUIRE_MESSAGE(server.start(), server.log());
    CHECK(server.log().find("(TLS)") == std::string::npos);
    const auto r = test::run_command({"curl", "-s", "-D", "-", "-o", "/dev/null", "--max-time", "10",
                                      "http://127.0.0.1:" + std::to_string(server.port()) + "/api/health"});
    CHECK(r.out.find("200") != std::string::npos);
    CHECK(r.out.find("Strict-Transport-Security") == std::string::npos);
    CHECK(server.process().stop() == 0);
}
