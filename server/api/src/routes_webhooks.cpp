// Outbound webhooks (docs/webhooks.md), admins only: subscriptions to the event catalogue, their delivery
// log, a test ping and the retry of a failed delivery. The secret is taken (or made and shown) once, never
// returned.
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/webhooks/webhooks.hpp"

namespace pvfleet::api::detail {
namespace {

namespace wh = webhooks;

const std::vector<std::string> kWebhookRoles{"admin"};

json webhook_json(const wh::Webhook& w) {
    json last = nullptr;
    if (w.last_state)
        last = {{"state", wh::to_string(*w.last_state)},
                {"attempted_at", time_json(w.last_attempt_at)},
                {"http_status", opt_json(w.last_status)}};
    return {{"id", w.id},
            {"url", w.url},
            {"events", w.events},
            {"enabled", w.enabled},
            {"disabled_reason", w.disabled_reason},
            {"failing_since", time_json(w.failing_since)},
            {"version", w.version},
            {"created_by", w.created_by},
            {"created_at", format_iso8601(w.created_at)},
            {"updated_at", format_iso8601(w.updated_at)},
            {"last_delivery", last}};
}

json delivery_json(const wh::Delivery& d) {
    json attempts = json::array();
    for (const auto& a : d.log)
        attempts.push_back({{"at", format_iso8601(a.at)},
                            {"http_status", opt_json(a.http_status)},
                            {"error", a.error},
                            {"duration_ms", a.duration.count()},
                            {"response_excerpt", a.response_excerpt}});
    return {{"id", d.id},
            {"webhook_id", d.webhook_id},
            {"event_id", opt_json(d.event_id)},
            {"event", d.event_name},
            {"state", wh::to_string(d.state)},
            {"attempts", d.attempts},
            {"next_attempt_at", time_json(d.next_attempt_at)},
            {"created_at", format_iso8601(d.created_at)},
            {"finished_at", time_json(d.finished_at)},
            {"body", d.body},
            {"log", attempts}};
}

// A refusal about a member (a URL the policy refuses too) is the client's 400 naming it; a full or stale
// state is a 409.
Response webhook_refusal(const Error& e) {
    if (!e.path.empty()) return bad_request(e);
    if (e.kind == ErrorKind::conflict) return problem(409, "Conflict", e.message);
    return from_error(e);
}

std::optional<std::int64_t> webhook_id_param(const Request& req) {
    auto id = parse_number<std::int64_t>(req.params.at("id"));
    if (!id || *id < 1) return std::nullopt;
    return id;
}

// events: an array of strings (each checked against the catalogue by the module).
Checked<> read_webhook_events(const json& body, std::optional<std::vector<std::string>>& out) {
    const auto it = body.find("events");
    if (it == body.end()) return {};
    if (!it->is_array()) return bad_request(Error::at("events", "expected an array of event names"));
    if (it->size() > 64) return bad_request(Error::at("events", "at most 64 items"));
    std::vector<std::string> names;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& v = (*it)[i];
        if (!v.is_string() || v.get_ref<const std::string&>().size() > 64)
            return bad_request(Error::at("events/" + std::to_string(i), "expected an event name"));
        names.push_back(v.get<std::string>());
    }
    out = std::move(names);
    return {};
}

Response create_webhook_route(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"url", "secret", "events"}, b); !p) return p.refusal();
    wh::NewWebhook in;
    std::optional<std::string> secret;
    BodyReader read(b);
    read.text("url", in.url, 4096, true).nullable_text("secret", secret, 1024);
    if (auto s = read.status(); !s) return s.refusal();
    std::optional<std::vector<std::string>> events;
    if (auto s = read_webhook_events(b, events); !s) return s.refusal();
    if (!events) return bad_request(Error::at("events", "required"));
    in.secret = secret;
    in.events = std::move(*events);
    auto made =
        wh::create_webhook(*ctx.db, *ctx.cipher, ctx.webhook_settings, in, req.user, ctx.clock->now());
    if (!made) return webhook_refusal(made.error());
    json out = webhook_json(made->webhook);
    // Made by the server: shown this once.
    if (!made->generated_secret.empty()) out["secret"] = made->generated_secret;
    return versioned_response(201, out, made->webhook.version);
}

Response patch_webhook_route(ApiContext& ctx, Request& req) {
    const auto id = webhook_id_param(req);
    if (!id) return problem(404, "Not Found", "no webhook " + req.params.at("id"));
    json b;
    if (auto p = parse_body(req, {"url", "secret", "events", "enabled"}, b); !p) return p.refusal();
    wh::WebhookChange change;
    BodyReader read(b);
    std::string url, secret;
    read.text("url", url, 4096).text("secret", secret, 1024);
    if (b.contains("enabled") && !b["enabled"].is_boolean()) read.fail("enabled", "expected true or false");
    if (auto s = read.status(); !s) return s.refusal();
    if (auto s = read_webhook_events(b, change.events); !s) return s.refusal();
    if (b.contains("url")) change.url = url;
    if (b.contains("secret")) change.secret = secret;
    if (b.contains("enabled")) change.enabled = b["enabled"].get<bool>();
    return patch_versioned(
        req,
        [&]() -> Checked<wh::Webhook> {
            auto w = wh::get_webhook(*ctx.db, *id);
            if (!w) return from_error(w.error());
            if (!*w) return problem(404, "Not Found", "no webhook " + std::to_string(*id));
            return **w;
        },
        [&](const wh::Webhook& current) -> Result<wh::Webhook> {
            auto saved = wh::update_webhook(*ctx.db, *ctx.cipher, ctx.webhook_settings, *id, current.version,
                                            change, req.user, ctx.clock->now());
            // A member's refusal is the client's 400 whatever the version: named by its path.
            if (!saved && !saved.error().path.empty())
                return Error{saved.error().message, ErrorKind::invalid, saved.error().path};
            return saved;
        },
        webhook_json);
}

}  // namespace

void add_webhook_routes(Router& router, ApiContext& ctx) {
    router.add("POST", "/api/webhooks",
               {"Create a webhook (the secret is never returned)", kWebhookRoles, "webhooks"},
               [&ctx](Request& req) { return create_webhook_route(ctx, req); });
    router.add("GET", "/api/webhooks",
               {"The webhooks with their last delivery, and the event catalogue", kWebhookRoles, "webhooks"},
               [&ctx](Request&) {
                   auto list = wh::list_webhooks(*ctx.db);
                   if (!list) return from_error(list.error());
                   json items = json::array();
                   for (const auto& w : *list) items.push_back(webhook_json(w));
                   json catalogue = json::array();
                   for (auto name : wh::event_catalogue()) catalogue.push_back(name);
                   return json_response(200, {{"items", items},
                                              {"catalogue", catalogue},
                                              {"max_webhooks", ctx.webhook_settings.limits.max_webhooks}});
               });
    router.add("GET", "/api/webhooks/{id}", {"A webhook", kWebhookRoles, "webhooks"}, [&ctx](Request& req) {
        const auto id = webhook_id_param(req);
        const auto none = problem(404, "Not Found", "no webhook " + req.params.at("id"));
        if (!id) return none;
        auto w = wh::get_webhook(*ctx.db, *id);
        if (!w) return from_error(w.error());
        if (!*w) return none;
        return versioned_response(200, webhook_json(**w), (*w)->version);
    });
    router.add("PATCH", "/api/webhooks/{id}",
               {"Change a webhook's URL, events, secret or enabled (If-Match)", kWebhookRoles, "webhooks"},
               [&ctx](Request& req) { return patch_webhook_route(ctx, req); });
    router.add("DELETE", "/api/webhooks/{id}",
               {"Delete a webhook with its delivery log", kWebhookRoles, "webhooks"}, [&ctx](Request& req) {
                   const auto id = webhook_id_param(req);
                   if (!id) return problem(404, "Not Found", "no webhook " + req.params.at("id"));
                   if (auto s = wh::delete_webhook(*ctx.db, *id, req.user, ctx.clock->now()); !s)
                       return from_error(s.error());
                   Response r;
                   r.status = 204;
                   return r;
               });
    router.add(
        "GET", "/api/webhooks/{id}/deliveries",
        {"A webhook's deliveries with every attempt, newest first (?before=ID&limit=N)", kWebhookRoles,
         "webhooks"},
        [&ctx](Request& req) {
            const auto id = webhook_id_param(req);
            if (!id) return problem(404, "Not Found", "no webhook " + req.params.at("id"));
            long long before = 0, limit = 50;
            if (auto p = query_int(req, "before", 0, std::numeric_limits<std::int64_t>::max(), before); !p)
                return p.refusal();
            if (auto p = query_int(req, "limit", 1, 200, limit); !p) return p.refusal();
            auto w = wh::get_webhook(*ctx.db, *id);
            if (!w) return from_error(w.error());
            if (!*w) return problem(404, "Not Found", "no webhook " + std::to_string(*id));
            auto list = wh::list_deliveries(*ctx.db, *id, before, static_cast<int>(limit));
            if (!list) return from_error(list.error());
            json items = json::array();
            for (const auto& d : *list) items.push_back(delivery_json(d));
            const bool more = static_cast<long long>(list->size()) == limit;
            return json_response(
                200, {{"items", items}, {"next_before", more ? json(list->back().id) : json(nullptr)}});
        });
    router.add("POST", "/api/webhooks/{id}/test",
               {"Send a webhook.test ping to this webhook only", kWebhookRoles, "webhooks"},
               [&ctx](Request& req) {
                   const auto id = webhook_id_param(req);
                   if (!id) return problem(404, "Not Found", "no webhook " + req.params.at("id"));
                   auto d = wh::enqueue_test(*ctx.db, *id, req.user, ctx.clock->now());
                   if (!d) return webhook_refusal(d.error());
                   if (ctx.wake_webhook_sender) ctx.wake_webhook_sender();
                   return json_response(202, delivery_json(*d));
               });
    router.add("POST", "/api/webhooks/deliveries/{id}/retry",
               {"Send a failed or cancelled delivery again", kWebhookRoles, "webhooks"},
               [&ctx](Request& req) {
                   const auto id = webhook_id_param(req);
                   if (!id) return problem(404, "Not Found", "no delivery " + req.params.at("id"));
                   auto d = wh::retry_delivery(*ctx.db, *id, req.user, ctx.clock->now());
                   if (!d) return webhook_refusal(d.error());
                   if (ctx.wake_webhook_sender) ctx.wake_webhook_sender();
                   return json_response(202, delivery_json(*d));
               });
}

}  // namespace pvfleet::api::detail
