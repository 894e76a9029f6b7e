#pragma once
// Keys, CSRs and CAs made in-process with OpenSSL, for the enrollment tests (unit and API bodies).
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::test_pki {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, PkeyFree>;

Key ec_key(const char* curve = "P-256");
Key rsa_key(unsigned bits);
Key ed25519_key();
std::string private_pem(EVP_PKEY* key);

// A CSR over `key`, signed by it (SHA-256; Ed25519 without a digest).
std::string csr(EVP_PKEY* key, const std::string& cn = "pvfleet-gateway");
// A CSR that carries `shown`'s public key but is signed by `signer`: its signature does not verify.
std::string csr_with_wrong_signature(EVP_PKEY* signer, EVP_PKEY* shown);

// The base64 signature of `text` with `key` (SHA-256): a renewing gateway's proof of its current key.
std::string sign_base64(EVP_PKEY* key, const std::string& text);

struct Ca {
    std::string cert_pem, key_pem;
};
// A self-signed CA (EC P-256) valid from `from` for `days`; `is_ca` false makes an end-entity certificate.
Ca make_ca(TimePoint from, int days, bool is_ca = true);

}  // namespace pvfleet::test_pki
