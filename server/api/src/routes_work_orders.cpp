// Work orders, tickets and ticket commands. Technicians see and change only the orders assigned to them.
#include <map>
#include <variant>

#include "common.hpp"
#include "offload.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/workorders/json.hpp"
#include "pvfleet/workorders/lifecycle.hpp"
#include "pvfleet/workorders/sla.hpp"

namespace pvfleet::api::detail {
namespace {

workorders::Role role_of(const Request& req) {
    if (req.role == "admin") return workorders::Role::admin;
    if (req.role == "back_office") return workorders::Role::back_office;
    if (req.role == "technician") return workorders::Role::technician;
    return workorders::Role::manager;
}

json order_json(const workorders::WorkOrder& wo, std::int64_t version, TimePoint now) {
    json j = workorders::work_order_to_json(wo);
    j["version"] = version;
    j["sla"] = workorders::to_string(workorders::sla_state(wo, now));
    return j;
}

struct Loaded {
    workorders::WorkOrder order;
    std::int64_t version = 0;
};

// Loads an order the caller may see: 404 for a missing one and for a technician's look at someone else's.
std::optional<Response> load_visible(ApiContext& ctx, const Request& req, Loaded& out) {
    const auto number = parse_leading_number<std::int64_t>(req.params.at("id"));
    if (!number) return problem(400, "Bad Request", "id: expected a work order number", "id");
    const std::int64_t id = *number;
    auto wo = storage::load_work_order(*ctx.db, id);
    if (!wo) return from_error(wo.error());
    if (!*wo || (req.role == "technician" && (*wo)->assignee != req.user))
        return problem(404, "Not Found", "no work order " + std::to_string(id));
    auto v = ctx.db->run("SELECT version FROM work_orders WHERE id = $1", {id});
    if (!v) return from_error(v.error());
    out.order = std::move(**wo);
    out.version = v->rows.at(0).integer(0);
    return std::nullopt;
}

// Who may change work orders: everyone but the read-only manager.
const std::vector<std::string> kWriteRoles{"admin", "back_office", "technician"};

// A PATCH body, every member type-checked before anything is loaded.
struct OrderPatch {
    std::optional<workorders::WorkOrderState> state;
    std::optional<std::string> assignee;
    std::optional<TimePoint> due_at;
    std::string reason;
};

std::optional<Response> read_order_patch(const json& body, OrderPatch& out) {
    BodyReader read(body);
    std::optional<std::string> state;
    std::optional<std::string> assignee;
    std::optional<std::string> due;
    if (body.contains("state")) read.text("state", state.emplace(), 64);
    if (body.contains("assignee")) read.text("assignee", assignee.emplace(), 64);
    if (body.contains("due_at")) read.text("due_at", due.emplace(), 64);
    read.text("reason", out.reason, 1000);
    if (read.problem()) return read.problem();
    if (state) {
        out.state = workorders::parse_work_order_state(*state);
        if (!out.state) return problem(400, "Bad Request", "state: unknown '" + *state + "'", "state");
    }
    if (due) {
        auto t = parse_iso8601(*due);
        if (!t) return problem(400, "Bad Request", "due_at: " + t.error().message, "due_at");
        out.due_at = *t;
    }
    out.assignee = std::move(assignee);
    return std::nullopt;
}

// `next`: the order as the patch leaves it. Members the patch does not change stay exactly as they were, so
// a no-op is recognisable.
std::optional<Response> apply_patch(ApiContext& ctx, const Request& req, const OrderPatch& patch,
                                    TimePoint now, workorders::WorkOrder& next) {
    const workorders::Actor actor{req.user, role_of(req)};
    if (patch.assignee) {
        auto u = ctx.db->run("SELECT role FROM users WHERE name = $1 AND disabled = 0", {*patch.assignee});
        if (!u) return from_error(u.error());
        if (u->rows.empty() || u->rows[0].text(0) != "technician")
            return problem(400, "Bad Request",
                           "assignee: '" + *patch.assignee + "' is not an active technician", "assignee");
        auto a = workorders::assign(next, *patch.assignee, actor, now);
        if (!a) return from_error(a.error());
        next = std::move(*a);
    }
    if (patch.due_at && *patch.due_at != next.due_at) {
        if (!workorders::is_open(next.state))
            return problem(400, "Bad Request",
                           "due_at: the work order is " + std::string(workorders::to_string(next.state)),
                           "due_at");
        next.due_at = *patch.due_at;
        next.updated_at = now;
    }
    if (patch.state && *patch.state != next.state) {
        auto t = workorders::transition(next, *patch.state, actor, now, patch.reason);
        if (!t) return from_error(t.error());
        next = std::move(*t);
    }
    return std::nullopt;
}

// A visit note: its text and the parts replaced, a device's serial swapped when both are given.
struct VisitNote {
    struct Part {
        std::string part;
        std::optional<std::string> device_id;
        std::optional<std::string> new_serial;
    };
    std::string text;
    std::vector<Part> parts;
    json parts_json = json::array();  // as sent (members checked): stored with the note
};
constexpr std::size_t kMaxNoteBytes = 10'000;
constexpr std::size_t kMaxPartsPerNote = 100;

std::optional<Response> read_visit_note(const json& body, VisitNote& out) {
    BodyReader read(body);
    const json* parts = nullptr;
    read.text("text", out.text, kMaxNoteBytes, true).array("parts", parts, kMaxPartsPerNote);
    if (read.problem()) return read.problem();
    if (out.text.empty()) return problem(400, "Bad Request", "text: required", "text");
    if (parts == nullptr) return std::nullopt;
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const json& p = (*parts)[i];
        const std::string path = "parts/" + std::to_string(i);
        if (!p.is_object()) return problem(400, "Bad Request", path + ": expected an object", path);
        for (const auto& [k, v] : p.items())
            if (k != "part" && k != "device_id" && k != "new_serial")
                return problem(400, "Bad Request",
                               path + "/" + k + ": unknown field (expected part, device_id, new_serial)",
                               path + "/" + k);
        VisitNote::Part part;
        BodyReader item(p, path + "/");
        item.text("part", part.part, 200, true);
        if (p.contains("device_id")) item.text("device_id", part.device_id.emplace(), 64);
        if (p.contains("new_serial")) item.text("new_serial", part.new_serial.emplace(), 128);
        if (item.problem()) return item.problem();
        out.parts.push_back(std::move(part));
    }
    out.parts_json = *parts;
    return std::nullopt;
}

// The command a ticket action sends, or the problem that stops it. Checked on the thread serving requests (the
// API's database connection is used there only).
std::variant<Response, protocol::Command> ticket_command(ApiContext& ctx, Request& req, const std::string& action) {
    json body = json::object();
    if (!req.body.empty())
        if (auto p = parse_body(req, {"note"}, body)) return *p;
    std::string note;
    if (auto p = BodyReader(body).text("note", note, 1000).problem()) return *p;
    const std::string site = req.params.at("site_id");
    const std::string ticket = req.params.at("ticket_id");
    // Before the ticket is looked up: others' sites are not even confirmed to have it.
    if (auto p = check_site_actionable(ctx, req, site)) return *p;
    auto t = ctx.db->run("SELECT device_id FROM tickets WHERE site_id = $1 AND ticket_id = $2", {site, ticket});
    if (!t) return from_error(t.error());
    if (t->rows.empty()) return problem(404, "Not Found", "no ticket " + ticket + " at site " + site);
    if (!ctx.send_command)
        return problem(503, "Service Unavailable", "this server has no MQTT link to the gateways");
    protocol::Command cmd;
    cmd.site_id = site;
    cmd.issued_at = ctx.clock->now();
    cmd.command_id = "api-" + std::to_string(to_epoch_ms(cmd.issued_at)) + "-" + ticket;
    cmd.expires_at = cmd.issued_at + std::chrono::hours(24);
    if (action == "acknowledge")
        cmd.body = protocol::AckTicketCommand{ticket, req.user, note};
    else
        cmd.body = protocol::ResolveTicketCommand{ticket, req.user, note};
    return cmd;
}
}  // namespace

void add_work_order_routes(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/api/work-orders",
        {"List work orders (filters: state, open, assignee, priority, site_id, customer_id; "
         "sort=urgency|newest; "
         "cursor pagination)",
         kAllRoles, "work orders"},
        [&ctx](Request& req) {
            long long limit = 50;
            long long cursor = 0;
            if (auto p = query_int(req, "limit", 1, 500, limit)) return *p;
            if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor)) return *p;
            // Two steps in one statement: the filter and the ordering pick the ids of the page (from an index
            // when one serves them, else by sorting ids only), then the page's rows are read by id.
            std::string where = " FROM work_orders w LEFT JOIN sites s ON s.site_id = w.site_id WHERE 1 = 1";
            storage::Params params;
            // Which index a query uses must not be left to chance (SQLite has no statistics to go by): a site
            // or customer narrows the list to a handful of orders, an assignee to a few thousand, whereas
            // open / state / priority each keep tens of thousands. The narrow filter drives; the broad
            // ones are written so that no index serves them (`x || ''`, `x + 0`: same value, same result),
            // else an index that also gives the order could win and scan most of the table. An assignee
            // keeps the open flag and the state usable: (assignee, id) of the open orders and
            // (assignee, state) are indexes of their own.
            const bool by_place = req.query_param("site_id") || req.query_param("customer_id");
            const bool by_person = req.query_param("assignee") || req.role == "technician";
            const bool urgency = req.query_param("sort").value_or("newest") == "urgency";
            auto text_col = [](const char* col, bool indexed) {
                return indexed ? std::string(col) : "(" + std::string(col) + " || '')";
            };
            auto add = [&](const std::string& clause, storage::Value v) {
                params.push_back(std::move(v));
                where += " AND " + clause + " $" + std::to_string(params.size());
            };
            if (auto s = req.query_param("state")) {
                if (!workorders::parse_work_order_state(*s))
                    return problem(400, "Bad Request", "state: unknown '" + *s + "'", "state");
                add(text_col("w.state", !by_place) + " =", *s);
            }
            if (auto o = req.query_param("open")) {
                // a literal, not a parameter: the open orders' indexes are partial (WHERE is_open = 1)
                const bool open = *o == "1" || *o == "true";
                where += by_place ? " AND (w.is_open + 0) = " : " AND w.is_open = ";
                where += open ? "1" : "0";
            }
            if (auto p = req.query_param("priority")) {
                if (!workorders::parse_priority(*p))
                    return problem(400, "Bad Request", "priority: unknown '" + *p + "'", "priority");
                add(text_col("w.priority", !by_place && !by_person) + " =", *p);
            }
            if (auto s = req.query_param("site_id")) add("w.site_id =", *s);
            if (auto c = req.query_param("customer_id")) {
                long long cid = 0;
                if (auto p = query_int(req, "customer_id", 1, INT64_MAX, cid)) return *p;
                add("s.customer_id =", std::int64_t{cid});
            }
            if (auto a = req.query_param("assignee")) add(text_col("w.assignee", !by_place) + " =", *a);
            if (req.role == "technician")
                add(text_col("w.assignee", !by_place) + " =", req.user);  // only their own
            if (req.query_param("unassigned_site").value_or("") == "1") where += " AND s.customer_id IS NULL";
            if (!urgency && cursor > 0) add("w.id <", std::int64_t{cursor});
            // Both orders end with the id: the page is the same whichever way it is found.
            const std::string order =
                urgency ? " ORDER BY w.is_open DESC, CASE w.priority WHEN 'urgent' THEN 0 WHEN 'high' "
                          "THEN 1 WHEN "
                          "'normal' THEN 2 ELSE 3 END, w.due_at_ms, w.id"
                        : " ORDER BY w.id DESC";
            params.push_back(std::int64_t{limit + 1});
            const std::string sql =
                "SELECT w.id, w.body, w.version FROM work_orders w WHERE w.id IN (SELECT w.id" + where +
                order + " LIMIT $" + std::to_string(params.size()) + ")" + order;
            auto rows = ctx.db->run(sql, params);
            if (!rows) return from_error(rows.error());
            json items = json::array();
            const TimePoint now = ctx.clock->now();
            std::optional<std::int64_t> next;
            for (std::size_t i = 0; i < rows->rows.size(); ++i) {
                const auto& r = rows->rows[i];
                if (static_cast<long long>(i) == limit) {
                    if (!urgency) next = rows->rows[i - 1].integer(0);
                    break;
                }
                auto wo = workorders::work_order_from_json(json::parse(r.text(1)));
                if (!wo) return from_error(wo.error());
                wo->id = r.integer(0);
                items.push_back(order_json(*wo, r.integer(2), now));
            }
            return json_response(200, {{"items", std::move(items)},
                                       {"next_cursor", next ? json(std::to_string(*next)) : json(nullptr)}});
        });

    router.add(
        "GET", "/api/work-orders/{id}",
        {"One work order with its site, customer contact, notes and history", kAllRoles, "work orders"},
        [&ctx](Request& req) {
            Loaded l;
            if (auto p = load_visible(ctx, req, l)) return *p;
            json j = order_json(l.order, l.version, ctx.clock->now());
            auto site = ctx.db->run(
                "SELECT site_id, name, address, latitude, longitude, time_zone, customer_id FROM sites "
                "WHERE site_id = $1",
                {l.order.site_id});
            if (site && !site->rows.empty()) {
                const auto& s = site->rows[0];
                j["site"] = {{"site_id", s.text(0)},
                             {"name", s.text(1)},
                             {"address", s.text(2)},
                             {"latitude", s.is_null(3) ? json(nullptr) : json(s.real(3))},
                             {"longitude", s.is_null(4) ? json(nullptr) : json(s.real(4))},
                             {"time_zone", s.text(5)}};
                if (auto cid = s.opt_integer(6)) {
                    auto c = records::get_customer(*ctx.db, *ctx.cipher, *cid);
                    if (c && *c)
                        j["customer"] = {{"id", (*c)->id},
                                         {"name", (*c)->name},
                                         {"phone", (*c)->phone},
                                         {"email", (*c)->email},
                                         {"address", (*c)->address}};
                }
            }
            auto notes = ctx.db->run(
                "SELECT at_ms, author, text, parts FROM work_order_notes WHERE work_order_id = $1 ORDER BY "
                "id",
                {l.order.id});
            json nj = json::array();
            if (notes)
                for (const auto& n : notes->rows)
                    nj.push_back({{"at", format_iso8601(from_epoch_ms(n.integer(0)))},
                                  {"author", n.text(1)},
                                  {"text", n.text(2)},
                                  {"parts", json::parse(n.text(3))}});
            j["notes"] = nj;
            auto hist = ctx.db->run(
                "SELECT at_ms, actor, action FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 "
                "ORDER BY id",
                {std::to_string(l.order.id)});
            json hj = json::array();
            if (hist)
                for (const auto& h : hist->rows)
                    hj.push_back({{"at", format_iso8601(from_epoch_ms(h.integer(0)))},
                                  {"actor", h.text(1)},
                                  {"action", h.text(2)}});
            j["history"] = hj;
            Response r = json_response(200, j);
            r.headers.emplace("ETag", etag_of(l.version));
            return r;
        });

    router.add("PATCH", "/api/work-orders/{id}",
               {"Change state or assignee (If-Match required); technicians move their own orders assigned → "
                "in_progress → done; a request that changes nothing writes nothing",
                kWriteRoles, "work orders"},
               [&ctx](Request& req) {
                   json body;
                   if (auto p = parse_body(req, {"state", "assignee", "reason", "due_at"}, body)) return *p;
                   OrderPatch patch;
                   if (auto p = read_order_patch(body, patch)) return *p;
                   // The back office may move a due date (a customer asks for another day); technicians may
                   // not.
                   if (patch.due_at && req.role != "admin" && req.role != "back_office")
                       return problem(403, "Forbidden", "due_at: only the back office changes due dates",
                                      "due_at");
                   Loaded l;
                   if (auto p = load_visible(ctx, req, l)) return *p;
                   if (auto p = check_if_match(req, l.version)) return *p;
                   const TimePoint now = ctx.clock->now();
                   workorders::WorkOrder next = l.order;
                   if (auto p = apply_patch(ctx, req, patch, now, next)) return *p;
                   Response r;
                   if (next == l.order) {
                       // Nothing changes: no new version, no audit entry (a no-op must not make others' ETags
                       // stale).
                       r = json_response(200, order_json(l.order, l.version, now));
                       r.headers.emplace("ETag", etag_of(l.version));
                       return r;
                   }
                   auto saved = storage::in_transaction(*ctx.db, [&]() -> Result<workorders::WorkOrder> {
                       // Re-check the version inside the transaction: another edit may have landed meanwhile.
                       auto v = ctx.db->run("SELECT version FROM work_orders WHERE id = $1", {l.order.id});
                       if (!v) return v.error();
                       if (v->rows.empty() || v->rows[0].integer(0) != l.version)
                           return Error{"work order changed meanwhile", ErrorKind::conflict};
                       return storage::save_work_order(*ctx.db, next, l.order, req.user, "edit", now);
                   });
                   if (!saved) return from_error(saved.error());
                   r = json_response(200, order_json(*saved, l.version + 1, now));
                   r.headers.emplace("ETag", etag_of(l.version + 1));
                   return r;
               });

    router.add(
        "POST", "/api/work-orders/{id}/notes",
        {"Record a visit: notes and parts replaced (a swapped device serial goes into the device history)",
         kWriteRoles, "work orders"},
        [&ctx](Request& req) {
            json body;
            if (auto p = parse_body(req, {"text", "parts"}, body)) return *p;
            VisitNote note;
            if (auto p = read_visit_note(body, note)) return *p;
            Loaded l;
            if (auto p = load_visible(ctx, req, l)) return *p;
            // As with tickets: a technician's writes at a site need an open order there (no late serial swaps
            // on a closed job); the back office may still annotate closed orders.
            if (req.role == "technician" && !workorders::is_open(l.order.state))
                return problem(403, "Forbidden",
                               "work order " + std::to_string(l.order.id) + " is " +
                                   std::string(workorders::to_string(l.order.state)) +
                                   ": technicians record visits on open orders only");
            const TimePoint now = ctx.clock->now();
            auto done = storage::in_transaction(*ctx.db, [&]() -> Status {
                for (std::size_t i = 0; i < note.parts.size(); ++i) {
                    const auto& p = note.parts[i];
                    if (!p.device_id || !p.new_serial) continue;
                    const std::string& dev = *p.device_id;
                    auto old = ctx.db->run("SELECT serial FROM devices WHERE site_id = $1 AND device_id = $2",
                                           {l.order.site_id, dev});
                    if (!old) return old.error();
                    if (old->rows.empty())
                        return Error::at("parts/" + std::to_string(i) + "/device_id",
                                         "no device '" + dev + "' at site " + l.order.site_id);
                    const std::string& new_serial = *p.new_serial;
                    if (auto r = ctx.db->run(
                            "INSERT INTO device_history (site_id, device_id, at_ms, old_serial, new_serial, "
                            "work_order_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            {l.order.site_id, dev, to_epoch_ms(now), old->rows[0].text(0), new_serial,
                             l.order.id, p.part});
                        !r)
                        return r.error();
                    if (auto r = ctx.db->run(
                            "UPDATE devices SET serial = $3, version = version + 1 WHERE site_id = $1 AND "
                            "device_id = $2",
                            {l.order.site_id, dev, new_serial});
                        !r)
                        return r.error();
                    if (auto s = storage::append_audit(*ctx.db, now, req.user, "serial swapped", "device",
                                                       l.order.site_id + "/" + dev,
                                                       json{{"serial", old->rows[0].text(0)}}.dump(),
                                                       json{{"serial", new_serial}}.dump());
                        !s)
                        return s;
                }
                if (auto r = ctx.db->run(
                        "INSERT INTO work_order_notes (work_order_id, at_ms, author, text, "
                        "parts) VALUES ($1, "
                        "$2, $3, $4, $5)",
                        {l.order.id, to_epoch_ms(now), req.user, note.text, note.parts_json.dump()});
                    !r)
                    return r.error();
                return storage::append_audit(*ctx.db, now, req.user, "note", "work_order",
                                             std::to_string(l.order.id), std::nullopt,
                                             json{{"text", note.text}, {"parts", note.parts_json}}.dump());
            });
            if (!done) return from_error(done.error());
            return json_response(201, {{"work_order_id", l.order.id}, {"at", format_iso8601(now)}});
        });

    router.add("GET", "/api/tickets",
               {"Gateway tickets (filters: site_id, state; cursor pagination)", kReadRoles, "tickets"},
               [&ctx](Request& req) {
                   long long limit = 100;
                   if (auto p = query_int(req, "limit", 1, 500, limit)) return *p;
                   std::string sql = "SELECT site_id, ticket_id, body FROM tickets WHERE 1 = 1";
                   storage::Params params;
                   if (auto s = req.query_param("site_id")) {
                       params.push_back(*s);
                       sql += " AND site_id = $" + std::to_string(params.size());
                   }
                   if (auto s = req.query_param("state")) {
                       params.push_back(*s);
                       sql += " AND state = $" + std::to_string(params.size());
                   }
                   params.push_back(std::int64_t{limit});
                   sql += " ORDER BY updated_at_ms DESC LIMIT $" + std::to_string(params.size());
                   auto rows = ctx.db->run(sql, params);
                   if (!rows) return from_error(rows.error());
                   json items = json::array();
                   for (const auto& r : rows->rows) {
                       json t = json::parse(r.text(2));
                       items.push_back({{"site_id", r.text(0)},
                                        {"ticket", t.value("ticket", json::object())},
                                        {"event", t.value("event", "")}});
                   }
                   return json_response(200, {{"items", items}});
               });

    // Acknowledge / resolve a gateway ticket from the back office, or by the technician who has an open work
    // order at the site: sent to the gateway as a command; the gateway's ticket event comes back through
    // ingest and updates the work order.
    for (const std::string action : {"acknowledge", "resolve"}) {
        router.add_async(
            "POST", "/api/sites/{site_id}/tickets/{ticket_id}/" + action,
            {action == "acknowledge" ? "Acknowledge a gateway ticket (sent to the gateway as a command)"
                                     : "Resolve a gateway ticket (sent to the gateway as a command)",
             kWriteRoles, "tickets"},
            [&ctx, action](Request& req) -> boost::asio::awaitable<Response> {
                auto prepared = ticket_command(ctx, req, action);
                if (auto* refused = std::get_if<Response>(&prepared)) co_return *refused;
                const auto& cmd = std::get<protocol::Command>(prepared);
                // Handing the command to the ingest's thread may wait for its current group commit: that wait
                // is a worker's, not the thread's that serves every request.
                auto sending = [&ctx, cmd, user = req.user] { return ctx.send_command(cmd, user); };
                auto sent = co_await offload(ctx, std::move(sending));
                if (!sent) co_return busy(sent.error());
                if (!*sent) co_return from_error(sent->error());
                co_return json_response(202, {{"command_id", cmd.command_id}, {"status", "sent"}});
            });
    }

    router.add(
        "GET", "/api/sites/{site_id}/commands",
        {"Commands sent to a gateway and their acknowledgements", kReadRoles, "sites"}, [&ctx](Request& req) {
            auto rows = ctx.db->run(
                "SELECT command_id, command, issued_at_ms, issued_by, status, detail, acked_at_ms FROM "
                "commands WHERE site_id = $1 ORDER BY issued_at_ms DESC LIMIT 200",
                {req.params.at("site_id")});
            if (!rows) return from_error(rows.error());
            json items = json::array();
            for (const auto& r : rows->rows)
                items.push_back(
                    {{"command_id", r.text(0)},
                     {"command", r.text(1)},
                     {"issued_at", format_iso8601(from_epoch_ms(r.integer(2)))},
                     {"issued_by", r.text(3)},
                     {"status", r.text(4)},
                     {"detail", r.text(5)},
                     {"acked_at",
                      r.is_null(6) ? json(nullptr) : json(format_iso8601(from_epoch_ms(r.integer(6))))}});
            return json_response(200, {{"items", items}});
        });
}

}  // namespace pvfleet::api::detail
