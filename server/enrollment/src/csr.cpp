#include "pvfleet/enrollment/csr.hpp"

#include <openssl/pem.h>

#include "openssl_util.hpp"

namespace pvfleet::enrollment {
namespace {

using namespace detail;

// The accepted key types, named; an Error at "csr" for any other.
Result<std::string> key_type_of(EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[80] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
            ERR_clear_error();
            return Error::at("csr", "EC key without a named curve (expected P-256)");
        }
        const std::string name(group, len);
        if (name != "prime256v1" && name != "P-256")
            return Error::at("csr", "EC key on curve " + name + " (expected P-256)");
        return std::string("EC P-256");
    }
    if (EVP_PKEY_is_a(key, "ED25519")) return std::string("Ed25519");
    if (EVP_PKEY_is_a(key, "RSA")) {
        const int bits = EVP_PKEY_get_bits(key);
        if (bits < 2048) return Error::at("csr", "RSA key of " + std::to_string(bits) + " bits (at least 2048)");
        if (bits > 8192) return Error::at("csr", "RSA key of " + std::to_string(bits) + " bits (at most 8192)");
        return "RSA " + std::to_string(bits);
    }
    const char* type = EVP_PKEY_get0_type_name(key);
    return Error::at("csr", std::string("key type ") + (type != nullptr ? type : "unknown") +
                                " (expected EC P-256, Ed25519 or RSA of at least 2048 bits)");
}

}  // namespace

Result<CsrInfo> check_csr(std::string_view pem) {
    if (pem.size() > kMaxCsrBytes)
        return Error::at("csr", "larger than " + std::to_string(kMaxCsrBytes) + " bytes");
    if (pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string_view::npos)
        return Error::at("csr", "not a PEM certificate signing request (no BEGIN CERTIFICATE REQUEST line)");
    auto bio = memory_bio(pem);
    if (!bio) return Error::at("csr", "out of memory");
    ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req) return Error::at("csr", "unreadable PEM certificate signing request (" + openssl_error("bad encoding") + ")");
    EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
    if (key == nullptr) return Error::at("csr", "no public key (" + openssl_error("unreadable key") + ")");
    PVF_TRY(auto type, key_type_of(key));
    if (X509_REQ_verify(req.get(), key) != 1) {
        ERR_clear_error();
        return Error::at("csr", "its signature does not verify with its own key");
    }
    return CsrInfo{std::move(type), public_key_sha256(key)};
}

}  // namespace pvfleet::enrollment
