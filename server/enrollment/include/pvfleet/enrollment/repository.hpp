#pragma once
// Enrollment codes and the certificates issued to gateways, over storage::Db. Tables: enrollment_codes (the
// SHA-256 of each code, never the code; its site and the site's customer when it was made; who made it; expiry;
// when and from where it was used, or when it was revoked) and site_certificates (serial, site, public key,
// validity, the code it was issued for; the revocation columns are for the certificate lifecycle to come).
// Every write is audited (storage::append_audit). Each call that writes is one transaction.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/enrollment/issuing_ca.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

enum class CodeState { active, used, expired, revoked };
std::string_view to_string(CodeState s);

struct CodeRecord {
    std::int64_t id = 0;
    std::string hint;  // the code's last group
    std::string site_id;
    std::optional<std::int64_t> customer_id;  // the site's customer when the code was made
    TimePoint created_at{};
    std::string created_by;
    TimePoint expires_at{};
    std::optional<TimePoint> used_at;
    std::string used_from;  // the client address that used it
    std::optional<TimePoint> revoked_at;
    std::string revoked_by;
    std::optional<std::string> certificate_serial;  // issued with it
};

// Revoked wins over used, used over expired.
CodeState state_of(const CodeRecord& code, TimePoint now);

struct NewCode {
    CodeRecord record;
    std::string code;  // canonical; handed out once, never stored
};

// A new code for an existing site (ErrorKind::not_found otherwise), valid for `ttl` from `now`.
Result<NewCode> create_code(storage::Db& db, const std::string& site_id, std::chrono::seconds ttl,
                            const std::string& actor, TimePoint now);
// The site's codes, newest first (at most 200).
Result<std::vector<CodeRecord>> list_codes(storage::Db& db, const std::string& site_id);
Result<std::optional<CodeRecord>> get_code(storage::Db& db, std::int64_t id);
// Revokes an unused code (ErrorKind::not_found; ErrorKind::conflict when it was used). Revoking a revoked code
// changes nothing.
Result<CodeRecord> revoke_code(storage::Db& db, std::int64_t id, const std::string& actor, TimePoint now);

struct CertificateRecord {
    std::string serial, site_id, subject, public_key_sha256;
    TimePoint not_before{}, not_after{}, issued_at{};
    std::optional<std::int64_t> enrollment_code_id;
    std::optional<std::string> renewed_from;  // the serial this certificate renewed
    std::optional<TimePoint> revoked_at;
    std::string revoked_by, revocation_reason;
};
// The record of a certificate just signed for `site_id`.
CertificateRecord record_of(const IssuedCertificate& cert, const std::string& site_id, TimePoint issued_at,
                            std::optional<std::int64_t> enrollment_code_id);
// The site's certificates, newest first.
Result<std::vector<CertificateRecord>> list_certificates(storage::Db& db, const std::string& site_id);
Result<std::optional<CertificateRecord>> get_certificate(storage::Db& db, const std::string& serial);

namespace detail {
// Inside the caller's transaction: the code row by its hash, for update.
Result<std::optional<CodeRecord>> code_by_hash(storage::Db& db, const std::string& hash);
// Marks the code used; false when it was used or revoked meanwhile.
Result<bool> mark_used(storage::Db& db, std::int64_t id, const std::string& address, TimePoint now);
Status insert_certificate(storage::Db& db, const CertificateRecord& c, const std::string& pem);
}  // namespace detail

}  // namespace pvfleet::enrollment
