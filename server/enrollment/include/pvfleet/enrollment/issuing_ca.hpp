#pragma once
// The fleet's online issuing CA (docs/fleet-enrollment.md, "CA keys"): its certificate and unencrypted key from
// PEM files named in the server config, checked when the server starts — the key matches the certificate, the
// certificate is a CA allowed to sign certificates and valid now —, and the chain up to the offline root that
// gateways receive. It signs gateway client certificates: CN = the site id (O = pvfleet), a 128-bit random
// serial, clientAuth only, not a CA, valid from five minutes ago for the configured lifetime but never beyond
// the CA's own end.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

struct CaFiles {
    std::string cert_file;   // PEM: the issuing CA's certificate
    std::string key_file;    // PEM: its private key, not encrypted (read unattended at start)
    std::string chain_file;  // optional PEM: the certificates above it, up to the root
    std::string config_key = "enrollment";  // errors name config_key + "/ca_cert_file" etc.
};

struct IssuedCertificate {
    std::string pem;
    std::string serial;  // upper-case hex, as openssl prints it
    std::string subject;  // "CN=site-1,O=pvfleet" (RFC 2253: the last RDN first)
    std::string public_key_sha256;
    TimePoint not_before{}, not_after{};
};

// One revoked certificate in a CRL: its serial (upper-case hex), when it was revoked and the RFC 5280 reason
// code (0 unspecified, 1 keyCompromise, 4 superseded, 5 cessationOfOperation).
struct CrlEntry {
    std::string serial;
    TimePoint revoked_at{};
    int reason_code = 0;
};

class IssuingCa {
public:
    static Result<std::shared_ptr<const IssuingCa>> load(const CaFiles& files, TimePoint now);
    // The same from PEM texts (tests, and load itself); an error's path is "key" when the key is at fault.
    static Result<std::shared_ptr<const IssuingCa>> from_pem(std::string_view cert_pem, std::string_view key_pem,
                                                             std::string chain_pem, TimePoint now);
    ~IssuingCa();
    IssuingCa(const IssuingCa&) = delete;
    IssuingCa& operator=(const IssuingCa&) = delete;

    // Signs a certificate for `site_id` over the CSR's key; the CSR must have passed check_csr.
    Result<IssuedCertificate> sign(std::string_view csr_pem, const std::string& site_id,
                                   std::chrono::seconds lifetime, TimePoint now) const;
    // A CRL (v2, PEM) signed by this CA: the entries, thisUpdate = now, nextUpdate = now + validity (never
    // beyond the CA's own end), a CRL number (`number`, increasing) and the authority key identifier.
    Result<std::string> sign_crl(const std::vector<CrlEntry>& entries, TimePoint now, std::chrono::seconds validity,
                                 std::int64_t number) const;
    // Whether `certificate_pem` was signed by this CA (its signature verifies with the CA's key and it names the
    // CA as issuer); the certificate's serial and CN when so.
    struct Verified {
        std::string serial, common_name;
        TimePoint not_before{}, not_after{};
    };
    Result<Verified> verify_issued(std::string_view certificate_pem) const;
    // The issuing CA's certificate followed by the chain file: what a gateway trusts (the broker's certificate
    // is issued under the same root).
    [[nodiscard]] const std::string& chain_pem() const;
    [[nodiscard]] std::string subject() const;
    [[nodiscard]] TimePoint not_after() const;

    struct Impl;

private:
    explicit IssuingCa(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pvfleet::enrollment
