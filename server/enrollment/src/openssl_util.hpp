#pragma once
// Small owners and helpers over OpenSSL's C API, shared by the CSR check and the issuing CA.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::enrollment::detail {

struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct ReqFree { void operator()(X509_REQ* p) const { X509_REQ_free(p); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;

inline BioPtr memory_bio(std::string_view text) {
    return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The oldest queued OpenSSL error in words (the queue cleared), or `fallback`.
inline std::string openssl_error(const std::string& fallback) {
    const unsigned long e = ERR_peek_error();
    std::string out = fallback;
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out = buf;
    }
    ERR_clear_error();
    return out;
}

inline std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

inline std::string hex(const unsigned char* bytes, std::size_t n, bool upper = false) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 0xf]);
    }
    return out;
}

inline TimePoint time_of(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return TimePoint{};
    return TimePoint{std::chrono::duration_cast<Millis>(std::chrono::seconds(::timegm(&tm)))};
}

inline std::time_t seconds_of(TimePoint t) {
    return static_cast<std::time_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// Lower-case hex SHA-256 of the key's SubjectPublicKeyInfo (DER): the key's identity in the records.
inline std::string public_key_sha256(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key, &der);
    if (n <= 0) return {};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const bool ok = EVP_Digest(der, static_cast<std::size_t>(n), digest, &len, EVP_sha256(), nullptr) == 1;
    OPENSSL_free(der);
    return ok ? hex(digest, len) : std::string();
}

}  // namespace pvfleet::enrollment::detail
