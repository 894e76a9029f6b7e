// Enrollment of gateways (docs/fleet-enrollment.md): the back office's enrollment codes (create, list, revoke;
// admin and back office only) and the site's issued certificates, and the public POST /api/enroll, limited per
// client address and globally, its body bounded, every refusal audited with its reason.
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/enrollment/crl.hpp"
#include "pvfleet/enrollment/csr.hpp"
#include "pvfleet/enrollment/lifecycle.hpp"
#include "pvfleet/enrollment/qr.hpp"
#include "pvfleet/enrollment/repository.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::api::detail {
namespace {

namespace en = enrollment;

// The body of POST /api/enroll is a code and a CSR: a few kB at most.
constexpr std::size_t kMaxEnrollBody = 16 * 1024;

json code_json(const en::CodeRecord& c, TimePoint now) {
    return {{"id", c.id},
            {"site_id", c.site_id},
            {"customer_id", c.customer_id ? json(*c.customer_id) : json(nullptr)},
            {"hint", c.hint},
            {"state", en::to_string(en::state_of(c, now))},
            {"created_at", format_iso8601(c.created_at)},
            {"created_by", c.created_by},
            {"expires_at", format_iso8601(c.expires_at)},
            {"used_at", time_json(c.used_at)},
            {"used_from", c.used_at ? json(c.used_from) : json(nullptr)},
            {"revoked_at", time_json(c.revoked_at)},
            {"certificate_serial", c.certificate_serial ? json(*c.certificate_serial) : json(nullptr)}};
}

json certificate_json(const en::CertificateRecord& c) {
    return {{"serial", c.serial},
            {"site_id", c.site_id},
            {"subject", c.subject},
            {"public_key_sha256", c.public_key_sha256},
            {"not_before", format_iso8601(c.not_before)},
            {"not_after", format_iso8601(c.not_after)},
            {"issued_at", format_iso8601(c.issued_at)},
            {"enrollment_code_id", c.enrollment_code_id ? json(*c.enrollment_code_id) : json(nullptr)},
            {"renewed_from", c.renewed_from ? json(*c.renewed_from) : json(nullptr)},
            {"revoked_at", time_json(c.revoked_at)},
            {"revoked_by", c.revoked_at ? json(c.revoked_by) : json(nullptr)},
            {"revocation_reason", c.revoked_at ? json(c.revocation_reason) : json(nullptr)}};
}

// After a revocation: the CRL the broker reads is written again (a failure is logged; the revocation stands and
// the next write — at the next revocation or the periodic refresh — carries it).
void publish_crl(ApiContext& ctx, TimePoint now) {
    if (!ctx.crl) return;
    if (auto s = ctx.crl->publish(*ctx.db, now); !s)
        PVF_LOG(error, "enroll", "the CRL could not be written: " << s.error().message);
}

int status_of(en::Refusal r) {
    switch (r) {
        case en::Refusal::malformed_code:
        case en::Refusal::bad_csr: return 400;
        case en::Refusal::unknown_code:
        case en::Refusal::unknown_certificate:
        case en::Refusal::revoked_certificate:
        case en::Refusal::expired_certificate:
        case en::Refusal::bad_signature: return 403;
        case en::Refusal::same_key: return 400;
        case en::Refusal::used_code:
        case en::Refusal::site_changed: return 409;
        case en::Refusal::expired_code:
        case en::Refusal::revoked_code: return 410;
        case en::Refusal::too_large: return 413;
        case en::Refusal::rate_limited: return 429;
        case en::Refusal::not_configured: return 503;
        default: return 500;
    }
}

const char* title_of(int status) {
    switch (status) {
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 413: return "Content Too Large";
        case 429: return "Too Many Requests";
        case 503: return "Service Unavailable";
        default: return "Internal Server Error";
    }
}

// A problem+json with the refusal's `reason` beside the usual members.
Response refusal(en::Refusal reason, const std::string& detail) {
    const int status = status_of(reason);
    std::string field;
    if (reason == en::Refusal::malformed_code) field = "code";
    if (reason == en::Refusal::bad_csr || reason == en::Refusal::same_key) field = "csr";
    if (reason == en::Refusal::bad_signature) field = "signature";
    if (reason == en::Refusal::unknown_certificate) field = "certificate";
    Response r = problem(status, title_of(status), detail, field);
    json body = json::parse(r.body);
    body["reason"] = en::to_string(reason);
    r.body = body.dump();
    return r;
}

Response refuse_and_audit(ApiContext& ctx, const Request& req, en::Refusal reason, const std::string& detail) {
    if (auto a = en::audit_refusal(*ctx.db, reason, detail, req.remote, "-", ctx.clock->now()); !a)
        PVF_LOG(warn, "enroll", "refused enrollment not audited: " << a.error().message);
    return refusal(reason, detail);
}

Response enroll(ApiContext& ctx, en::RateLimiter& limiter, Request& req) {
    const TimePoint now = ctx.clock->now();
    const auto admitted = limiter.admit(address_key(req.remote), now);
    if (!admitted.allowed) {
        const std::string detail = "too many enrollment attempts; try again in " +
                                   std::to_string(admitted.retry_after.count()) + " s";
        Response r = admitted.first_refusal ? refuse_and_audit(ctx, req, en::Refusal::rate_limited, detail)
                                            : refusal(en::Refusal::rate_limited, detail);
        r.headers.emplace("Retry-After", std::to_string(admitted.retry_after.count()));
        return r;
    }
    if (req.body.size() > kMaxEnrollBody)
        return refuse_and_audit(ctx, req, en::Refusal::too_large,
                                "body larger than " + std::to_string(kMaxEnrollBody) + " bytes");
    if (!ctx.issuing_ca)
        return refuse_and_audit(ctx, req, en::Refusal::not_configured,
                                "this server does not enroll gateways (no enrollment section in its config)");
    json b;
    if (auto p = parse_body(req, {"code", "csr"}, b); !p) {
        const json problem_body = json::parse(p.refusal().body, nullptr, false);
        const std::string detail = problem_body.is_object() ? problem_body.value("detail", "bad body") : "bad body";
        (void)en::audit_refusal(*ctx.db, en::Refusal::malformed_code, detail, req.remote, "-", now);
        return p.refusal();
    }
    en::EnrollRequest request;
    request.client_address = req.remote;
    BodyReader read(b);
    read.text("code", request.code, 64, true).text("csr", request.csr_pem, en::kMaxCsrBytes, true);
    if (auto s = read.status(); !s) {
        const json problem_body = json::parse(s.refusal().body, nullptr, false);
        (void)en::audit_refusal(*ctx.db, en::Refusal::malformed_code,
                                problem_body.is_object() ? problem_body.value("detail", "bad body") : "bad body",
                                req.remote, "-", now);
        return s.refusal();
    }
    const auto outcome = en::enroll(*ctx.db, *ctx.issuing_ca, ctx.enrollment, request, now);
    if (!outcome.ok()) return refusal(outcome.refusal, outcome.detail);
    const auto& e = outcome.enrollment;
    if (!e.replaced_serials.empty()) {
        PVF_LOG(info, "enroll", "site " << e.site_id << ": " << e.replaced_serials.size()
                                        << " certificate(s) of the replaced gateway revoked");
        publish_crl(ctx, now);
    }
    PVF_LOG(info, "enroll",
            "site " << e.site_id << " enrolled from " << req.remote << ": certificate " << e.certificate.serial
                    << " until " << format_iso8601(e.certificate.not_after));
    return json_response(201, {{"site_id", e.site_id},
                               {"certificate", e.certificate.pem},
                               {"serial", e.certificate.serial},
                               {"not_after", format_iso8601(e.certificate.not_after)},
                               {"ca_chain", e.ca_chain_pem},
                               {"broker_uri", e.broker_uri},
                               {"config", e.config}});
}

// POST /api/renew: the gateway's current certificate, a CSR over a new key and the current key's signature over
// the CSR. Limited like POST /api/enroll (same limiter), every refusal audited.
Response renew(ApiContext& ctx, en::RateLimiter& limiter, Request& req) {
    const TimePoint now = ctx.clock->now();
    const auto admitted = limiter.admit(address_key(req.remote), now);
    if (!admitted.allowed) {
        Response r = refusal(en::Refusal::rate_limited, "too many attempts; try again in " +
                                                            std::to_string(admitted.retry_after.count()) + " s");
        r.headers.emplace("Retry-After", std::to_string(admitted.retry_after.count()));
        return r;
    }
    if (req.body.size() > kMaxEnrollBody)
        return refusal(en::Refusal::too_large, "body larger than " + std::to_string(kMaxEnrollBody) + " bytes");
    if (!ctx.issuing_ca)
        return refusal(en::Refusal::not_configured,
                       "this server does not renew certificates (no enrollment section in its config)");
    json b;
    if (auto p = parse_body(req, {"certificate", "csr", "signature"}, b); !p) return p.refusal();
    en::RenewRequest request;
    request.client_address = req.remote;
    BodyReader read(b);
    read.text("certificate", request.certificate_pem, 8192, true)
        .text("csr", request.csr_pem, en::kMaxCsrBytes, true)
        .text("signature", request.signature, 2048, true);
    if (auto s = read.status(); !s) return s.refusal();
    const auto outcome = en::renew(*ctx.db, *ctx.issuing_ca, ctx.enrollment, request, now);
    if (!outcome.ok()) return refusal(outcome.refusal, outcome.detail);
    const auto& e = outcome.enrollment;
    PVF_LOG(info, "enroll", "site " << e.site_id << " renewed certificate " << e.renewed_from << " as "
                                    << e.certificate.serial << " until " << format_iso8601(e.certificate.not_after));
    return json_response(201, {{"site_id", e.site_id},
                               {"certificate", e.certificate.pem},
                               {"serial", e.certificate.serial},
                               {"not_after", format_iso8601(e.certificate.not_after)},
                               {"renewed_from", e.renewed_from},
                               {"ca_chain", e.ca_chain_pem}});
}

Response revoke_certificate(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"reason", "note"}, b); !p) return p.refusal();
    std::string reason_text;
    std::string note;
    BodyReader read(b);
    read.text("reason", reason_text, 32, true).text("note", note, 500);
    if (auto s = read.status(); !s) return s.refusal();
    const auto reason = en::parse_revocation_reason(reason_text);
    if (!reason)
        return problem(400, "Bad Request",
                       "reason: '" + reason_text + "' is not one of stolen, replaced, decommissioned, compromised, other",
                       "reason");
    const TimePoint now = ctx.clock->now();
    auto revoked = en::revoke_certificate(*ctx.db, req.params.at("site_id"), req.params.at("serial"), *reason, note,
                                          req.user, now);
    if (!revoked) {
        if (revoked.error().kind == ErrorKind::not_found) return problem(404, "Not Found", revoked.error().message);
        return from_error(revoked.error());
    }
    PVF_LOG(info, "enroll", "certificate " << revoked->serial << " of site " << revoked->site_id << " revoked by "
                                           << req.user << " (" << revoked->revocation_reason << ")");
    publish_crl(ctx, now);
    return json_response(200, certificate_json(*revoked));
}

Response create_code(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"site_id", "ttl"}, b); !p) return p.refusal();
    std::string site_id;
    std::string ttl_text;
    BodyReader read(b);
    read.text("site_id", site_id, 64, true).text("ttl", ttl_text, 16);
    if (auto s = read.status(); !s) return s.refusal();
    std::chrono::seconds ttl = ctx.enrollment.code_ttl_default;
    if (!ttl_text.empty()) {
        auto parsed = en::parse_ttl(ttl_text, ctx.enrollment.code_ttl_max);
        if (!parsed) return bad_request(parsed.error());
        ttl = *parsed;
    }
    const TimePoint now = ctx.clock->now();
    auto made = en::create_code(*ctx.db, site_id, ttl, req.user, now);
    if (!made) {
        if (made.error().kind == ErrorKind::not_found)
            return problem(404, "Not Found", made.error().message, "site_id");
        return from_error(made.error());
    }
    json j = code_json(made->record, now);
    j["code"] = en::display_code(made->code);
    // The installer's phone reads the code from the screen (the code as shown: QR alphanumeric mode).
    auto qr = en::qr_svg(en::display_code(made->code));
    j["qr_svg"] = qr ? json(*qr) : json(nullptr);
    return json_response(201, j);
}

}  // namespace

void add_enrollment_routes(Router& router, ApiContext& ctx) {
    if (!ctx.enroll_limiter) ctx.enroll_limiter = std::make_shared<en::RateLimiter>(ctx.enroll_limits);
    router.add("POST", "/api/enroll",
               {"Enroll a gateway: an enrollment code and a CSR in, its client certificate, CA chain, broker and "
                "initial site config out (public; limited per address)",
                {},
                "enrollment"},
               [&ctx, limiter = ctx.enroll_limiter](Request& req) { return enroll(ctx, *limiter, req); });
    router.add("POST", "/api/renew",
               {"Renew a gateway's certificate: the current certificate, a CSR over a new key and the current key's "
                "signature over the CSR in, a new certificate for the same site out (public; the signature "
                "authenticates; limited per address)",
                {},
                "enrollment"},
               [&ctx, limiter = ctx.enroll_limiter](Request& req) { return renew(ctx, *limiter, req); });
    router.add("POST", "/api/sites/{site_id}/certificates/{serial}/revoke",
               {"Revoke a gateway's certificate (stolen, replaced, …): the broker refuses it once the CRL is read, "
                "and it can no longer renew",
                kOfficeRoles, "enrollment"},
               [&ctx](Request& req) { return revoke_certificate(ctx, req); });
    router.add("POST", "/api/enrollment-codes",
               {"Create a one-time enrollment code for a site (shown once)", kOfficeRoles, "enrollment"},
               [&ctx](Request& req) { return create_code(ctx, req); });
    router.add("GET", "/api/sites/{site_id}/enrollment-codes",
               {"The site's enrollment codes (never the codes themselves)", kOfficeRoles, "enrollment"},
               [&ctx](Request& req) {
                   auto codes = en::list_codes(*ctx.db, req.params.at("site_id"));
                   if (!codes) return from_error(codes.error());
                   const TimePoint now = ctx.clock->now();
                   json items = json::array();
                   for (const auto& c : *codes) items.push_back(code_json(c, now));
                   return json_response(200, {{"items", items}, {"next_cursor", nullptr}});
               });
    router.add("DELETE", "/api/enrollment-codes/{id}", {"Revoke an unused enrollment code", kOfficeRoles, "enrollment"},
               [&ctx](Request& req) {
                   const auto id = parse_number<std::int64_t>(req.params.at("id"));
                   if (!id) return problem(404, "Not Found", "no enrollment code " + req.params.at("id"));
                   auto revoked = en::revoke_code(*ctx.db, *id, req.user, ctx.clock->now());
                   if (!revoked) {
                       if (revoked.error().kind == ErrorKind::conflict)
                           return problem(409, "Conflict", revoked.error().message);
                       return from_error(revoked.error());
                   }
                   return json_response(200, code_json(*revoked, ctx.clock->now()));
               });
    router.add("GET", "/api/sites/{site_id}/certificates",
               {"Client certificates issued to the site's gateways", kOfficeRoles, "enrollment"}, [&ctx](Request& req) {
                   auto certs = en::list_certificates(*ctx.db, req.params.at("site_id"));
                   if (!certs) return from_error(certs.error());
                   json items = json::array();
                   for (const auto& c : *certs) items.push_back(certificate_json(c));
                   return json_response(200, {{"items", items}, {"next_cursor", nullptr}});
               });
}

}  // namespace pvfleet::api::detail
