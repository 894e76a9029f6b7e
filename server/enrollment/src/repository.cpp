#include "pvfleet/enrollment/repository.hpp"

#include <nlohmann/json.hpp>

#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::enrollment {
namespace {

constexpr const char* kCodeColumns =
    "SELECT c.id, c.hint, c.site_id, c.customer_id, c.created_at_ms, c.created_by, c.expires_at_ms, c.used_at_ms, "
    "c.used_from, c.revoked_at_ms, c.revoked_by, "
    "(SELECT MIN(s.serial) FROM site_certificates s WHERE s.enrollment_code_id = c.id) "
    "FROM enrollment_codes c ";

std::optional<TimePoint> opt_time(const storage::Row& r, std::size_t i) {
    if (auto v = r.opt_integer(i)) return from_epoch_ms(*v);
    return std::nullopt;
}

CodeRecord code_of(const storage::Row& r) {
    CodeRecord c;
    c.id = r.integer(0);
    c.hint = r.text(1);
    c.site_id = r.text(2);
    c.customer_id = r.opt_integer(3);
    c.created_at = from_epoch_ms(r.integer(4));
    c.created_by = r.text(5);
    c.expires_at = from_epoch_ms(r.integer(6));
    c.used_at = opt_time(r, 7);
    c.used_from = r.text(8);
    c.revoked_at = opt_time(r, 9);
    c.revoked_by = r.text(10);
    c.certificate_serial = r.opt_text(11);
    return c;
}

std::string audit_json(const CodeRecord& c) {
    nlohmann::json j = {{"site_id", c.site_id},
                        {"hint", c.hint},
                        {"expires_at", format_iso8601(c.expires_at)},
                        {"customer_id", c.customer_id ? nlohmann::json(*c.customer_id) : nlohmann::json(nullptr)}};
    if (c.revoked_at) j["revoked_at"] = format_iso8601(*c.revoked_at);
    return j.dump();
}

}  // namespace

std::string_view to_string(CodeState s) {
    switch (s) {
        case CodeState::active: return "active";
        case CodeState::used: return "used";
        case CodeState::expired: return "expired";
        case CodeState::revoked: return "revoked";
    }
    return "unknown";
}

CodeState state_of(const CodeRecord& code, TimePoint now) {
    if (code.revoked_at) return CodeState::revoked;
    if (code.used_at) return CodeState::used;
    if (now >= code.expires_at) return CodeState::expired;
    return CodeState::active;
}

Result<NewCode> create_code(storage::Db& db, const std::string& site_id, std::chrono::seconds ttl,
                            const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<NewCode> {
        PVF_TRY(auto site, records::get_site(db, site_id));
        if (!site) return Error{"site " + site_id + ": not found", ErrorKind::not_found, "site_id"};
        NewCode out;
        out.code = generate_code();
        CodeRecord& c = out.record;
        c.hint = code_hint(out.code);
        c.site_id = site_id;
        c.customer_id = site->customer_id;
        c.created_at = now;
        c.created_by = actor;
        c.expires_at = now + std::chrono::duration_cast<Millis>(ttl);
        const storage::Value customer =
            c.customer_id ? storage::Value(*c.customer_id) : storage::Value(nullptr);
        PVF_TRY(auto r, db.run("INSERT INTO enrollment_codes (code_hash, hint, site_id, customer_id, created_at_ms, "
                               "created_by, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                               {code_hash(out.code), c.hint, site_id, customer, std::int64_t{to_epoch_ms(now)},
                                actor, std::int64_t{to_epoch_ms(c.expires_at)}}));
        if (r.rows.empty()) return Error{"enrollment code not stored", ErrorKind::io};
        c.id = r.rows[0].integer(0);
        PVF_CHECK(storage::append_audit(db, now, actor, "create", "enrollment_code", std::to_string(c.id),
                                        std::nullopt, audit_json(c)));
        return out;
    });
}

Result<std::vector<CodeRecord>> list_codes(storage::Db& db, const std::string& site_id) {
    PVF_TRY(auto r, db.run(std::string(kCodeColumns) + "WHERE c.site_id = $1 ORDER BY c.id DESC LIMIT 200", {site_id}));
    std::vector<CodeRecord> out;
    for (const auto& row : r.rows) out.push_back(code_of(row));
    return out;
}

Result<std::optional<CodeRecord>> get_code(storage::Db& db, std::int64_t id) {
    PVF_TRY(auto r, db.run(std::string(kCodeColumns) + "WHERE c.id = $1", {id}));
    if (r.rows.empty()) return std::optional<CodeRecord>();
    return std::optional<CodeRecord>(code_of(r.rows[0]));
}

Result<CodeRecord> revoke_code(storage::Db& db, std::int64_t id, const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<CodeRecord> {
        PVF_TRY(auto found, get_code(db, id));
        if (!found) return Error{"enrollment code " + std::to_string(id) + ": not found", ErrorKind::not_found};
        CodeRecord before = *found;
        if (before.revoked_at) return before;
        if (before.used_at)
            return Error{"enrollment code " + std::to_string(id) + " was used at " + format_iso8601(*before.used_at) +
                             ": revoke the certificate instead",
                         ErrorKind::conflict};
        PVF_CHECK(db.run("UPDATE enrollment_codes SET revoked_at_ms = $1, revoked_by = $2 WHERE id = $3",
                         {std::int64_t{to_epoch_ms(now)}, actor, id}));
        CodeRecord after = before;
        after.revoked_at = now;
        after.revoked_by = actor;
        PVF_CHECK(storage::append_audit(db, now, actor, "revoke", "enrollment_code", std::to_string(id),
                                        audit_json(before), audit_json(after)));
        return after;
    });
}

namespace {

constexpr const char* kCertificateColumns =
    "SELECT serial, site_id, subject, public_key_sha256, not_before_ms, not_after_ms, issued_at_ms, "
    "enrollment_code_id, renewed_from, revoked_at_ms, revoked_by, revocation_reason FROM site_certificates ";

CertificateRecord certificate_of(const storage::Row& row) {
    CertificateRecord c;
    c.serial = row.text(0);
    c.site_id = row.text(1);
    c.subject = row.text(2);
    c.public_key_sha256 = row.text(3);
    c.not_before = from_epoch_ms(row.integer(4));
    c.not_after = from_epoch_ms(row.integer(5));
    c.issued_at = from_epoch_ms(row.integer(6));
    c.enrollment_code_id = row.opt_integer(7);
    c.renewed_from = row.opt_text(8);
    c.revoked_at = opt_time(row, 9);
    c.revoked_by = row.opt_text(10).value_or("");
    c.revocation_reason = row.opt_text(11).value_or("");
    return c;
}

}  // namespace

CertificateRecord record_of(const IssuedCertificate& cert, const std::string& site_id, TimePoint issued_at,
                            std::optional<std::int64_t> enrollment_code_id) {
    CertificateRecord c;
    c.serial = cert.serial;
    c.site_id = site_id;
    c.subject = cert.subject;
    c.public_key_sha256 = cert.public_key_sha256;
    c.not_before = cert.not_before;
    c.not_after = cert.not_after;
    c.issued_at = issued_at;
    c.enrollment_code_id = enrollment_code_id;
    return c;
}

Result<std::vector<CertificateRecord>> list_certificates(storage::Db& db, const std::string& site_id) {
    PVF_TRY(auto r, db.run(std::string(kCertificateColumns) +
                               "WHERE site_id = $1 ORDER BY issued_at_ms DESC, serial LIMIT 200",
                           {site_id}));
    std::vector<CertificateRecord> out;
    for (const auto& row : r.rows) out.push_back(certificate_of(row));
    return out;
}

Result<std::optional<CertificateRecord>> get_certificate(storage::Db& db, const std::string& serial) {
    PVF_TRY(auto r, db.run(std::string(kCertificateColumns) + "WHERE serial = $1", {serial}));
    if (r.rows.empty()) return std::optional<CertificateRecord>();
    return std::optional<CertificateRecord>(certificate_of(r.rows[0]));
}

namespace detail {

Result<std::optional<CodeRecord>> code_by_hash(storage::Db& db, const std::string& hash) {
    const std::string lock = db.engine() == storage::Engine::postgres ? " FOR UPDATE OF c" : "";
    PVF_TRY(auto r, db.run(std::string(kCodeColumns) + "WHERE c.code_hash = $1" + lock, {hash}));
    if (r.rows.empty()) return std::optional<CodeRecord>();
    return std::optional<CodeRecord>(code_of(r.rows[0]));
}

Result<bool> mark_used(storage::Db& db, std::int64_t id, const std::string& address, TimePoint now) {
    PVF_TRY(auto r, db.run("UPDATE enrollment_codes SET used_at_ms = $1, used_from = $2 "
                           "WHERE id = $3 AND used_at_ms IS NULL AND revoked_at_ms IS NULL",
                           {std::int64_t{to_epoch_ms(now)}, address, id}));
    return r.affected == 1;
}

Status insert_certificate(storage::Db& db, const CertificateRecord& c, const std::string& pem) {
    const storage::Value code = c.enrollment_code_id ? storage::Value(*c.enrollment_code_id) : storage::Value(nullptr);
    const storage::Value from = c.renewed_from ? storage::Value(*c.renewed_from) : storage::Value(nullptr);
    PVF_CHECK(db.run("INSERT INTO site_certificates (serial, site_id, subject, public_key_sha256, not_before_ms, "
                     "not_after_ms, issued_at_ms, enrollment_code_id, pem, renewed_from) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                     {c.serial, c.site_id, c.subject, c.public_key_sha256, std::int64_t{to_epoch_ms(c.not_before)},
                      std::int64_t{to_epoch_ms(c.not_after)}, std::int64_t{to_epoch_ms(c.issued_at)}, code, pem,
                      from}));
    return {};
}

}  // namespace detail
}  // namespace pvfleet::enrollment
