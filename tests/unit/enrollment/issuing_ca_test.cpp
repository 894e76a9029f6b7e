// The issuing CA: what it signs (name, serial, use, lifetime bounded by its own), and what it refuses to load.
#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "support/test_pki.hpp"
#include "pvfleet/enrollment/issuing_ca.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::enrollment;
using namespace std::chrono_literals;

namespace {

constexpr TimePoint kNow{Millis{1'780'000'000'000}};  // 2026-05-28

X509* parse(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    REQUIRE(cert != nullptr);
    return cert;
}

std::string text_of(const X509_NAME* name) {
    char buf[256];
    X509_NAME_oneline(name, buf, sizeof buf);
    return buf;
}

void write(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("issuing CA: signs a client certificate named after the site, verifiable with the CA") {
    const auto ca_pem = test_pki::make_ca(kNow - 24h, 3650);
    auto ca = IssuingCa::from_pem(ca_pem.cert_pem, ca_pem.key_pem, "", kNow);
    REQUIRE(ca);
    auto gateway = test_pki::ec_key();
    std::set<std::string> serials;
    for (int i = 0; i < 20; ++i) {
        auto issued = (*ca)->sign(test_pki::csr(gateway.get(), "ignored-name"), "site-7", 365 * 24h, kNow);
        REQUIRE(issued);
        serials.insert(issued->serial);
        CHECK(issued->serial.size() == 32);  // 16 bytes
        if (i > 0) continue;
        CHECK(issued->subject == "CN=site-7,O=pvfleet");
        CHECK(issued->not_before == kNow - 5min);
        CHECK(issued->not_after == kNow + 365 * 24h);
        X509* cert = parse(issued->pem);
        X509* ca_cert = parse(ca_pem.cert_pem);
        CHECK(X509_verify(cert, X509_get0_pubkey(ca_cert)) == 1);
        CHECK(text_of(X509_get_subject_name(cert)) == "/O=pvfleet/CN=site-7");
        CHECK((X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0);
        CHECK((X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) == 0);
        CHECK(X509_check_ca(cert) == 0);
        CHECK(X509_check_private_key(cert, gateway.get()) == 1);
        X509_free(cert);
        X509_free(ca_cert);
    }
    CHECK(serials.size() == 20);
    CHECK((*ca)->chain_pem() == ca_pem.cert_pem);
}

TEST_CASE("issuing CA: a certificate never outlives the CA") {
    const auto ca_pem = test_pki::make_ca(kNow - 24h, 30);
    auto ca = IssuingCa::from_pem(ca_pem.cert_pem, ca_pem.key_pem, "-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----", kNow);
    REQUIRE(ca);
    auto gateway = test_pki::ec_key();
    auto issued = (*ca)->sign(test_pki::csr(gateway.get()), "site-7", 365 * 24h, kNow);
    REQUIRE(issued);
    CHECK(issued->not_after == (*ca)->not_after());
    CHECK((*ca)->chain_pem().find("root") != std::string::npos);  // the chain file follows the CA certificate
}

TEST_CASE("issuing CA: loading refuses a wrong key, a non-CA, an expired CA, with the key or file at fault") {
    test::TempDir dir;
    const auto good = test_pki::make_ca(kNow - 24h, 3650);
    const auto other = test_pki::make_ca(kNow - 24h, 3650);
    write(dir / "ca.crt", good.cert_pem);
    write(dir / "ca.key", good.key_pem);
    write(dir / "other.key", other.key_pem);
    CaFiles files{(dir / "ca.crt").string(), (dir / "ca.key").string(), "", "enrollment"};
    CHECK(IssuingCa::load(files, kNow));

    CaFiles wrong_key = files;
    wrong_key.key_file = (dir / "other.key").string();
    auto e = IssuingCa::load(wrong_key, kNow);
    REQUIRE(!e);
    CHECK(e.error().path == "enrollment/ca_key_file");
    CHECK(e.error().message.find("is not the key of the CA certificate") != std::string::npos);

    CaFiles missing = files;
    missing.cert_file = (dir / "nope.crt").string();
    CHECK(IssuingCa::load(missing, kNow).error().path == "enrollment/ca_cert_file");

    const auto leaf = test_pki::make_ca(kNow - 24h, 3650, false);
    CHECK(IssuingCa::from_pem(leaf.cert_pem, leaf.key_pem, "", kNow).error().message.find("not a CA certificate") !=
          std::string::npos);
    CHECK(IssuingCa::from_pem(good.cert_pem, good.key_pem, "", kNow + 3651 * 24h).error().message ==
          "the CA certificate has expired");
}
