// POST /api/public/leads: the company's website and campaign forms hand in inquiries, from their own server (the
// channel key must never reach a browser). No session: a per-channel key (X-Pvfleet-Channel-Key, made by an
// admin, stored as its SHA-256) names the channel; limited per client address and per channel; the body is
// bounded; every refusal is written to the audit log (reason, address, channel; never the body). The answer is
// the same whether the person was new or known, so a form cannot be used to find out who is a customer.
#include "common.hpp"
#include "pvfleet/leads/repository.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::api::detail {
namespace {

constexpr const char* kChannelKeyHeader = "x-pvfleet-channel-key";

const std::set<std::string> kPublicFields{
    "name",        "phone",       "email",        "address",      "postcode",        "roof_type",
    "monthly_bill", "annual_consumption_kwh",     "desired_kwp",  "budget",          "message",
    "consent_contact", "consent_marketing", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"};

Response refused(ApiContext& ctx, const Request& req, Response r, const std::string& reason,
                 const std::optional<std::int64_t>& channel) {
    if (auto a = leads::audit_refusal(*ctx.db, ctx.clock->now(), reason, req.remote, channel); !a)
        PVF_LOG(warn, "api", "public lead refusal not audited: " << a.error().message);
    return r;
}

Response too_many(std::chrono::seconds wait) {
    Response r = problem(429, "Too Many Requests", "too many inquiries; try again in " + std::to_string(wait.count()) + " s");
    r.headers.emplace("Retry-After", std::to_string(wait.count()));
    return r;
}

// The form's fields; a 400 problem naming the member otherwise.
Checked<> public_lead_from(const json& b, leads::Lead& l, std::string& message) {
    BodyReader read(b);
    read.text("name", l.name, 1000, true)
        .text("phone", l.phone, 1000)
        .text("email", l.email, 1000)
        .text("address", l.address, 1000)
        .text("postcode", l.postcode, 64)
        .nullable_number("monthly_bill", l.monthly_bill)
        .nullable_number("annual_consumption_kwh", l.annual_consumption_kwh)
        .nullable_number("desired_kwp", l.desired_kwp)
        .nullable_number("budget", l.budget)
        .text("message", message, 10'000)
        .text("utm_source", l.utm.source, 1000)
        .text("utm_medium", l.utm.medium, 1000)
        .text("utm_campaign", l.utm.campaign, 1000)
        .text("utm_term", l.utm.term, 1000)
        .text("utm_content", l.utm.content, 1000);
    if (auto s = read.status(); !s) return s;
    for (const char* key : {"consent_contact", "consent_marketing"}) {
        const auto it = b.find(key);
        if (it != b.end() && !it->is_boolean())
            return problem(400, "Bad Request", std::string(key) + ": expected true or false", key);
    }
    if (const auto it = b.find("roof_type"); it != b.end()) {
        const auto v = it->is_string() ? enum_from_name(leads::kRoofNames, it->get<std::string>()) : std::nullopt;
        if (!v)
            return problem(400, "Bad Request",
                           "roof_type: expected one of " + enum_names_list(leads::kRoofNames), "roof_type");
        l.roof_type = *v;
    }
    l.consent_contact = b.value("consent_contact", false);
    l.consent_marketing = b.value("consent_marketing", false);
    // Without consent to be contacted about it, an inquiry cannot be followed up: it is not taken.
    if (!l.consent_contact)
        return problem(400, "Bad Request", "consent_contact: must be true (the person agrees to be contacted)",
                       "consent_contact");
    return {};
}

Response post_public_lead(ApiContext& ctx, Request& req) {
    const TimePoint now = ctx.clock->now();
    const auto& limits = ctx.lead_settings.public_capture;
    if (req.body.size() > limits.max_body_bytes)
        return refused(ctx, req,
                       problem(413, "Content Too Large",
                               "the body exceeds " + std::to_string(limits.max_body_bytes) + " bytes"),
                       "too_large", std::nullopt);
    if (auto wait = ctx.lead_address_limiter->take(req.remote, now))
        return refused(ctx, req, too_many(*wait), "rate_limited_address", std::nullopt);
    const auto key = req.header(kChannelKeyHeader);
    if (!key || key->empty())
        return refused(ctx, req,
                       problem(401, "Unauthorized", "send the channel's key as X-Pvfleet-Channel-Key"), "no_key",
                       std::nullopt);
    auto channel = leads::channel_for_key(*ctx.db, *key);
    if (!channel) return from_error(channel.error());
    if (!*channel)
        return refused(ctx, req, problem(401, "Unauthorized", "unknown or disabled channel key"), "unknown_key",
                       std::nullopt);
    const std::int64_t channel_id = (*channel)->id;
    if (auto wait = ctx.lead_channel_limiter->take("channel " + std::to_string(channel_id), now))
        return refused(ctx, req, too_many(*wait), "rate_limited_channel", channel_id);
    json b;
    if (auto p = parse_body(req, kPublicFields, b); !p) return refused(ctx, req, p.refusal(), "bad_body", channel_id);
    leads::Lead l;
    std::string message;
    if (auto p = public_lead_from(b, l, message); !p) return refused(ctx, req, p.refusal(), "bad_body", channel_id);
    l.source = (*channel)->source;
    l.channel_id = channel_id;
    l.region = (*channel)->region;
    auto c = leads::capture(*ctx.db, *ctx.cipher, l, message, ctx.lead_settings, std::nullopt, "channel:" + (*channel)->name, now);
    if (!c) {
        if (c.error().kind == ErrorKind::invalid)
            return refused(ctx, req, bad_request(c.error()), "invalid_field", channel_id);
        return from_error(c.error());
    }
    return json_response(202, {{"received", true}});
}

}  // namespace

void add_public_lead_route(Router& router, ApiContext& ctx) {
    const auto& limits = ctx.lead_settings.public_capture;
    if (!ctx.lead_address_limiter)
        ctx.lead_address_limiter = std::make_shared<leads::RateLimiter>(limits.per_address_per_minute);
    if (!ctx.lead_channel_limiter)
        ctx.lead_channel_limiter = std::make_shared<leads::RateLimiter>(limits.per_channel_per_minute);
    router.add("POST", "/api/public/leads",
               {"An inquiry from the company's website or a campaign form (channel key; no session)", {}, "leads"},
               [&ctx](Request& req) { return post_public_lead(ctx, req); });
}

}  // namespace pvfleet::api::detail
