// Work orders, tickets and ticket commands. Technicians see and change only the orders assigned to them.
#include <map>

#include "common.hpp"
#include "offload.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/field_work.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/telemetry_queries.hpp"
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

using Loaded = storage::VersionedWorkOrder;

// Loads an order the caller may see: 404 for a missing one and for a technician's look at someone else's.
Checked<> load_visible(ApiContext& ctx, const Request& req, Loaded& out) {
    const auto number = parse_leading_number<std::int64_t>(req.params.at("id"));
    if (!number) return problem(400, "Bad Request", "id: expected a work order number", "id");
    const std::int64_t id = *number;
    auto wo = storage::load_versioned_work_order(*ctx.db, id);
    if (!wo) return from_error(wo.error());
    if (!*wo || (req.role == "technician" && (*wo)->order.assignee != req.user))
        return problem(404, "Not Found", "no work order " + std::to_string(id));
    out = std::move(**wo);
    return {};
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

Checked<> read_order_patch(const json& body, OrderPatch& out) {
    BodyReader read(body);
    std::optional<std::string> state;
    std::optional<std::string> assignee;
    std::optional<std::string> due;
    if (body.contains("state")) read.text("state", state.emplace(), 64);
    if (body.contains("assignee")) read.text("assignee", assignee.emplace(), 64);
    if (body.contains("due_at")) read.text("due_at", due.emplace(), 64);
    read.text("reason", out.reason, 1000);
    if (auto checked = read.status(); !checked) return checked;
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
    return {};
}

// `next`: the order as the patch leaves it. Members the patch does not change stay exactly as they were, so
// a no-op is recognisable.
Checked<> apply_patch(ApiContext& ctx, const Request& req, const OrderPatch& patch,
                                    TimePoint now, workorders::WorkOrder& next) {
    const workorders::Actor actor{req.user, role_of(req)};
    if (patch.assignee) {
        auto technician = records::is_active_technician(*ctx.db, *patch.assignee);
        if (!technician) return from_error(technician.error());
        if (!*technician)
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
    return {};
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

Checked<> read_visit_note(const json& body, VisitNote& out) {
    BodyReader read(body);
    const json* parts = nullptr;
    read.text("text", out.text, kMaxNoteBytes, true).array("parts", parts, kMaxPartsPerNote);
    if (auto checked = read.status(); !checked) return checked;
    if (out.text.empty()) return problem(400, "Bad Request", "text: required", "text");
    if (parts == nullptr) return {};
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
        if (auto checked = item.status(); !checked) return checked;
        out.parts.push_back(std::move(part));
    }
    out.parts_json = *parts;
    return {};
}

// A visit in one transaction: each serial swapped (a device the site lacks names the part that gave it), then
// the note with its audit entry.
Status record_visit(ApiContext& ctx, const workorders::WorkOrder& order, const VisitNote& note,
                    const std::string& user, TimePoint now) {
    return storage::in_transaction(*ctx.db, [&]() -> Status {
        for (std::size_t i = 0; i < note.parts.size(); ++i) {
            const auto& p = note.parts[i];
            if (!p.device_id || !p.new_serial) continue;
            const records::SerialSwap swap{order.site_id, *p.device_id, *p.new_serial, order.id, p.part};
            if (auto s = records::swap_serial_on_visit(*ctx.db, swap, user, now); !s)
                return s.error().kind == ErrorKind::not_found
                           ? Error::at("parts/" + std::to_string(i) + "/device_id", s.error().message)
                           : s.error();
        }
        return storage::add_work_order_note(*ctx.db, order.id,
                                            {now, user, note.text, note.parts_json.dump()});
    });
}

// The site of an order and its customer's contact, as the order's view shows them (left out when not on
// record).
void add_site_and_customer(ApiContext& ctx, const std::string& site_id, json& view) {
    auto site = records::get_site(*ctx.db, site_id);
    if (!site || !*site) return;
    const records::Site& s = **site;
    view["site"] = {{"site_id", s.site_id},
                    {"name", s.name},
                    {"address", s.address},
                    {"latitude", s.latitude ? json(*s.latitude) : json(nullptr)},
                    {"longitude", s.longitude ? json(*s.longitude) : json(nullptr)},
                    {"time_zone", s.time_zone}};
    if (!s.customer_id) return;
    auto c = records::get_customer(*ctx.db, *ctx.cipher, *s.customer_id);
    if (c && *c)
        view["customer"] = {{"id", (*c)->id},
                            {"name", (*c)->name},
                            {"phone", (*c)->phone},
                            {"email", (*c)->email},
                            {"address", (*c)->address}};
}

// The filters, order and page of GET /api/work-orders, or the problem with them. A technician sees only their
// own orders.
Checked<storage::WorkOrderQuery> work_order_query(const Request& req) {
    storage::WorkOrderQuery q;
    long long limit = 50;
    long long cursor = 0;
    if (auto p = query_int(req, "limit", 1, 500, limit); !p) return p.refusal();
    if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor); !p) return p.refusal();
    q.limit = limit;
    q.after_id = cursor;
    q.by_urgency = req.query_param("sort").value_or("newest") == "urgency";
    if (auto s = req.query_param("state")) {
        if (!workorders::parse_work_order_state(*s))
            return problem(400, "Bad Request", "state: unknown '" + *s + "'", "state");
        q.state = *s;
    }
    if (auto o = req.query_param("open")) q.open = *o == "1" || *o == "true";
    if (auto p = req.query_param("priority")) {
        if (!workorders::parse_priority(*p))
            return problem(400, "Bad Request", "priority: unknown '" + *p + "'", "priority");
        q.priority = *p;
    }
    q.site_id = req.query_param("site_id");
    if (req.query_param("customer_id")) {
        long long cid = 0;
        if (auto p = query_int(req, "customer_id", 1, INT64_MAX, cid); !p) return p.refusal();
        q.customer_id = cid;
    }
    q.assignee = req.query_param("assignee");
    if (req.role == "technician") q.technician = req.user;
    q.unassigned_site = req.query_param("unassigned_site").value_or("") == "1";
    return q;
}

// The command a ticket action sends, or the problem that stops it. Checked on the thread serving requests
// (the API's database connection is used there only).
Checked<protocol::Command> ticket_command(ApiContext& ctx, Request& req, const std::string& action) {
    json body = json::object();
    if (!req.body.empty())
        if (auto p = parse_body(req, {"note"}, body); !p) return p.refusal();
    std::string note;
    if (auto p = BodyReader(body).text("note", note, 1000).status(); !p) return p.refusal();
    const std::string site = req.params.at("site_id");
    const std::string ticket = req.params.at("ticket_id");
    // Before the ticket is looked up: others' sites are not even confirmed to have it.
    if (auto p = check_site_actionable(ctx, req, site); !p) return p.refusal();
    auto known = storage::ticket_exists(*ctx.db, site, ticket);
    if (!known) return from_error(known.error());
    if (!*known) return problem(404, "Not Found", "no ticket " + ticket + " at site " + site);
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

// GET /api/work-orders/{id}: the order with its site, customer contact, notes and history.
Response get_work_order(ApiContext& ctx, Request& req) {
    Loaded l;
    if (auto p = load_visible(ctx, req, l); !p) return p.refusal();
    json j = order_json(l.order, l.version, ctx.clock->now());
    add_site_and_customer(ctx, l.order.site_id, j);
    json nj = json::array();
    if (auto notes = storage::list_work_order_notes(*ctx.db, l.order.id))
        for (const auto& n : *notes)
            nj.push_back({{"at", format_iso8601(n.at)},
                          {"author", n.author},
                          {"text", n.text},
                          {"parts", json::parse(n.parts_json)}});
    j["notes"] = nj;
    json hj = json::array();
    if (auto hist = storage::work_order_history(*ctx.db, l.order.id))
        for (const auto& h : *hist)
            hj.push_back({{"at", format_iso8601(h.at)}, {"actor", h.actor}, {"action", h.action}});
    j["history"] = hj;
    Response r = json_response(200, j);
    r.headers.emplace("ETag", etag_of(l.version));
    return r;
}

// PATCH /api/work-orders/{id}.
Response patch_work_order(ApiContext& ctx, Request& req) {
    json body;
    if (auto p = parse_body(req, {"state", "assignee", "reason", "due_at"}, body); !p) return p.refusal();
    OrderPatch patch;
    if (auto p = read_order_patch(body, patch); !p) return p.refusal();
    // The back office may move a due date (a customer asks for another day); technicians may not.
    if (patch.due_at && req.role != "admin" && req.role != "back_office")
        return problem(403, "Forbidden", "due_at: only the back office changes due dates", "due_at");
    Loaded l;
    if (auto p = load_visible(ctx, req, l); !p) return p.refusal();
    if (auto p = check_if_match(req, l.version); !p) return p.refusal();
    const TimePoint now = ctx.clock->now();
    workorders::WorkOrder next = l.order;
    if (auto p = apply_patch(ctx, req, patch, now, next); !p) return p.refusal();
    Response r;
    if (next == l.order) {
        // Nothing changes: no new version, no audit entry (a no-op must not make others' ETags stale).
        r = json_response(200, order_json(l.order, l.version, now));
        r.headers.emplace("ETag", etag_of(l.version));
        return r;
    }
    auto saved =
        storage::save_work_order_at_version(*ctx.db, next, l.order, l.version, req.user, "edit", now);
    if (!saved) return from_error(saved.error());
    r = json_response(200, order_json(*saved, l.version + 1, now));
    r.headers.emplace("ETag", etag_of(l.version + 1));
    return r;
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
            auto query = work_order_query(req);
            if (!query) return query.refusal();
            auto page = storage::list_work_orders(*ctx.db, *query);
            if (!page) return from_error(page.error());
            json items = json::array();
            const TimePoint now = ctx.clock->now();
            for (const auto& item : page->items) items.push_back(order_json(item.order, item.version, now));
            const json next = page->next_cursor ? json(std::to_string(*page->next_cursor)) : json(nullptr);
            return json_response(200, {{"items", std::move(items)}, {"next_cursor", next}});
        });

    router.add(
        "GET", "/api/work-orders/{id}",
        {"One work order with its site, customer contact, notes and history", kAllRoles, "work orders"},
        [&ctx](Request& req) { return get_work_order(ctx, req); });

    router.add("PATCH", "/api/work-orders/{id}",
               {"Change state or assignee (If-Match required); technicians move their own orders assigned → "
                "in_progress → done; a request that changes nothing writes nothing",
                kWriteRoles, "work orders"},
               [&ctx](Request& req) { return patch_work_order(ctx, req); });

    router.add(
        "POST", "/api/work-orders/{id}/notes",
        {"Record a visit: notes and parts replaced (a swapped device serial goes into the device history)",
         kWriteRoles, "work orders"},
        [&ctx](Request& req) {
            json body;
            if (auto p = parse_body(req, {"text", "parts"}, body); !p) return p.refusal();
            VisitNote note;
            if (auto p = read_visit_note(body, note); !p) return p.refusal();
            Loaded l;
            if (auto p = load_visible(ctx, req, l); !p) return p.refusal();
            // As with tickets: a technician's writes at a site need an open order there (no late serial swaps
            // on a closed job); the back office may still annotate closed orders.
            if (req.role == "technician" && !workorders::is_open(l.order.state))
                return problem(403, "Forbidden",
                               "work order " + std::to_string(l.order.id) + " is " +
                                   std::string(workorders::to_string(l.order.state)) +
                                   ": technicians record visits on open orders only");
            const TimePoint now = ctx.clock->now();
            auto done = record_visit(ctx, l.order, note, req.user, now);
            if (!done) return from_error(done.error());
            return json_response(201, {{"work_order_id", l.order.id}, {"at", format_iso8601(now)}});
        });
}

// Gateway tickets and the commands sent to gateways.
void add_ticket_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/tickets",
               {"Gateway tickets (filters: site_id, state; cursor pagination)", kReadRoles, "tickets"},
               [&ctx](Request& req) {
                   long long limit = 100;
                   if (auto p = query_int(req, "limit", 1, 500, limit); !p) return p.refusal();
                   storage::TicketFilter filter;
                   filter.site_id = req.query_param("site_id");
                   filter.state = req.query_param("state");
                   filter.limit = limit;
                   auto rows = storage::list_tickets(*ctx.db, filter);
                   if (!rows) return from_error(rows.error());
                   json items = json::array();
                   for (const auto& r : *rows) {
                       json t = json::parse(r.body_json);
                       items.push_back({{"site_id", r.site_id},
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
                if (!prepared) co_return prepared.refusal();
                const protocol::Command& cmd = *prepared;
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
            auto rows = storage::list_commands(*ctx.db, req.params.at("site_id"));
            if (!rows) return from_error(rows.error());
            json items = json::array();
            for (const auto& r : *rows)
                items.push_back(
                    {{"command_id", r.command_id},
                     {"command", r.command},
                     {"issued_at", format_iso8601(from_epoch_ms(r.issued_at_ms))},
                     {"issued_by", r.issued_by},
                     {"status", r.status},
                     {"detail", r.detail},
                     {"acked_at",
                      r.acked_at_ms ? json(format_iso8601(from_epoch_ms(*r.acked_at_ms))) : json(nullptr)}});
            return json_response(200, {{"items", items}});
        });
}

}  // namespace pvfleet::api::detail
