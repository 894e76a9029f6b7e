// pvfleet-edge renew's pieces: when renewal is due (an injected time, a short-lived certificate), the proof of
// possession (verifies with the current key), the server's answer, the pair installed with the old one kept, and an
// install cut short by a power loss finished or undone.
#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pvfleet/enroll/renew.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

constexpr TimePoint kT0{Millis{1'780'000'000'000}};

// A self-signed certificate over the PEM key, valid from `from` for `lifetime`.
std::string certificate_for(const std::string& key_pem, TimePoint from, std::chrono::seconds lifetime) {
    BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    REQUIRE(key != nullptr);
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 0x1234);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("site-1"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    const auto secs = [](TimePoint t) {
        return static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
    };
    ASN1_TIME_set(X509_getm_notBefore(cert), secs(from));
    ASN1_TIME_set(X509_getm_notAfter(cert), secs(from + lifetime));
    X509_set_pubkey(cert, key);
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    BIO* out = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(out, cert);
    char* data = nullptr;
    const long n = BIO_get_mem_data(out, &data);
    std::string pem(data, static_cast<std::size_t>(n));
    BIO_free(out);
    X509_free(cert);
    EVP_PKEY_free(key);
    return pem;
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("renew: due at the configured fraction of the lifetime (a one-hour certificate, injected times)") {
    auto k = enroll::make_key_and_csr();
    REQUIRE(k);
    auto cert = enroll::read_certificate(certificate_for(k->key_pem, kT0, 1h));
    REQUIRE(cert);
    CHECK(cert->serial == "1234");
    CHECK(cert->common_name == "site-1");
    CHECK(enroll::renewal_time(*cert, 2.0 / 3) == kT0 + 40min);
    CHECK_FALSE(enroll::renewal_due(*cert, kT0 + 39min, 2.0 / 3));
    CHECK(enroll::renewal_due(*cert, kT0 + 40min, 2.0 / 3));
    CHECK(enroll::renewal_due(*cert, kT0 + 2h, 2.0 / 3));  // expired: due (the server says why it refuses)
    CHECK_FALSE(enroll::read_certificate("garbage"));
}

TEST_CASE("renew: the CSR's signature verifies with the current key and not with another") {
    auto current = enroll::make_key_and_csr();
    auto next = enroll::make_key_and_csr();
    REQUIRE(current);
    REQUIRE(next);
    auto sig = enroll::sign_base64(current->key_pem, next->csr_pem);
    REQUIRE(sig);
    std::string raw(sig->size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                            reinterpret_cast<const unsigned char*>(sig->data()), static_cast<int>(sig->size()));
    REQUIRE(n > 0);
    raw.resize(static_cast<std::size_t>(n) - (sig->ends_with("==") ? 2 : sig->ends_with("=") ? 1 : 0));
    const auto verifies = [&](const std::string& key_pem) {
        BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
        EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        const bool ok = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                        EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                                         reinterpret_cast<const unsigned char*>(next->csr_pem.data()),
                                         next->csr_pem.size()) == 1;
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(key);
        return ok;
    };
    CHECK(verifies(current->key_pem));
    CHECK_FALSE(verifies(next->key_pem));
    CHECK_FALSE(enroll::sign_base64("not a key", "x"));
}

TEST_CASE("renew: the server's answer and its refusals") {
    CHECK(enroll::read_renew_reply({403, R"({"reason":"revoked_certificate","detail":"certificate AB was revoked"})"})
              .error()
              .message == "refused by the server (revoked_certificate): certificate AB was revoked");
    CHECK_FALSE(enroll::read_renew_reply({201, R"({"certificate":"x"})"}));
    const auto ok = enroll::read_renew_reply(
        {201, R"({"certificate":"-----BEGIN CERTIFICATE-----\n","ca_chain":"-----BEGIN CERTIFICATE-----\n",)"
              R"("serial":"AB","not_after":"2027-01-01T00:00:00.000Z","renewed_from":"CD","site_id":"s"})"});
    REQUIRE(ok);
    CHECK(ok->renewed_from == "CD");
}

TEST_CASE("renew: the new pair replaces the old one, kept as .prev; an interrupted install is finished or undone") {
    test::TempDir dir;
    const enroll::Layout layout{dir / "site.json"};
    std::filesystem::create_directories(layout.pki());
    auto old_pair = enroll::make_key_and_csr();
    auto new_pair = enroll::make_key_and_csr();
    REQUIRE(old_pair);
    REQUIRE(new_pair);
    const std::string old_cert = certificate_for(old_pair->key_pem, kT0, 1h);
    const std::string new_cert = certificate_for(new_pair->key_pem, kT0, 1h);
    REQUIRE(enroll::write_file_atomically(layout.key(), old_pair->key_pem, 0600));
    REQUIRE(enroll::write_file_atomically(layout.certificate(), old_cert, 0644));
    REQUIRE(enroll::write_enrolled_server(layout, {"https://pv.example.com", "/etc/pvfleet/server-ca.crt"}));
    const auto where = enroll::read_enrolled_server(layout);
    REQUIRE(where);
    CHECK(where->server == "https://pv.example.com");

    enroll::RenewReply reply{new_cert, new_cert, "AB", "2027-01-01T00:00:00.000Z", "1234"};
    REQUIRE(enroll::install_renewed(layout, new_pair->key_pem, reply));
    CHECK(read(layout.key()) == new_pair->key_pem);
    CHECK(read(layout.certificate()) == new_cert);
    CHECK(read(dir / "pki/site.key.prev") == old_pair->key_pem);
    struct stat st {};
    REQUIRE(::stat(layout.key().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_FALSE(std::filesystem::exists(dir / "pki/site.key.next"));
    CHECK(enroll::recover_renewal(layout).value() == false);

    // Power lost after the key moved but before the certificate did: the .next certificate is finished.
    REQUIRE(enroll::write_file_atomically(layout.key(), old_pair->key_pem, 0600));
    REQUIRE(enroll::write_file_atomically(dir / "pki/site.crt.next", old_cert, 0644));
    CHECK(enroll::recover_renewal(layout).value() == true);
    CHECK(read(layout.certificate()) == old_cert);
    // Power lost while the .next pair was written (the certificate does not match): undone, the pair in place stays.
    REQUIRE(enroll::write_file_atomically(dir / "pki/site.key.next", new_pair->key_pem, 0600));
    REQUIRE(enroll::write_file_atomically(dir / "pki/site.crt.next", old_cert, 0644));
    CHECK(enroll::recover_renewal(layout).value() == false);
    CHECK_FALSE(std::filesystem::exists(dir / "pki/site.key.next"));
    CHECK_FALSE(std::filesystem::exists(dir / "pki/site.crt.next"));
    CHECK(read(layout.key()) == old_pair->key_pem);
}
