#include "pvfleet/enrollment/lifecycle.hpp"

#include <openssl/pem.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "openssl_util.hpp"
#include "pvfleet/enrollment/csr.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::enrollment {
namespace {

std::string revocation_json(const CertificateRecord& c, const std::string& note) {
    nlohmann::json j = {{"site_id", c.site_id},
                        {"serial", c.serial},
                        {"not_after", format_iso8601(c.not_after)},
                        {"revoked_at", c.revoked_at ? nlohmann::json(format_iso8601(*c.revoked_at)) : nullptr},
                        {"reason", c.revocation_reason}};
    if (!note.empty()) j["note"] = note;
    return j.dump();
}

Status mark_revoked(storage::Db& db, const std::string& serial, RevocationReason reason, const std::string& actor,
                    TimePoint now) {
    PVF_CHECK(db.run("UPDATE site_certificates SET revoked_at_ms = $1, revoked_by = $2, revocation_reason = $3 "
                     "WHERE serial = $4 AND revoked_at_ms IS NULL",
                     {std::int64_t{to_epoch_ms(now)}, actor, std::string(to_string(reason)), serial}));
    return {};
}

// The base64 text decoded (blanks and line breaks ignored); nullopt when it is not base64.
std::optional<std::string> base64_decode(std::string_view text) {
    std::string clean;
    for (const char c : text)
        if (c != '\n' && c != '\r' && c != ' ') clean.push_back(c);
    if (clean.empty() || clean.size() % 4 != 0 || clean.size() > 4096) return std::nullopt;
    std::string out(clean.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
    if (n < 0) return std::nullopt;
    std::size_t len = static_cast<std::size_t>(n);
    if (clean.ends_with("==")) len -= 2;
    else if (clean.ends_with("=")) len -= 1;
    out.resize(len);
    return out;
}

// Whether `signature` over `message` verifies with the certificate's key (SHA-256; pure for Ed25519).
bool signed_by_certificate_key(std::string_view certificate_pem, std::string_view message, const std::string& signature) {
    auto bio = detail::memory_bio(certificate_pem);
    detail::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    EVP_PKEY* key = cert ? X509_get0_pubkey(cert.get()) : nullptr;
    if (key == nullptr) return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const bool pure = EVP_PKEY_is_a(key, "ED25519");
    const bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, pure ? nullptr : EVP_sha256(), nullptr, key) == 1 &&
                    EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    ERR_clear_error();
    return ok;
}

// The site's unrevoked certificates linked to `c` by renewed_from, both ways (c itself left out).
Result<std::vector<std::string>> renewal_lineage(storage::Db& db, const CertificateRecord& c) {
    PVF_TRY(auto all, list_certificates(db, c.site_id));
    std::vector<std::string> linked{c.serial};
    std::vector<std::string> out;
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& other : all) {
            if (std::find(linked.begin(), linked.end(), other.serial) != linked.end()) continue;
            const bool child = other.renewed_from &&
                               std::find(linked.begin(), linked.end(), *other.renewed_from) != linked.end();
            const bool parent = std::any_of(all.begin(), all.end(), [&](const CertificateRecord& x) {
                return x.renewed_from == other.serial &&
                       std::find(linked.begin(), linked.end(), x.serial) != linked.end();
            });
            if (!child && !parent) continue;
            linked.push_back(other.serial);
            if (!other.revoked_at) out.push_back(other.serial);
            grew = true;
        }
    }
    return out;
}

struct RenewRefused {
    Refusal reason = Refusal::none;
    std::string detail;
    Error fail(Refusal r, std::string d) {
        reason = r;
        detail = std::move(d);
        return Error{detail, ErrorKind::rejected};
    }
};

// The current certificate's checks, inside the renewal's transaction.
Result<CertificateRecord> check_current(storage::Db& db, const IssuingCa& ca, const RenewRequest& request,
                                        TimePoint now, RenewRefused& refused) {
    auto verified = ca.verify_issued(request.certificate_pem);
    if (!verified) return refused.fail(Refusal::unknown_certificate, "the certificate was not issued by this fleet");
    PVF_TRY(auto record, get_certificate(db, verified->serial));
    if (!record || record->site_id != verified->common_name)
        return refused.fail(Refusal::unknown_certificate,
                            "certificate " + verified->serial + " is not on record: enroll with a new code");
    if (record->revoked_at)
        return refused.fail(Refusal::revoked_certificate, "certificate " + record->serial + " was revoked at " +
                                                              format_iso8601(*record->revoked_at) +
                                                              ": enroll with a new code from the back office");
    if (now >= record->not_after)
        return refused.fail(Refusal::expired_certificate, "certificate " + record->serial + " expired at " +
                                                              format_iso8601(record->not_after) +
                                                              ": enroll with a new code from the back office");
    PVF_TRY(auto site, records::get_site(db, record->site_id));
    if (!site) return refused.fail(Refusal::unknown_certificate, "site " + record->site_id + " no longer exists");
    return *record;
}

}  // namespace

std::string_view to_string(RevocationReason r) {
    switch (r) {
        case RevocationReason::stolen: return "stolen";
        case RevocationReason::replaced: return "replaced";
        case RevocationReason::decommissioned: return "decommissioned";
        case RevocationReason::compromised: return "compromised";
        case RevocationReason::other: return "other";
    }
    return "other";
}

std::optional<RevocationReason> parse_revocation_reason(std::string_view text) {
    for (auto r : {RevocationReason::stolen, RevocationReason::replaced, RevocationReason::decommissioned,
                   RevocationReason::compromised, RevocationReason::other})
        if (to_string(r) == text) return r;
    return std::nullopt;
}

int crl_reason_code(RevocationReason r) {
    switch (r) {
        case RevocationReason::stolen:
        case RevocationReason::compromised: return 1;  // keyCompromise
        case RevocationReason::replaced: return 4;     // superseded
        case RevocationReason::decommissioned: return 5;  // cessationOfOperation
        case RevocationReason::other: return 0;
    }
    return 0;
}

Result<CertificateRecord> revoke_certificate(storage::Db& db, const std::string& site_id, const std::string& serial,
                                             RevocationReason reason, const std::string& note,
                                             const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<CertificateRecord> {
        PVF_TRY(auto found, get_certificate(db, serial));
        if (!found || found->site_id != site_id)
            return Error{"site " + site_id + " has no certificate " + serial, ErrorKind::not_found, "serial"};
        if (found->revoked_at) return *found;
        PVF_CHECK(mark_revoked(db, serial, reason, actor, now));
        // The same gateway's renewals, before and after this one, go with it: a stolen gateway that renewed
        // holds both keys.
        PVF_TRY(auto lineage, renewal_lineage(db, *found));
        for (const auto& other : lineage) {
            PVF_CHECK(mark_revoked(db, other, reason, actor, now));
            const nlohmann::json a = {{"site_id", site_id}, {"serial", other}, {"reason", to_string(reason)},
                                      {"with", serial}};
            PVF_CHECK(storage::append_audit(db, now, actor, "revoke", "site_certificate", other, std::nullopt,
                                            a.dump()));
        }
        CertificateRecord after = *found;
        after.revoked_at = now;
        after.revoked_by = actor;
        after.revocation_reason = std::string(to_string(reason));
        PVF_CHECK(storage::append_audit(db, now, actor, "revoke", "site_certificate", serial,
                                        revocation_json(*found, ""), revocation_json(after, note)));
        return after;
    });
}

Result<std::vector<CrlEntry>> crl_entries(storage::Db& db, TimePoint now) {
    PVF_TRY(auto r, db.run("SELECT serial, revoked_at_ms, revocation_reason FROM site_certificates "
                           "WHERE revoked_at_ms IS NOT NULL AND not_after_ms > $1 ORDER BY serial",
                           {std::int64_t{to_epoch_ms(now)}}));
    std::vector<CrlEntry> out;
    for (const auto& row : r.rows) {
        const auto reason = parse_revocation_reason(row.opt_text(2).value_or("other"));
        out.push_back({row.text(0), from_epoch_ms(row.integer(1)),
                       crl_reason_code(reason.value_or(RevocationReason::other))});
    }
    return out;
}

EnrollOutcome renew(storage::Db& db, const IssuingCa& ca, const Settings& settings, const RenewRequest& request,
                    TimePoint now) {
    EnrollOutcome out;
    RenewRefused refused;
    std::string code_id = "-";
    auto csr = check_csr(request.csr_pem);
    const auto signature = base64_decode(request.signature);
    if (!csr) {
        refused.fail(Refusal::bad_csr, csr.error().message);
    } else if (!signature || !signed_by_certificate_key(request.certificate_pem, request.csr_pem, *signature)) {
        refused.fail(Refusal::bad_signature,
                     "the CSR is not signed with the current certificate's key (signature: base64 of a SHA-256 "
                     "signature over the CSR's PEM text)");
    }
    if (refused.reason == Refusal::none) {
        auto done = storage::in_transaction(db, [&]() -> Status {
            PVF_TRY(auto current, check_current(db, ca, request, now, refused));
            code_id = current.serial;
            if (current.public_key_sha256 == csr->public_key_sha256)
                return refused.fail(Refusal::same_key, "the CSR is over the current key: make a new key to renew");
            auto cert = ca.sign(request.csr_pem, current.site_id, settings.certificate_lifetime, now);
            if (!cert) return refused.fail(Refusal::internal, "the certificate could not be signed");
            CertificateRecord record = record_of(*cert, current.site_id, now, std::nullopt);
            record.renewed_from = current.serial;
            PVF_CHECK(detail::insert_certificate(db, record, cert->pem));
            const nlohmann::json audit = {{"serial", cert->serial},
                                          {"renewed_from", current.serial},
                                          {"not_after", format_iso8601(cert->not_after)},
                                          {"key", csr->key_type},
                                          {"address", request.client_address}};
            PVF_CHECK(storage::append_audit(db, now, "renew:" + current.site_id, "renew", "site", current.site_id,
                                            std::nullopt, audit.dump()));
            out.enrollment = Enrollment{current.site_id, *cert, ca.chain_pem(), settings.broker_uri, {}, {},
                                        current.serial};
            return {};
        });
        if (!done && refused.reason == Refusal::none) {
            PVF_LOG(error, "enroll", "renewal failed: " << done.error().message);
            refused.fail(Refusal::internal, "the server could not complete the renewal; try again");
        }
    }
    if (refused.reason != Refusal::none) {
        const nlohmann::json after = {
            {"reason", to_string(refused.reason)}, {"detail", refused.detail}, {"address", request.client_address}};
        if (auto a = storage::append_audit(db, now, "renew:" + request.client_address, "renew refused",
                                           "site_certificate", code_id, std::nullopt, after.dump());
            !a)
            PVF_LOG(warn, "enroll", "refused renewal not audited: " << a.error().message);
        out.refusal = refused.reason;
        out.detail = refused.detail;
        out.enrollment = {};
    }
    return out;
}

namespace detail {

Result<std::vector<std::string>> revoke_replaced(storage::Db& db, const std::string& site_id,
                                                 const std::string& keep, const std::string& actor, TimePoint now) {
    PVF_TRY(auto r, db.run("SELECT serial FROM site_certificates WHERE site_id = $1 AND serial <> $2 AND "
                           "revoked_at_ms IS NULL AND not_after_ms > $3 ORDER BY serial",
                           {site_id, keep, std::int64_t{to_epoch_ms(now)}}));
    std::vector<std::string> serials;
    for (const auto& row : r.rows) serials.push_back(row.text(0));
    for (const auto& serial : serials) {
        PVF_CHECK(mark_revoked(db, serial, RevocationReason::replaced, actor, now));
        const nlohmann::json after = {{"site_id", site_id}, {"serial", serial}, {"reason", "replaced"},
                                      {"replaced_by", keep}};
        PVF_CHECK(storage::append_audit(db, now, actor, "revoke", "site_certificate", serial, std::nullopt,
                                        after.dump()));
    }
    return serials;
}

}  // namespace detail
}  // namespace pvfleet::enrollment
