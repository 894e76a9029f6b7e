#include "pvfleet/storage/work_orders.hpp"

#include <nlohmann/json.hpp>

#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/workorders/json.hpp"
#include "pvfleet/workorders/preventive.hpp"
#include "pvfleet/workorders/ticket_rules.hpp"

namespace pvfleet::storage {
namespace {

constexpr const char* kColumns = "id, body";

Result<workorders::WorkOrder> from_row(const Row& row) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(row.text(1));
    } catch (const nlohmann::json::exception& e) {
        return Error{"work order " + row.text(0) + ": stored body is not JSON: " + e.what(), ErrorKind::io};
    }
    auto wo = workorders::work_order_from_json(j);
    if (!wo) return Error{"work order " + row.text(0) + ": " + wo.error().message, ErrorKind::io};
    wo->id = row.integer(0);
    return wo;
}

Result<std::optional<workorders::WorkOrder>> first(Result<QueryResult> r) {
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<workorders::WorkOrder>{};
    auto wo = from_row(r->rows[0]);
    if (!wo) return wo.error();
    return std::optional<workorders::WorkOrder>{std::move(*wo)};
}

}  // namespace

Result<std::optional<workorders::WorkOrder>> load_work_order(Db& db, std::int64_t id) {
    return first(db.run(std::string("SELECT ") + kColumns + " FROM work_orders WHERE id = $1", {id}));
}

Result<std::optional<workorders::WorkOrder>> load_open_work_order(Db& db, const std::string& site_id,
                                                                  const std::string& device_id,
                                                                  domain::FaultKind kind,
                                                                  std::optional<int> input) {
    return first(db.run(std::string("SELECT ") + kColumns +
                            " FROM work_orders WHERE site_id = $1 AND device_id = $2 AND kind = $3 AND "
                            "mppt_input = $4 AND is_open = 1",
                        {site_id, device_id, std::string(domain::to_string(kind)),
                         std::int64_t{input.value_or(0)}}));
}

Status append_audit(Db& db, TimePoint at, const std::string& actor, const std::string& action,
                    const std::string& entity, const std::string& entity_id,
                    const std::optional<std::string>& before_json,
                    const std::optional<std::string>& after_json) {
    auto r = db.run(
        "INSERT INTO audit_log (at_ms, actor, action, entity, entity_id, before_json, after_json) VALUES "
        "($1, "
        "$2, $3, $4, $5, $6, $7)",
        {to_epoch_ms(at), actor, action, entity, entity_id,
         before_json ? Value{*before_json} : Value{nullptr},
         after_json ? Value{*after_json} : Value{nullptr}});
    if (!r) return r.error();
    return {};
}

namespace {

// work_order.created (to its assignee and the back office), work_order.assigned (to the new assignee),
// work_order.closed (to the back office and the assignee) — never to the user who did it.
Status append_work_order_events(Db& db, const workorders::WorkOrder& order,
                                const std::optional<workorders::WorkOrder>& before, const std::string& actor,
                                TimePoint now) {
    auto event_of = [&](const char* name) {
        NewEvent e;
        e.name = name;
        e.occurred_at = now;
        e.data = {{"work_order_id", order.id},
                  {"site_id", order.site_id},
                  {"device_id", order.device_id},
                  {"kind", std::string(domain::to_string(order.kind))},
                  {"priority", std::string(workorders::to_string(order.priority))},
                  {"state", std::string(workorders::to_string(order.state))},
                  {"summary", order.summary},
                  {"assignee", order.assignee ? nlohmann::json(*order.assignee) : nlohmann::json(nullptr)}};
        return e;
    };
    auto append = [&](NewEvent e, std::vector<std::string> to) -> Status {
        for (auto& name : to)
            if (name != actor) e.recipients.push_back(std::move(name));
        PVF_CHECK(append_event(db, e));
        return {};
    };
    const bool created = !before && order.id != 0;
    if (created) {
        PVF_TRY(auto office, active_users_with_role(db, "back_office"));
        if (order.assignee) office.insert(office.begin(), *order.assignee);
        PVF_CHECK(append(event_of("work_order.created"), std::move(office)));
    } else if (order.assignee && (!before || before->assignee != order.assignee)) {
        PVF_CHECK(append(event_of("work_order.assigned"), {*order.assignee}));
    }
    if (!created && order.closed_at && before && !before->closed_at) {
        PVF_TRY(auto office, active_users_with_role(db, "back_office"));
        if (order.assignee) office.push_back(*order.assignee);
        PVF_CHECK(append(event_of("work_order.closed"), std::move(office)));
    }
    return {};
}

}  // namespace

Result<workorders::WorkOrder> save_work_order(Db& db, workorders::WorkOrder order,
                                              const std::optional<workorders::WorkOrder>& before,
                                              const std::string& actor, const std::string& action,
                                              TimePoint now) {
    const bool open = workorders::is_open(order.state);
    auto body_of = [](const workorders::WorkOrder& w) { return workorders::work_order_to_json(w).dump(); };
    const Params common{std::string(domain::to_string(order.kind)),
                        std::string(domain::to_string(order.severity)),
                        std::string(workorders::to_string(order.priority)),
                        std::string(workorders::to_string(order.state)),
                        std::int64_t{open ? 1 : 0},
                        order.ticket_id,
                        order.summary,
                        order.assignee ? Value{*order.assignee} : Value{nullptr},
                        to_epoch_ms(order.updated_at),
                        to_epoch_ms(order.due_at),
                        order.closed_at ? Value{to_epoch_ms(*order.closed_at)} : Value{nullptr}};
    if (order.id == 0) {
        Params p = common;
        p.insert(p.end(), {order.site_id, order.device_id, to_epoch_ms(order.created_at), body_of(order),
                           std::int64_t{order.input.value_or(0)}});
        auto r = db.run(
            "INSERT INTO work_orders (kind, severity, priority, state, is_open, ticket_id, summary, "
            "assignee, "
            "updated_at_ms, due_at_ms, closed_at_ms, site_id, device_id, created_at_ms, body, mppt_input) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
            p);
        if (!r) return r.error();
        order.id = r->rows.at(0).integer(0);
    } else {
        Params p = common;
        p.insert(p.end(), {order.id, body_of(order)});
        auto r = db.run(
            "UPDATE work_orders SET kind = $1, severity = $2, priority = $3, state = $4, is_open = $5, "
            "ticket_id = $6, summary = $7, assignee = $8, updated_at_ms = $9, due_at_ms = $10, closed_at_ms "
            "= "
            "$11, body = $13, version = version + 1 WHERE id = $12",
            p);
        if (!r) return r.error();
        if (r->affected == 0)
            return Error{"work order " + std::to_string(order.id) + ": not found", ErrorKind::not_found};
    }
    if (auto s = append_audit(db, now, actor, action, "work_order", std::to_string(order.id),
                              before ? std::optional<std::string>(body_of(*before)) : std::nullopt,
                              body_of(order));
        !s)
        return s.error();
    if (auto e = append_work_order_events(db, order, before, actor, now); !e) return e.error();
    return order;
}

Result<int> create_due_preventive_orders(Db& db, TimePoint now, const workorders::Policy& policy) {
    auto sites = db.run(
        "SELECT s.site_id, s.inspection_interval_days, COALESCE(s.commissioned_on, s.installed_on), s.first_seen_ms, "
        "s.created_at_ms, "
        "(SELECT MAX(w.closed_at_ms) FROM work_orders w WHERE w.site_id = s.site_id AND w.kind = "
        "'preventive' AND "
        "w.state IN ('done', 'closed')), "
        "(SELECT COUNT(*) FROM work_orders w WHERE w.site_id = s.site_id AND w.kind = 'preventive' AND "
        "w.is_open = 1) "
        "FROM sites s WHERE s.inspection_interval_days > 0");
    if (!sites) return sites.error();
    int created = 0;
    for (const auto& r : sites->rows) {
        if (r.integer(6) > 0) continue;  // one is open already
        TimePoint commissioned = from_epoch_ms(r.is_null(3) ? r.integer(4) : r.integer(3));
        if (auto installed = r.opt_text(2))
            if (auto t = parse_iso8601(*installed + "T00:00:00Z")) commissioned = *t;
        const std::optional<TimePoint> last =
            r.is_null(5) ? std::nullopt : std::optional<TimePoint>(from_epoch_ms(r.integer(5)));
        const auto due = workorders::next_preventive_due(commissioned, last, std::chrono::days(r.integer(1)));
        if (!due || !workorders::preventive_order_due(*due, now, policy)) continue;
        auto order = workorders::make_preventive_work_order(r.text(0), *due, now, policy);
        auto saved = in_transaction(db, [&]() -> Result<workorders::WorkOrder> {
            return save_work_order(db, order, std::nullopt, "scheduler",
                                   "preventive inspection due " + format_iso8601(*due), now);
        });
        // A concurrent instance may have created it first (the one-open index refuses a second).
        if (!saved && saved.error().kind != ErrorKind::conflict) return saved.error();
        if (saved) ++created;
    }
    return created;
}

Status WorkOrderSink::on_ticket_event(Db& db, const std::string& site_id, const domain::TicketEvent& event,
                                      bool, TimePoint now, IngestOutcome& outcome) {
    const auto& t = event.ticket;
    // One open order per (site, device, kind, input): a fault on another input of the device is its own order.
    auto open = load_open_work_order(db, site_id, t.device_id, t.kind, t.input);
    if (!open) return open.error();
    auto closed = first(db.run(std::string("SELECT ") + kColumns +
                                   " FROM work_orders WHERE site_id = $1 AND device_id = $2 AND kind = $3 AND "
                                   "mppt_input = $4 AND is_open = 0 ORDER BY closed_at_ms DESC, id DESC LIMIT 1",
                               {site_id, t.device_id, std::string(domain::to_string(t.kind)),
                                std::int64_t{t.input.value_or(0)}}));
    if (!closed) return closed.error();
    const auto d = workorders::on_ticket_event(site_id, event, *open, *closed, now, policy_);
    using A = workorders::Decision::Action;
    if (d.action == A::ignore) {
        PVF_LOG(debug, "workorders", site_id << "/" << t.id << ": " << d.audit_note);
        return {};
    }
    const std::optional<workorders::WorkOrder>& before = d.action == A::reopen ? *closed : *open;
    auto saved =
        save_work_order(db, d.result, d.action == A::create ? std::nullopt : before, "gateway:" + site_id,
                        std::string(workorders::to_string(d.action)) + ": " + d.audit_note, now);
    if (!saved) return saved.error();
    if (d.action == A::create)
        ++outcome.work_orders_created;
    else
        ++outcome.work_orders_updated;
    PVF_LOG(info, "workorders",
            "work order " << saved->id << " " << workorders::to_string(d.action) << " for " << site_id << "/"
                          << t.device_id << " " << domain::to_string(t.kind)
                          << (t.input ? " input " + std::to_string(*t.input) : std::string()) << " ("
                          << domain::to_string(t.severity) << ")");
    return {};
}

}  // namespace pvfleet::storage
