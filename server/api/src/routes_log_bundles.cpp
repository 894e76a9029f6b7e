// Remote diagnostics (docs/updates.md, "Remote diagnostics"): the back office asks a site's gateway for a log
// bundle (sent as a log_bundle command), lists the site's bundles and downloads one; the gateway uploads to
// the link its command carried — a public route authorised by that link alone, whose body the transport
// bounded to the link's size limit (and spooled to disk when large). Without a `diagnostics` section these
// answer 503.
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "offload.hpp"
#include "pvfleet/diagnostics/log_bundles.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::api::detail {
namespace {

namespace diag = diagnostics;

json bundle_json(const diag::LogBundle& b) {
    return {{"id", b.id},
            {"site_id", b.site_id},
            {"state", diag::to_string(b.state)},
            {"hours", b.hours},
            {"max_bytes", b.max_bytes},
            {"size", opt_json(b.size)},
            {"detail", b.detail},
            {"requested_by", b.requested_by},
            {"requested_at", format_iso8601(b.requested_at)},
            {"expires_at", format_iso8601(b.expires_at)},
            {"received_at", time_json(b.received_at)}};
}

Response diagnostics_off() {
    return problem(503, "Service Unavailable", "this server has no diagnostics section in its config");
}

boost::asio::awaitable<Response> ask_for_bundle(ApiContext& ctx, Request& req) {
    if (!ctx.diagnostics) co_return diagnostics_off();
    json b = json::object();
    if (!req.body.empty())
        if (auto p = parse_body(req, {"hours", "max_bytes"}, b); !p) co_return p.refusal();
    std::int64_t hours = 24, max_bytes = protocol::LogBundleCommand::kDefaultBytes;
    BodyReader read(b);
    read.integer("hours", hours, protocol::LogBundleCommand::kMinHours, protocol::LogBundleCommand::kMaxHours)
        .integer("max_bytes", max_bytes, protocol::LogBundleCommand::kMinBytes,
                 protocol::LogBundleCommand::kMaxBytes);
    if (auto s = read.status(); !s) co_return s.refusal();
    if (!ctx.send_command)
        co_return problem(503, "Service Unavailable", "this server has no MQTT link to the gateways");
    const std::string site = req.params.at("site_id");
    auto made = diag::request_bundle(*ctx.db, *ctx.diagnostics, site, static_cast<std::uint32_t>(hours),
                                     static_cast<std::uint64_t>(max_bytes), req.user, ctx.clock->now());
    if (!made) co_return from_error(made.error());
    // Handing the command to ingest's thread may wait for its group commit: a worker's wait, not this
    // thread's.
    auto sending = [&ctx, cmd = made->command, user = req.user] { return ctx.send_command(cmd, user); };
    auto sent = co_await offload(ctx, std::move(sending));
    const Status outcome = !sent ? Status(sent.error()) : *sent;
    if (!outcome) {
        (void)diag::mark_unsent(*ctx.db, made->bundle.id, outcome.error().message);
        co_return !sent ? busy(sent.error()) : from_error(outcome.error());
    }
    PVF_LOG(info, "diagnostics",
            "log bundle " << made->bundle.id << " of " << site << " (" << hours << " h, " << max_bytes
                          << " bytes) requested by " << req.user);
    co_return json_response(202, bundle_json(made->bundle));
}

Response store_uploaded_bundle(ApiContext& ctx, Request& req) {
    // A missing, wrong or expired link answers 404 like an unknown bundle: the link is the only way in.
    const auto gone = problem(404, "Not Found", "no such log bundle, or the link is not valid (any more)");
    if (!ctx.diagnostics) return gone;  // no bundle was ever asked for
    const std::string id = req.params.at("id");
    const std::string site = req.query_param("site").value_or("");
    if (!diag::upload_link_valid(*ctx.diagnostics, id, site, req.query_param("max").value_or(""),
                                 req.query_param("expires").value_or(""),
                                 req.query_param("token").value_or(""), ctx.clock->now()))
        return gone;
    auto stored =
        diag::store_upload(*ctx.db, *ctx.diagnostics, id, site, req.body_file, req.body, ctx.clock->now());
    if (!stored) {
        const Error& e = stored.error();
        if (e.kind == ErrorKind::not_found) return gone;
        if (e.kind == ErrorKind::conflict) return problem(409, "Conflict", e.message);
        if (e.kind == ErrorKind::rejected) return problem(413, "Content Too Large", e.message);
        PVF_LOG(error, "diagnostics", "log bundle " << id << " of " << site << ": " << e.message);
        return problem(500, "Internal Server Error", "the bundle cannot be stored now");
    }
    PVF_LOG(info, "diagnostics",
            "log bundle " << id << " of " << site << " received: " << *stored->size << " bytes");
    return json_response(201, bundle_json(*stored));
}

Response serve_bundle(ApiContext& ctx, Request& req) {
    if (!ctx.diagnostics) return diagnostics_off();
    const std::string id = req.params.at("id");
    const auto none = problem(404, "Not Found", "no received log bundle " + id);
    if (!diag::valid_bundle_id(id)) return none;
    auto found = diag::get_bundle(*ctx.db, id, ctx.clock->now());
    if (!found) return from_error(found.error());
    if (!*found || (*found)->state != diag::BundleState::received) return none;
    const auto& b = **found;
    if (auto s = storage::append_audit(*ctx.db, ctx.clock->now(), req.user, "log bundle downloaded",
                                       "log_bundle", b.id, std::nullopt, std::nullopt);
        !s)
        return from_error(s.error());
    Response out;
    out.content_type = "application/json";
    // The name is made here from the stored site id (a-z, 0-9, -) and time; nothing of the request is in it.
    out.headers["Content-Disposition"] = "attachment; filename=\"" + diag::download_name(b) + "\"";
    out.headers["Cache-Control"] = "private, no-store";
    out.file = http::FileSlice{diag::file_of(ctx.diagnostics->settings, b).string(), 0, b.size.value_or(0)};
    return out;
}

}  // namespace

void add_log_bundle_routes(Router& router, ApiContext& ctx) {
    router.add_async(
        "POST", "/api/sites/{site_id}/log-bundles",
        {"Ask the site's gateway for a log bundle (journal and state summary)", kOfficeRoles, "diagnostics"},
        [&ctx](Request& req) { return ask_for_bundle(ctx, req); });
    router.add("GET", "/api/sites/{site_id}/log-bundles",
               {"The site's log bundles, newest first; enabled: whether this server can ask for one", kOfficeRoles,
                "diagnostics"},
               [&ctx](Request& req) {
                   // Listed without the diagnostics section too (the table is always there): the site page asks
                   // on every visit and must not meet an error where the feature is simply not set up.
                   auto list = diag::list_bundles(*ctx.db, req.params.at("site_id"), ctx.clock->now());
                   if (!list) return from_error(list.error());
                   json items = json::array();
                   for (const auto& b : *list) items.push_back(bundle_json(b));
                   return json_response(200, {{"items", items}, {"enabled", ctx.diagnostics != nullptr}});
               });
    router.add("GET", "/api/log-bundles/{id}",
               {"Download a received log bundle", kOfficeRoles, "diagnostics"},
               [&ctx](Request& req) { return serve_bundle(ctx, req); });
    for (const char* method : {"PUT", "POST"}) {
        router.add(method, "/api/log-bundles/{id}/upload",
                   {"A gateway uploads its log bundle (link with an expiring token)", {}, "diagnostics"},
                   [&ctx](Request& req) { return store_uploaded_bundle(ctx, req); });
    }
}

}  // namespace pvfleet::api::detail
