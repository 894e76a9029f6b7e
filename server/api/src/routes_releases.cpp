// Over-the-air updates (docs/updates.md): releases (upload by admin, list), their download by gateways (a
// link with an expiring HMAC token, byte ranges), rollouts of a version or of a config patch (create, follow,
// pause, resume, cancel) and each site's update settings (channel, architecture). Without a `releases`
// section in the server config these answer 503.
#include <map>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "pvfleet/releases/rollouts.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::api::detail {
namespace {

namespace rel = releases;
constexpr const char* kDebType = "application/vnd.debian.binary-package";

json release_json(const rel::Release& r) {
    return {{"sha256", r.sha256},       {"package", r.package},     {"version", r.version},
            {"architecture", r.architecture}, {"size", r.size},     {"signature", r.signature},
            {"signed_by", r.signed_by}, {"uploaded_at", format_iso8601(r.uploaded_at)},
            {"uploaded_by", r.uploaded_by}};
}

json rollout_json(const rel::Rollout& o) {
    json stages = json::array();
    for (const auto& s : o.spec.stages) stages.push_back(s.percent ? json{{"percent", *s.percent}} : json{{"sites", s.sites}});
    const auto& c = o.counts;
    const bool software = o.spec.kind == rel::RolloutKind::software;
    json out{{"id", o.id},
             {"kind", rel::to_string(o.spec.kind)},
             {"version", o.spec.version},
             {"channel", rel::to_string(o.spec.channel)},
             {"stages", stages},
             {"max_failure_percent", o.spec.max_failure_percent},
             {"max_concurrent", o.spec.max_concurrent},
             {"start_delay_max_s", o.spec.start_delay_max_s},
             {"state", rel::to_string(o.state)},
             {"current_stage", o.current_stage + 1},
             {"pause_reason", o.pause_reason},
             {"created_at", format_iso8601(o.created_at)},
             {"created_by", o.created_by},
             {"counts",
              {{"pending", c.pending},
               {"downloading", c.downloading},
               {"installing", c.installing},
               {"applying", c.applying},
               {"healthy", c.healthy},
               {"applied", c.applied},
               {"rolled_back", c.rolled_back},
               {"failed", c.failed}}}};
    // Software keeps the member its clients know; a config rollout has what it sends instead of a version.
    if (software) {
        out["max_concurrent_downloads"] = o.spec.max_concurrent;
    } else {
        out["patch"] = json::parse(o.spec.patch_json, nullptr, false);
        out["config_version"] = o.spec.config_version;
    }
    return out;
}

json site_update_json(const rel::SiteUpdate& s) {
    return {{"site_id", s.site_id}, {"stage", s.stage + 1}, {"state", rel::to_string(s.state)},
            {"reason", s.reason},   {"command_id", s.command_id.empty() ? json(nullptr) : json(s.command_id)},
            {"not_before", format_iso8601(s.not_before)}, {"architecture", s.architecture},
            {"from_version", s.from_version}, {"updated_at", format_iso8601(s.updated_at)}};
}

Response not_configured() {
    return problem(503, "Service Unavailable", "this server has no releases section in its config");
}

// Runs the engine once after a change, so a new stage's first sites are sent without waiting for the timer.
void tick_now(ApiContext& ctx) {
    if (!ctx.releases) return;
    rel::EngineParts parts{*ctx.db, ctx.releases->settings, ctx.releases->link_key, ctx.send_command,
                           ctx.releases->rng, std::chrono::hours(6)};
    if (auto r = rel::tick(parts, ctx.clock->now()); !r) PVF_LOG(warn, "releases", "rollout step: " << r.error().message);
}

Response upload(ApiContext& ctx, Request& req) {
    if (!ctx.releases) return not_configured();
    const auto& rt = *ctx.releases;
    // A spooled body (req.body_file) was bounded by the transport with the same limit (http_options_of).
    if (req.body.size() > rt.settings.max_upload_bytes)
        return problem(413, "Content Too Large", "a release is at most " + std::to_string(rt.settings.max_upload_bytes) + " bytes");
    const auto sig = req.header("x-release-signature");
    if (!sig) return problem(400, "Bad Request", "the signature (FILE.sig) goes in the X-Release-Signature header", "signature");
    rel::Claimed claimed;
    claimed.version = req.query_param("version");
    claimed.architecture = req.query_param("architecture");
    // The server spools uploads to a file (http.spool_dir); a handler called directly (tests) gets the body.
    auto r = req.body_file.empty()
                 ? rel::add_release(*ctx.db, rt.settings, rt.keys, req.body, *sig, claimed, req.user, ctx.clock->now())
                 : rel::add_release_file(*ctx.db, rt.settings, rt.keys, req.body_file, *sig, claimed, req.user,
                                         ctx.clock->now());
    if (!r) {
        if (r.error().kind == ErrorKind::conflict) return problem(409, "Conflict", r.error().message, "version");
        if (r.error().kind == ErrorKind::rejected) return problem(422, "Unprocessable Content", r.error().message, "signature");
        return from_error(r.error());
    }
    PVF_LOG(info, "releases", r->package << " " << r->version << " " << r->architecture << " stored as " << r->sha256
                                         << " by " << req.user << " (signed by " << r->signed_by << ")");
    return json_response(201, release_json(*r));
}

Response download(ApiContext& ctx, Request& req) {
    // A missing or bad link answers 404 like an unknown release: a link is the only way in.
    const auto gone = problem(404, "Not Found", "no such release, or the link is not valid (any more)");
    if (!ctx.releases) return not_configured();
    const std::string sha = req.params.at("sha256");
    const auto site = req.query_param("site").value_or("");
    if (!rel::link_valid(ctx.releases->link_key, sha, site, req.query_param("expires").value_or(""),
                         req.query_param("token").value_or(""), ctx.clock->now()))
        return gone;
    auto found = rel::get_release(*ctx.db, sha);
    if (!found) return from_error(found.error());
    if (!*found) return gone;
    const auto path = rel::file_of(ctx.releases->settings, **found);
    const auto size = static_cast<std::uint64_t>((*found)->size);
    const std::string etag = "\"" + sha + "\"";
    const auto range = rel::parse_range(req.header("range"), req.header("if-range"), etag, size);
    Response out;
    out.content_type = kDebType;
    out.headers["ETag"] = etag;
    out.headers["Accept-Ranges"] = "bytes";
    out.headers["Cache-Control"] = "private, max-age=3600";
    switch (range.outcome) {
        case rel::RangeOutcome::multiple:
            return problem(416, "Range Not Satisfiable", "one range per request");
        case rel::RangeOutcome::unsatisfiable: {
            Response r = problem(416, "Range Not Satisfiable", "the file has " + std::to_string(size) + " bytes");
            r.headers["Content-Range"] = "bytes */" + std::to_string(size);
            return r;
        }
        case rel::RangeOutcome::partial:
            out.status = 206;
            out.headers["Content-Range"] = "bytes " + std::to_string(range.range.first) + "-" +
                                           std::to_string(range.range.last) + "/" + std::to_string(size);
            out.file = http::FileSlice{path.string(), range.range.first, range.range.last - range.range.first + 1};
            break;
        default:
            out.file = http::FileSlice{path.string(), 0, size};
    }
    PVF_LOG(debug, "releases", "site " << site << " downloads " << sha << " (" << out.file->offset << "+" << out.file->length << ")");
    return out;
}

Checked<rel::Stage> read_stage(const json& j, const std::string& at) {
    if (!j.is_object()) return problem(400, "Bad Request", "a stage is an object", at);
    for (const auto& [k, v] : j.items())
        if (k != "percent" && k != "sites") return problem(400, "Bad Request", "unknown member", at + "/" + k);
    rel::Stage s;
    std::int64_t percent = 0;
    const json* sites = nullptr;
    BodyReader read(j, at + "/");
    if (j.contains("percent")) {
        read.integer("percent", percent, 1, 100);
        s.percent = static_cast<int>(percent);
    }
    read.array("sites", sites, 10000);
    if (auto st = read.status(); !st) return st.refusal();
    if (sites != nullptr)
        for (std::size_t i = 0; i < sites->size(); ++i) {
            if (!(*sites)[i].is_string())
                return problem(400, "Bad Request", "a site id", at + "/sites/" + std::to_string(i));
            s.sites.push_back((*sites)[i].get<std::string>());
        }
    return s;
}

// POST /api/rollouts: `kind` software (default: version, max_concurrent_downloads) or config (patch,
// config_version, max_concurrent); channel, stages, max_failure_percent and start_delay_max_s for both. A
// member of the other kind is refused by name.
Response create(ApiContext& ctx, Request& req) {
    if (!ctx.releases) return not_configured();
    json b;
    if (auto p = parse_body(
            req,
            {"kind", "version", "patch", "config_version", "channel", "stages", "max_failure_percent",
             "max_concurrent_downloads", "max_concurrent", "start_delay_max_s"},
            b);
        !p)
        return p.refusal();
    rel::RolloutSpec spec;
    std::string kind = "software";
    {
        BodyReader read(b);
        read.text("kind", kind, 16);
        if (auto s = read.status(); !s) return s.refusal();
    }
    const auto k = rel::rollout_kind_from(kind);
    if (!k) return problem(400, "Bad Request", "kind: software or config", "kind");
    spec.kind = *k;
    const bool software = spec.kind == rel::RolloutKind::software;
    // The members only one kind takes.
    static const std::map<std::string, rel::RolloutKind> kOwnMembers{
        {"version", rel::RolloutKind::software},
        {"max_concurrent_downloads", rel::RolloutKind::software},
        {"patch", rel::RolloutKind::config},
        {"config_version", rel::RolloutKind::config},
        {"max_concurrent", rel::RolloutKind::config}};
    for (const auto& [member, owner] : kOwnMembers)
        if (owner != spec.kind && b.contains(member))
            return problem(400, "Bad Request", member + ": not a member of a " + kind + " rollout", member);
    std::string channel = "stable";
    std::int64_t fail = spec.max_failure_percent, conc = spec.max_concurrent, delay = spec.start_delay_max_s;
    const json* stages = nullptr;
    BodyReader read(b);
    if (software) {
        read.text("version", spec.version, 64, true).integer("max_concurrent_downloads", conc, 1, 10000);
    } else {
        read.text("config_version", spec.config_version, 64, true).integer("max_concurrent", conc, 1, 10000);
        if (!b.contains("patch")) read.fail("patch", "required");
    }
    read.text("channel", channel, 16)
        .array("stages", stages, 20)
        .integer("max_failure_percent", fail, 0, 100)
        .integer("start_delay_max_s", delay, 0, 7 * 86400);
    if (auto s = read.status(); !s) return s.refusal();
    if (!software) {
        if (!b.at("patch").is_object())
            return problem(400, "Bad Request", "patch: expected an object (a JSON merge patch)", "patch");
        spec.patch_json = b.at("patch").dump();
    }
    if (stages == nullptr) return problem(400, "Bad Request", "required", "stages");
    const auto ch = rel::channel_from(channel);
    if (!ch) return problem(400, "Bad Request", "stable or candidate", "channel");
    spec.channel = *ch;
    spec.max_failure_percent = static_cast<int>(fail);
    spec.max_concurrent = static_cast<int>(conc);
    spec.start_delay_max_s = static_cast<int>(delay);
    for (std::size_t i = 0; i < stages->size(); ++i) {
        auto st = read_stage((*stages)[i], "stages/" + std::to_string(i));
        if (!st) return st.refusal();
        spec.stages.push_back(std::move(*st));
    }
    auto o = rel::create_rollout(*ctx.db, ctx.releases->settings, spec, req.user, ctx.clock->now(), ctx.releases->rng);
    if (!o) {
        if (o.error().kind == ErrorKind::conflict) return problem(409, "Conflict", o.error().message, "channel");
        if (o.error().kind == ErrorKind::not_found) return problem(400, "Bad Request", o.error().message, o.error().path);
        return from_error(o.error());
    }
    tick_now(ctx);
    auto fresh = rel::get_rollout(*ctx.db, o->id);
    return json_response(201, rollout_json(fresh && *fresh ? **fresh : *o));
}

Response act(ApiContext& ctx, Request& req, rel::Action action) {
    if (!ctx.releases) return not_configured();
    long long id = 0;
    if (auto n = parse_number<long long>(req.params.at("id")); n) id = *n;
    auto o = rel::act_on_rollout(*ctx.db, id, action, req.user, ctx.clock->now());
    if (!o) {
        if (o.error().kind == ErrorKind::conflict) return problem(409, "Conflict", o.error().message);
        return from_error(o.error());
    }
    if (action == rel::Action::resume) tick_now(ctx);
    return json_response(200, rollout_json(*o));
}

}  // namespace

void add_release_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/releases", {"Uploaded gateway releases", kOfficeRoles, "updates"}, [&ctx](Request&) {
        if (!ctx.releases) return not_configured();
        auto list = rel::list_releases(*ctx.db);
        if (!list) return from_error(list.error());
        json items = json::array();
        for (const auto& r : *list) items.push_back(release_json(r));
        return json_response(200, {{"items", items}});
    });
    router.add("POST", "/api/releases",
               {"Upload a signed gateway package (.deb as the body, its signature in X-Release-Signature)", {"admin"},
                "updates"},
               [&ctx](Request& req) { return upload(ctx, req); });
    router.set_body_type(kDebType);
    router.add("GET", "/api/releases/{sha256}/download",
               {"A release's file for a gateway (link with an expiring token; byte ranges)", {}, "updates"},
               [&ctx](Request& req) { return download(ctx, req); });
    router.add("GET", "/api/rollouts", {"Rollouts, newest first", kReadRoles, "updates"}, [&ctx](Request&) {
        if (!ctx.releases) return not_configured();
        auto list = rel::list_rollouts(*ctx.db);
        if (!list) return from_error(list.error());
        json items = json::array();
        for (const auto& o : *list) items.push_back(rollout_json(o));
        return json_response(200, {{"items", items}});
    });
    router.add(
        "POST", "/api/rollouts",
        {"Start a staged rollout on a channel: of a version (kind software) or a config patch (kind config)",
         {"admin"},
         "updates"},
        [&ctx](Request& req) { return create(ctx, req); });
    router.add("GET", "/api/rollouts/{id}", {"A rollout with each site's state and reason", kReadRoles, "updates"},
               [&ctx](Request& req) {
                   if (!ctx.releases) return not_configured();
                   const auto id = parse_number<long long>(req.params.at("id"));
                   auto o = rel::get_rollout(*ctx.db, id.value_or(0));
                   if (!o) return from_error(o.error());
                   if (!*o) return problem(404, "Not Found", "no rollout " + req.params.at("id"));
                   auto sites = rel::rollout_sites(*ctx.db, (*o)->id);
                   if (!sites) return from_error(sites.error());
                   json body = rollout_json(**o);
                   body["sites"] = json::array();
                   for (const auto& s : *sites) body["sites"].push_back(site_update_json(s));
                   return json_response(200, body);
               });
    router.add("POST", "/api/rollouts/{id}/pause", {"Pause a rollout", {"admin"}, "updates"},
               [&ctx](Request& req) { return act(ctx, req, rel::Action::pause); });
    router.add("POST", "/api/rollouts/{id}/resume", {"Resume a paused rollout", {"admin"}, "updates"},
               [&ctx](Request& req) { return act(ctx, req, rel::Action::resume); });
    router.add("POST", "/api/rollouts/{id}/cancel", {"Cancel a rollout (sites not sent stay as they are)", {"admin"}, "updates"},
               [&ctx](Request& req) { return act(ctx, req, rel::Action::cancel); });
    router.add("GET", "/api/sites/{site_id}/update-settings", {"A site's update channel and architecture", kOfficeRoles, "updates"},
               [&ctx](Request& req) {
                   auto s = rel::get_site_update_settings(*ctx.db, req.params.at("site_id"));
                   if (!s) return from_error(s.error());
                   return json_response(200, {{"site_id", s->site_id}, {"channel", rel::to_string(s->channel)},
                                              {"architecture", s->architecture}});
               });
    router.add("PUT", "/api/sites/{site_id}/update-settings", {"Set a site's update channel and architecture", kOfficeRoles, "updates"},
               [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"channel", "architecture"}, b); !p) return p.refusal();
                   auto current = rel::get_site_update_settings(*ctx.db, req.params.at("site_id"));
                   if (!current) return from_error(current.error());
                   std::string channel(rel::to_string(current->channel));
                   BodyReader read(b);
                   read.text("channel", channel, 16).text("architecture", current->architecture, 32);
                   if (auto s = read.status(); !s) return s.refusal();
                   const auto ch = rel::channel_from(channel);
                   if (!ch) return problem(400, "Bad Request", "stable or candidate", "channel");
                   current->channel = *ch;
                   if (auto s = rel::put_site_update_settings(*ctx.db, *current, req.user, ctx.clock->now()); !s)
                       return from_error(s.error());
                   return json_response(200, {{"site_id", current->site_id}, {"channel", rel::to_string(current->channel)},
                                              {"architecture", current->architecture}});
               });
}

}  // namespace pvfleet::api::detail
