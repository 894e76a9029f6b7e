#pragma once
// TLS for the HTTP server: a certificate, its private key and optional intermediate certificates from PEM files,
// loaded into an OpenSSL server context that speaks TLS 1.2 and 1.3 only (docs/security.md, "TLS").
//
// TLS 1.2 is limited to ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305): forward secrecy, no
// CBC, no RSA key transport. TLS 1.3 keeps OpenSSL's suites. Compression and renegotiation are off. The key must
// match the certificate; errors name the config key of the file at fault ("http/tls/key_file: …").
#include <memory>
#include <string>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace boost::asio::ssl {
class context;
}

namespace pvfleet::http {

struct TlsFiles {
    std::string cert_file;   // PEM: the server certificate, optionally followed by intermediates
    std::string key_file;    // PEM private key, not encrypted (it is read at start and on reload, unattended)
    std::string chain_file;  // optional PEM intermediates, sent after the certificate
    std::string config_key = "http/tls";  // errors name config_key + "/cert_file", "/key_file", "/chain_file"
};

// A loaded context; connections keep the one they were accepted with, so a reload never touches them.
struct TlsContext {
    std::shared_ptr<boost::asio::ssl::context> context;
    std::string subject;     // of the server certificate, e.g. "CN=pv.example.com"
    std::string serial;      // hex
    TimePoint not_after{};   // end of the certificate's validity
    // "CN=pv.example.com, serial 1A2B, valid until 2027-12-01T00:00:00.000Z" (for the log).
    [[nodiscard]] std::string describe() const;
};

// Reads and checks the files; every failure is an Error naming the key and the file.
Result<TlsContext> load_tls_context(const TlsFiles& files);

// The TLS 1.2 cipher list (OpenSSL names) the server context offers.
extern const char* const kTls12Ciphers;

}  // namespace pvfleet::http
