#pragma once
// The certificate lifecycle of enrolled gateways (docs/fleet-enrollment.md, "Certificate lifecycle"):
// revocation by the back office (a gateway stolen, replaced or taken out of service), the automatic revocation
// of a site's earlier certificates when a new gateway enrolls for it (replacement), the entries of the CRL the
// broker reads, and renewal: a gateway proves it holds the key of its current, unrevoked, unexpired certificate
// by signing its new CSR with it, and gets a new certificate for the same site that names the one it renews.
// Every write is audited, each call that writes is one transaction.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/enrollment/enroll.hpp"
#include "pvfleet/enrollment/issuing_ca.hpp"
#include "pvfleet/enrollment/repository.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

// Why a certificate was revoked; the name is stored and shown, the CRL carries the RFC 5280 reason code.
enum class RevocationReason { stolen, replaced, decommissioned, compromised, other };
std::string_view to_string(RevocationReason r);
std::optional<RevocationReason> parse_revocation_reason(std::string_view text);
int crl_reason_code(RevocationReason r);  // stolen, compromised: 1 keyCompromise; replaced: 4 superseded; …

// Revokes the site's certificate `serial` (ErrorKind::not_found when the site has no such certificate).
// Revoking a revoked certificate changes nothing and returns it as it is. `note` goes to the audit entry.
Result<CertificateRecord> revoke_certificate(storage::Db& db, const std::string& site_id, const std::string& serial,
                                             RevocationReason reason, const std::string& note,
                                             const std::string& actor, TimePoint now);

// Every revoked certificate that has not expired (an expired one is refused anyway), for the CRL.
Result<std::vector<CrlEntry>> crl_entries(storage::Db& db, TimePoint now);

struct RenewRequest {
    std::string certificate_pem;  // the gateway's current certificate
    std::string csr_pem;          // over its new key
    std::string signature;        // base64: the current key's signature (SHA-256) over the CSR's PEM text
    std::string client_address;
};

// The renewal of one gateway's certificate (POST /api/renew). Refusals: bad_csr, unknown_certificate (not ours,
// not on record, or its site gone), revoked_certificate, expired_certificate, bad_signature, same_key; each
// audited (action "renew refused"). A success records the new certificate with renewed_from = the old serial
// and audits "renew"; the old certificate stays valid until it expires (the gateway switches when it reconnects).
EnrollOutcome renew(storage::Db& db, const IssuingCa& ca, const Settings& settings, const RenewRequest& request,
                    TimePoint now);

namespace detail {
// Inside the caller's transaction: revokes the site's valid certificates other than `keep` (reason replaced),
// audited with `actor`; returns their serials.
Result<std::vector<std::string>> revoke_replaced(storage::Db& db, const std::string& site_id,
                                                 const std::string& keep, const std::string& actor, TimePoint now);
}  // namespace detail

}  // namespace pvfleet::enrollment
