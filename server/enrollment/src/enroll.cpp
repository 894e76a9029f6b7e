#include "pvfleet/enrollment/enroll.hpp"

#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/enrollment/csr.hpp"
#include "pvfleet/enrollment/lifecycle.hpp"
#include "pvfleet/enrollment/repository.hpp"
#include "pvfleet/storage/fleet_queries.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::enrollment {
namespace {

// A refusal decided inside the transaction: the error rolls it back, `refusal` says which.
struct Refused {
    Refusal reason = Refusal::none;
    std::string detail;
    std::string code_id = "-";
    Error fail(Refusal r, std::string d) {
        reason = r;
        detail = std::move(d);
        return Error{detail, ErrorKind::rejected};
    }
};

// The checks of the code row; an Error (with `refused` set) when it may not be used.
Status check_code(const std::optional<CodeRecord>& code, const records::Site* site, TimePoint now, Refused& refused) {
    if (!code) return refused.fail(Refusal::unknown_code, "no such enrollment code: check it with the back office");
    refused.code_id = std::to_string(code->id);
    switch (state_of(*code, now)) {
        case CodeState::revoked:
            return refused.fail(Refusal::revoked_code, "this enrollment code was revoked by the back office");
        case CodeState::used:
            return refused.fail(Refusal::used_code,
                                "this enrollment code was used at " + format_iso8601(*code->used_at) +
                                    ": ask the back office for a new one");
        case CodeState::expired:
            return refused.fail(Refusal::expired_code, "this enrollment code expired at " +
                                                           format_iso8601(code->expires_at) +
                                                           ": ask the back office for a new one");
        case CodeState::active: break;
    }
    if (site == nullptr || site->customer_id != code->customer_id)
        return refused.fail(Refusal::site_changed,
                            "site " + code->site_id +
                                " was removed or moved to another customer after this code was made: ask the back "
                                "office for a new one");
    return {};
}

}  // namespace

std::string_view to_string(Refusal r) {
    switch (r) {
        case Refusal::none: return "none";
        case Refusal::malformed_code: return "malformed_code";
        case Refusal::bad_csr: return "bad_csr";
        case Refusal::unknown_code: return "unknown_code";
        case Refusal::expired_code: return "expired_code";
        case Refusal::used_code: return "used_code";
        case Refusal::revoked_code: return "revoked_code";
        case Refusal::site_changed: return "site_changed";
        case Refusal::rate_limited: return "rate_limited";
        case Refusal::too_large: return "too_large";
        case Refusal::not_configured: return "not_configured";
        case Refusal::internal: return "internal";
        case Refusal::unknown_certificate: return "unknown_certificate";
        case Refusal::revoked_certificate: return "revoked_certificate";
        case Refusal::expired_certificate: return "expired_certificate";
        case Refusal::bad_signature: return "bad_signature";
        case Refusal::same_key: return "same_key";
    }
    return "unknown";
}

nlohmann::json initial_site_config(const records::Site& site, TimePoint now) {
    nlohmann::ordered_json j;
    j["format"] = 1;
    j["site_id"] = site.site_id;
    j["config_version"] = "enrolled-" + format_iso8601(now).substr(0, 10);
    if (site.latitude && site.longitude) {
        j["latitude"] = *site.latitude;
        j["longitude"] = *site.longitude;
    }
    j["time_zone"] = site.time_zone;
    return nlohmann::json::parse(j.dump());
}

Status audit_refusal(storage::Db& db, Refusal reason, const std::string& detail, const std::string& address,
                     const std::string& code_id, TimePoint now) {
    const nlohmann::json after = {{"reason", to_string(reason)}, {"detail", detail}, {"address", address}};
    return storage::append_audit(db, now, "enroll:" + address, "enroll refused", "enrollment_code", code_id,
                                 std::nullopt, after.dump());
}

EnrollOutcome enroll(storage::Db& db, const IssuingCa& ca, const Settings& settings, const EnrollRequest& request,
                     TimePoint now) {
    EnrollOutcome out;
    Refused refused;
    auto code = normalize_code(request.code);
    if (!code) refused.fail(Refusal::malformed_code, code.error().message);
    std::optional<CsrInfo> csr;
    if (code) {
        auto checked = check_csr(request.csr_pem);
        if (!checked)
            refused.fail(Refusal::bad_csr, checked.error().message);
        else
            csr = *checked;
    }
    if (refused.reason == Refusal::none) {
        auto done = storage::in_transaction(db, [&]() -> Status {
            PVF_TRY(auto row, detail::code_by_hash(db, code_hash(*code)));
            std::optional<records::Site> site;
            if (row) {
                PVF_TRY(site, records::get_site(db, row->site_id));
            }
            PVF_CHECK(check_code(row, site ? &*site : nullptr, now, refused));
            auto cert = ca.sign(request.csr_pem, row->site_id, settings.certificate_lifetime, now);
            if (!cert) return refused.fail(Refusal::internal, "the certificate could not be signed");
            PVF_TRY(const bool marked, detail::mark_used(db, row->id, request.client_address, now));
            if (!marked) return refused.fail(Refusal::used_code, "this enrollment code was used meanwhile");
            const CertificateRecord record = record_of(*cert, row->site_id, now, row->id);
            PVF_CHECK(detail::insert_certificate(db, record, cert->pem));
            // A new gateway for the site (replacement): the earlier gateways' certificates are revoked with it.
            PVF_TRY(auto replaced, detail::revoke_replaced(db, row->site_id, cert->serial,
                                                           "enroll:" + request.client_address, now));
            // The new gateway numbers its messages from 1: the site's sequence starts over (its history stays).
            if (!replaced.empty()) PVF_CHECK(storage::restart_site_sequence(db, row->site_id));
            const nlohmann::json audit = {{"serial", cert->serial},
                                          {"not_after", format_iso8601(cert->not_after)},
                                          {"code_id", row->id},
                                          {"key", csr->key_type},
                                          {"address", request.client_address},
                                          {"replaced", replaced}};
            PVF_CHECK(storage::append_audit(db, now, "enroll:" + request.client_address, "enroll", "site",
                                            row->site_id, std::nullopt, audit.dump()));
            out.enrollment = Enrollment{row->site_id, *cert, ca.chain_pem(), settings.broker_uri,
                                        initial_site_config(*site, now), replaced, {}};
            return {};
        });
        if (!done && refused.reason == Refusal::none) {
            PVF_LOG(error, "enroll", "enrollment failed: " << done.error().message);
            refused.fail(Refusal::internal, "the server could not complete the enrollment; try again");
        }
    }
    if (refused.reason != Refusal::none) {
        if (auto a = audit_refusal(db, refused.reason, refused.detail, request.client_address, refused.code_id, now);
            !a)
            PVF_LOG(warn, "enroll", "refused enrollment not audited: " << a.error().message);
        out.refusal = refused.reason;
        out.detail = refused.detail;
        out.enrollment = {};
    }
    return out;
}

}  // namespace pvfleet::enrollment
