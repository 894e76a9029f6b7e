#pragma once
// The check of a gateway's certificate signing request before anything is signed: one PEM "CERTIFICATE REQUEST"
// block of at most kMaxCsrBytes, a key of an accepted type — EC P-256, Ed25519, or RSA of 2048 to 8192 bits —
// and a signature that verifies with that key (the gateway holds the private key). The subject and the extensions
// it asks for are ignored: the server decides the certificate's name (the site id) and its use (clientAuth).
#include <cstddef>
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

inline constexpr std::size_t kMaxCsrBytes = 8192;

struct CsrInfo {
    std::string key_type;           // "EC P-256", "Ed25519", "RSA 3072"
    std::string public_key_sha256;  // hex, of the DER SubjectPublicKeyInfo
};

// Every refusal is an Error at "csr" saying why ("csr: RSA key of 1024 bits (at least 2048)").
Result<CsrInfo> check_csr(std::string_view pem);

}  // namespace pvfleet::enrollment
