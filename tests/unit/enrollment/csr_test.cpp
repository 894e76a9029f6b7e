// The CSR check: accepted key types, refused ones with the reason, a signature that does not verify, bad PEM.
#include <doctest/doctest.h>

#include "support/test_pki.hpp"
#include "pvfleet/enrollment/csr.hpp"

using namespace pvfleet;
using namespace pvfleet::enrollment;

TEST_CASE("csr: EC P-256, Ed25519 and RSA 2048 are accepted") {
    auto ec = test_pki::ec_key();
    auto info = check_csr(test_pki::csr(ec.get()));
    REQUIRE(info);
    CHECK(info->key_type == "EC P-256");
    CHECK(info->public_key_sha256.size() == 64);
    auto ed = test_pki::ed25519_key();
    REQUIRE(check_csr(test_pki::csr(ed.get())));
    CHECK(check_csr(test_pki::csr(ed.get()))->key_type == "Ed25519");
    auto rsa = test_pki::rsa_key(2048);
    REQUIRE(check_csr(test_pki::csr(rsa.get())));
    CHECK(check_csr(test_pki::csr(rsa.get()))->key_type == "RSA 2048");
}

TEST_CASE("csr: weak or unexpected keys are refused with the reason") {
    auto rsa = test_pki::rsa_key(1024);
    CHECK(check_csr(test_pki::csr(rsa.get())).error().message == "csr: RSA key of 1024 bits (at least 2048)");
    auto p384 = test_pki::ec_key("P-384");
    CHECK(check_csr(test_pki::csr(p384.get())).error().message == "csr: EC key on curve secp384r1 (expected P-256)");
}

TEST_CASE("csr: a signature that does not verify, bad PEM, oversize") {
    auto a = test_pki::ec_key();
    auto b = test_pki::ec_key();
    const auto wrong = check_csr(test_pki::csr_with_wrong_signature(a.get(), b.get()));
    CHECK(wrong.error().message == "csr: its signature does not verify with its own key");
    CHECK(check_csr("hello").error().message ==
          "csr: not a PEM certificate signing request (no BEGIN CERTIFICATE REQUEST line)");
    const auto garbled = check_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
    REQUIRE(!garbled);
    CHECK(garbled.error().message.rfind("csr: unreadable PEM certificate signing request", 0) == 0);
    // A private key where the CSR should be is no request.
    CHECK(!check_csr(test_pki::private_pem(a.get())));
    CHECK(check_csr(std::string(kMaxCsrBytes + 1, 'A')).error().message == "csr: larger than 8192 bytes");
    CHECK(check_csr("x").error().path == "csr");
}
