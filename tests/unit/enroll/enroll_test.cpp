// pvfleet-edge enroll's pieces: key and CSR made locally, the server URL, the server's answer (201 and every
// refusal carrying the server's reason), atomic files with exact modes, the config after enrollment.
#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <filesystem>

#include "pvfleet/enroll/enroll.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using nlohmann::json;

TEST_CASE("enroll: the key is EC P-256 and the CSR is signed by it") {
    auto made = enroll::make_key_and_csr();
    REQUIRE(made);
    CHECK(made->key_pem.find("-----BEGIN PRIVATE KEY-----") == 0);
    BIO* bio = BIO_new_mem_buf(made->csr_pem.data(), static_cast<int>(made->csr_pem.size()));
    X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    REQUIRE(req != nullptr);
    EVP_PKEY* key = X509_REQ_get0_pubkey(req);
    CHECK(X509_REQ_verify(req, key) == 1);
    char group[64] = {};
    size_t len = 0;
    REQUIRE(EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1);
    CHECK(std::string(group) == "prime256v1");
    X509_REQ_free(req);
    CHECK(made->csr_pem.find("PRIVATE") == std::string::npos);
    auto other = enroll::make_key_and_csr();
    REQUIRE(other);
    CHECK(other->key_pem != made->key_pem);
}

TEST_CASE("enroll: the server URL is https://HOST[:PORT] and nothing else") {
    auto a = enroll::parse_server_url("https://pv.example.com");
    REQUIRE(a);
    CHECK(a->host == "pv.example.com");
    CHECK(a->port == "443");
    auto b = enroll::parse_server_url("https://127.0.0.1:8443/");
    REQUIRE(b);
    CHECK(b->host == "127.0.0.1");
    CHECK(b->port == "8443");
    auto c = enroll::parse_server_url("https://[::1]:9000");
    REQUIRE(c);
    CHECK(c->host == "::1");
    CHECK(c->port == "9000");
    for (const char* bad : {"http://pv.example.com", "pv.example.com", "https://", "https://h:0", "https://h:70000",
                            "https://h/api", "https://u@h", "https://h?x=1", "https://[::1"})
        CHECK_MESSAGE(!enroll::parse_server_url(bad), bad);
    CHECK(enroll::parse_server_url("http://h").error().message ==
          "--server: 'http://h': not an https:// address (expected https://HOST[:PORT])");
}

TEST_CASE("enroll: the server's answer, and its refusals with their reason") {
    const json ok = {{"site_id", "site-a"},
                     {"certificate", "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"},
                     {"ca_chain", "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n"},
                     {"broker_uri", "ssl://broker:8883"},
                     {"serial", "0A1B"},
                     {"not_after", "2027-05-28T00:00:00.000Z"},
                     {"config", {{"format", 1}, {"site_id", "site-a"}}}};
    auto r = enroll::read_reply({201, ok.dump()});
    REQUIRE(r);
    CHECK(r->site_id == "site-a");
    CHECK(r->config.at("format") == 1);
    const json refused = {{"status", 409}, {"title", "Conflict"}, {"reason", "used_code"},
                          {"detail", "this enrollment code was used at 2026-05-28T10:00:00.000Z: ask the back office for a new one"}};
    CHECK(enroll::read_reply({409, refused.dump()}).error().message ==
          "refused by the server (used_code): this enrollment code was used at 2026-05-28T10:00:00.000Z: ask the back "
          "office for a new one");
    CHECK(enroll::read_reply({502, "<html>bad gateway</html>"}).error().message == "refused by the server (HTTP 502)");
    json bad_site = ok;
    bad_site["site_id"] = "../etc";
    CHECK(!enroll::read_reply({201, bad_site.dump()}));
    json no_cert = ok;
    no_cert.erase("certificate");
    CHECK(enroll::read_reply({201, no_cert.dump()}).error().message == "the server's answer has no certificate");
}

TEST_CASE("enroll: files are replaced whole with their exact mode, whatever the umask") {
    test::TempDir dir;
    const auto key = dir / "site.key";
    const mode_t old = ::umask(0);
    REQUIRE(enroll::write_file_atomically(key, "secret", 0600));
    ::umask(old);
    struct stat st {};
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(enroll::write_file_atomically(key, "second", 0600));
    CHECK(test::read_file(key) == "second");
    CHECK(!std::filesystem::exists(dir / "site.key.tmp"));
    CHECK(!enroll::write_file_atomically(dir / "missing" / "x", "y", 0644));
}

TEST_CASE("enroll: the config after enrollment keeps the gateway's devices and names the site and broker") {
    enroll::EnrollReply reply;
    reply.site_id = "site-a";
    reply.broker_uri = "ssl://broker:8883";
    reply.config = {{"format", 1}, {"site_id", "site-a"}, {"config_version", "enrolled-2026-05-28"}, {"time_zone", "UTC"}};
    const auto fresh = enroll::site_config_after(std::nullopt, reply);
    CHECK(fresh.at("config_version") == "enrolled-2026-05-28");
    CHECK(fresh.at("mqtt").at("key_file") == "pki/site.key");
    CHECK(fresh.at("mqtt").at("uri") == "ssl://broker:8883");
    const auto existing = nlohmann::ordered_json::parse(
        R"({"format":1,"site_id":"CHANGE-ME","config_version":"7","endpoints":[{"id":"lan","tcp":"10.0.0.2:502"}],
            "mqtt":{"uri":"tcp://old:1883","username":"x","password_file":"p"}})");
    const auto merged = enroll::site_config_after(existing, reply);
    CHECK(merged.at("site_id") == "site-a");
    CHECK(merged.at("config_version") == "7");
    CHECK(merged.at("endpoints").size() == 1);
    CHECK(!merged.at("mqtt").contains("username"));
    CHECK(merged.at("mqtt").at("ca_file") == "pki/ca.crt");
}

TEST_CASE("enroll: a certificate for another key is noticed") {
    auto mine = enroll::make_key_and_csr();
    REQUIRE(mine);
    CHECK(enroll::check_certificate_key("not a certificate", mine->key_pem).error().message ==
          "the certificate the server sent is not for this gateway's key");
}
