// Notifications (docs/notifications.md): the caller's inbox and notification settings, users' e-mail
// addresses (admin) and the e-mail outbox (admin). Everyone reads and changes only their own inbox and
// settings.
#include "common.hpp"
#include "pvfleet/notifications/catalogue.hpp"
#include "pvfleet/notifications/email.hpp"
#include "pvfleet/notifications/inbox.hpp"
#include "pvfleet/notifications/settings.hpp"
#include "pvfleet/records/users.hpp"

namespace pvfleet::api::detail {
namespace {

namespace nt = notifications;

json settings_json(const nt::NotificationSettings& s) {
    json events = json::array();
    for (const auto& e : nt::event_catalogue()) {
        const std::string name(e.name);
        const auto& ch = s.channels.at(name);
        events.push_back({{"event", name},
                          {"inbox", ch.inbox},
                          {"email", ch.email},
                          {"chosen", s.chosen.at(name)},
                          {"default", {{"inbox", e.defaults.inbox}, {"email", e.defaults.email}}}});
    }
    return {{"email", opt_json(s.email)},
            {"language", nt::to_string(s.language)},
            {"time_zone", s.time_zone},
            {"quiet_hours", s.quiet_hours ? json{{"from", nt::format_clock_time(s.quiet_hours->from_minute)},
                                                 {"to", nt::format_clock_time(s.quiet_hours->to_minute)}}
                                          : json(nullptr)},
            {"events", events}};
}

void add_inbox_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/inbox",
               {"The caller's notifications (unread=1; cursor) and unread count", kEveryRole, "inbox"},
               [&ctx](Request& req) {
                   long long limit = 50;
                   long long cursor = 0;
                   if (auto p = query_int(req, "limit", 1, 500, limit); !p) return p.refusal();
                   if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor); !p) return p.refusal();
                   auto list =
                       nt::list_inbox(*ctx.db, req.user, req.query_param("unread").value_or("") == "1",
                                      cursor, static_cast<int>(limit));
                   if (!list) return from_error(list.error());
                   auto unread = nt::unread_count(*ctx.db, req.user);
                   if (!unread) return from_error(unread.error());
                   json items = json::array();
                   for (const auto& n : *list)
                       items.push_back({{"id", n.id},
                                        {"event", n.event},
                                        {"title", n.title},
                                        {"body", n.body},
                                        {"link", n.link.empty() ? json(nullptr) : json(n.link)},
                                        {"project_id", opt_json(n.project_id)},
                                        {"milestone_id", opt_json(n.milestone_id)},
                                        {"created_at", format_iso8601(n.created_at)},
                                        {"read_at", time_json(n.read_at)}});
                   const bool full = static_cast<long long>(list->size()) == limit;
                   return json_response(
                       200, {{"items", items},
                             {"unread", *unread},
                             {"next_cursor", full ? json(std::to_string(list->back().id)) : json(nullptr)}});
               });
    router.add("POST", "/api/inbox/read-all",
               {"Mark all the caller's notifications read", kEveryRole, "inbox"}, [&ctx](Request& req) {
                   auto n = nt::mark_all_read(*ctx.db, req.user, ctx.clock->now());
                   if (!n) return from_error(n.error());
                   return json_response(200, {{"marked", *n}, {"unread", 0}});
               });
    router.add("POST", "/api/inbox/{id}/read",
               {"Mark one of the caller's notifications read", kEveryRole, "inbox"}, [&ctx](Request& req) {
                   auto id = number_param(req, "id", "notification");
                   if (!id) return id.refusal();
                   if (auto m = nt::mark_read(*ctx.db, req.user, *id, ctx.clock->now()); !m)
                       return from_error(m.error());
                   auto unread = nt::unread_count(*ctx.db, req.user);
                   if (!unread) return from_error(unread.error());
                   return json_response(200, {{"id", *id}, {"unread", *unread}});
               });
}

}  // namespace

void add_notification_routes(Router& router, ApiContext& ctx) {
    add_inbox_routes(router, ctx);
    router.add("GET", "/api/me/notification-settings",
               {"The caller's e-mail address, language, time zone, quiet hours and channels per event",
                kEveryRole, "notifications"},
               [&ctx](Request& req) {
                   auto s = nt::load_settings(*ctx.db, req.user);
                   if (!s) return from_error(s.error());
                   return json_response(200, settings_json(*s));
               });
    router.add(
        "PUT", "/api/me/notification-settings",
        {"Change the caller's notification settings (absent fields stay)", kEveryRole, "notifications"},
        [&ctx](Request& req) {
            json b;
            if (auto p = parse_body(req, {"email", "language", "time_zone", "quiet_hours", "channels"}, b);
                !p)
                return p.refusal();
            auto change = nt::parse_settings_change(b);
            if (!change) return bad_request(change.error());
            if (auto s = nt::save_settings(*ctx.db, req.user, *change, req.user, ctx.clock->now()); !s)
                return from_error(s.error());
            auto s = nt::load_settings(*ctx.db, req.user);
            if (!s) return from_error(s.error());
            return json_response(200, settings_json(*s));
        });
    router.add("PUT", "/api/users/{name}/email",
               {"Set or clear (null) a user's e-mail address (admin)", {"admin"}, "users"},
               [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"email"}, b); !p) return p.refusal();
                   if (!b.contains("email"))
                       return problem(400, "Bad Request", "email: required (an address or null)", "email");
                   auto change = nt::parse_settings_change(json{{"email", b["email"]}});
                   if (!change) return bad_request(change.error());
                   const std::string& name = req.params.at("name");
                   if (auto s = nt::save_settings(*ctx.db, name, *change, req.user, ctx.clock->now()); !s)
                       return from_error(s.error());
                   auto s = nt::load_settings(*ctx.db, name);
                   if (!s) return from_error(s.error());
                   return json_response(200, {{"name", name}, {"email", opt_json(s->email)}});
               });
    router.add("GET", "/api/notifications/outbox",
               {"The e-mail outbox, oldest first: state, attempts and last error of each e-mail (admin)",
                {"admin"},
                "notifications"},
               [&ctx](Request& req) {
                   long long limit = 100;
                   if (auto p = query_int(req, "limit", 1, 1000, limit); !p) return p.refusal();
                   auto list = nt::list_outbox(*ctx.db, static_cast<int>(limit));
                   if (!list) return from_error(list.error());
                   json items = json::array();
                   for (const auto& e : *list)
                       items.push_back({{"id", e.id},
                                        {"event_id", e.event_id},
                                        {"recipient", e.recipient},
                                        {"address", e.address},
                                        {"subject", e.subject},
                                        {"state", nt::to_string(e.state)},
                                        {"attempts", e.attempts},
                                        {"last_error", opt_json(e.last_error)},
                                        {"created_at", format_iso8601(e.created_at)},
                                        {"due_at", format_iso8601(e.due_at)},
                                        {"sent_at", time_json(e.sent_at)}});
                   return json_response(200, {{"items", items}});
               });
}

}  // namespace pvfleet::api::detail
