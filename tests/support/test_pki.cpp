#include "support/test_pki.hpp"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>

namespace pvfleet::test_pki {
namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

const EVP_MD* digest_for(EVP_PKEY* key) {
    return EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256();
}

std::string csr_pem(X509_REQ* req) {
    BIO* bio = BIO_new(BIO_s_mem());
    REQUIRE(PEM_write_bio_X509_REQ(bio, req) == 1);
    X509_REQ_free(req);
    return bio_text(bio);
}

X509_REQ* new_request(EVP_PKEY* key, const std::string& cn) {
    X509_REQ* req = X509_REQ_new();
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    REQUIRE(X509_REQ_set_pubkey(req, key) == 1);
    return req;
}

void add_ext(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

}  // namespace

Key ec_key(const char* curve) {
    Key k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
    REQUIRE(k);
    return k;
}
Key rsa_key(unsigned bits) {
    Key k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
    REQUIRE(k);
    return k;
}
Key ed25519_key() {
    Key k(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    REQUIRE(k);
    return k;
}

std::string private_pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    return bio_text(bio);
}

std::string csr(EVP_PKEY* key, const std::string& cn) {
    X509_REQ* req = new_request(key, cn);
    REQUIRE(X509_REQ_sign(req, key, digest_for(key)) > 0);
    return csr_pem(req);
}

std::string csr_with_wrong_signature(EVP_PKEY* signer, EVP_PKEY* shown) {
    X509_REQ* req = new_request(signer, "pvfleet-gateway");
    REQUIRE(X509_REQ_sign(req, signer, digest_for(signer)) > 0);
    REQUIRE(X509_REQ_set_pubkey(req, shown) == 1);  // after signing: the signature is over another key
    return csr_pem(req);
}

Ca make_ca(TimePoint from, int days, bool is_ca) {
    Key key = ec_key();
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test issuing CA"), -1,
                               -1, 0);
    X509_set_issuer_name(cert, name);
    const auto start = std::chrono::duration_cast<std::chrono::seconds>(from.time_since_epoch()).count();
    ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(start));
    ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(start + days * 86400LL));
    X509_set_pubkey(cert, key.get());
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    add_ext(cert, ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(cert, ctx, NID_key_usage, is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(cert, ctx, NID_subject_key_identifier, "hash");
    REQUIRE(X509_sign(cert, key.get(), EVP_sha256()) > 0);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    X509_free(cert);
    return {bio_text(bio), private_pem(key.get())};
}

std::string sign_base64(EVP_PKEY* key, const std::string& text) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    std::size_t len = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(text.data());
    std::string sig;
    if (EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestSign(md, nullptr, &len, data, text.size()) == 1) {
        sig.resize(len);
        if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len, data, text.size()) == 1)
            sig.resize(len);
        else
            sig.clear();
    }
    EVP_MD_CTX_free(md);
    std::string out(4 * ((sig.size() + 2) / 3) + 1, '\0');
    out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                        reinterpret_cast<const unsigned char*>(sig.data()),
                                                        static_cast<int>(sig.size()))));
    return out;
}

}  // namespace pvfleet::test_pki
