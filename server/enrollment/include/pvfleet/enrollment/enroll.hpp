#pragma once
// The enrollment of one gateway (POST /api/enroll, docs/fleet-enrollment.md): the code is read (typo-tolerant,
// check symbol), the CSR checked, then in one transaction the code is looked up by its hash and must be unused,
// unrevoked and unexpired, its site must still belong to the customer it was made for, the issuing CA signs the
// certificate, the code is marked used and the certificate recorded; the success and every refusal, with its
// reason, go to the audit log.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/enrollment/issuing_ca.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::enrollment {

struct Settings {
    std::string broker_uri;  // handed to the gateway, e.g. ssl://broker.example.net:8883
    std::chrono::seconds certificate_lifetime = std::chrono::hours(24 * 365);
    std::chrono::seconds code_ttl_default = std::chrono::hours(72);
    std::chrono::seconds code_ttl_max = std::chrono::hours(24 * 30);
};

// Why an enrollment was refused; the names are the `reason` of the API's problem and of the audit entry.
enum class Refusal {
    none,
    malformed_code,  // not 16 code symbols, or the check symbol does not match
    bad_csr,         // unreadable, a refused key type or size, a signature that does not verify
    unknown_code,    // no such code
    expired_code,
    used_code,
    revoked_code,
    site_changed,  // the site is gone or belongs to another customer than when the code was made
    rate_limited,
    too_large,
    not_configured,  // the server has no issuing CA
    internal,        // the database or the signature failed
    // Renewal (lifecycle.hpp):
    unknown_certificate,  // not issued by the issuing CA, not on record, or its site is gone
    revoked_certificate,
    expired_certificate,
    bad_signature,  // the CSR is not signed with the current certificate's key
    same_key,       // the new CSR is over the current key: renewal makes a new key
};
std::string_view to_string(Refusal r);

struct EnrollRequest {
    std::string code;  // as typed
    std::string csr_pem;
    std::string client_address;
};

struct Enrollment {
    std::string site_id;
    IssuedCertificate certificate;
    std::string ca_chain_pem;
    std::string broker_uri;
    nlohmann::json config;  // the site's initial config (initial_site_config)
    // The site's earlier certificates this enrollment revoked (a replaced gateway): the CRL must be published.
    std::vector<std::string> replaced_serials;
    std::string renewed_from;  // a renewal: the serial it renews
};

struct EnrollOutcome {
    Refusal refusal = Refusal::none;
    std::string detail;  // for the gateway's installer: what is wrong
    Enrollment enrollment;
    [[nodiscard]] bool ok() const { return refusal == Refusal::none; }
};

EnrollOutcome enroll(storage::Db& db, const IssuingCa& ca, const Settings& settings, const EnrollRequest& request,
                     TimePoint now);

// Appends a refused enrollment to the audit log: actor "enroll:<address>", action "enroll refused", entity
// enrollment_code (its id when known, else "-"), the reason and detail as the entry's after-JSON.
Status audit_refusal(storage::Db& db, Refusal reason, const std::string& detail, const std::string& address,
                     const std::string& code_id, TimePoint now);

// What the gateway starts from: format, site id, a config_version naming the enrollment, the site's position and
// time zone when the back office has them. Devices, endpoints and the broker's files are the gateway's to add.
nlohmann::json initial_site_config(const records::Site& site, TimePoint now);

}  // namespace pvfleet::enrollment
