// Projects (docs/projects.md): the conversion of a lead, projects and their milestones, the board, stage
// templates, and the in-app inbox. Project managers see their own projects, sales reps the projects of the
// leads they converted, the back office and admins all of them.
#include <set>

#include "common.hpp"
#include "pvfleet/documents/documents.hpp"
#include "pvfleet/leads/repository.hpp"
#include "pvfleet/projects/contracts.hpp"
#include "pvfleet/projects/handover.hpp"
#include "pvfleet/projects/import.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::api::detail {
namespace {

const std::vector<std::string> kProjectReaders{"admin", "back_office", "manager", "project_manager", "sales"};
const std::vector<std::string> kProjectWriters{"admin", "back_office", "project_manager"};
const std::vector<std::string> kMilestoneWriters{"admin", "back_office", "project_manager", "sales"};
const std::vector<std::string> kConverters{"admin", "back_office", "sales"};

json project_json(const projects::Project& p) {
    return {{"id", p.id},
            {"name", p.name},
            {"customer_id", p.customer_id},
            {"site_id", opt_json(p.site_id)},
            {"lead_id", opt_json(p.lead_id)},
            {"template", p.template_name},
            {"stage", p.stage},
            {"stage_since", format_iso8601(p.stage_since)},
            {"status", enum_name(projects::kProjectStatusNames, p.status)},
            {"manager", opt_json(p.manager)},
            {"sales_rep", opt_json(p.sales_rep)},
            {"region", p.region},
            {"started_on", p.started_on},
            {"created_by", p.created_by},
            {"created_at", format_iso8601(p.created_at)},
            {"updated_at", format_iso8601(p.updated_at)},
            {"version", p.version}};
}

json milestone_json(const projects::Milestone& m, const projects::Project& p, TimePoint now) {
    json checklist = json::array();
    for (const auto& c : m.checklist) checklist.push_back({{"item", c.item}, {"done", c.done}});
    const auto deadline = projects::deadline_of(m);
    return {
        {"id", m.id},
        {"project_id", m.project_id},
        {"stage", m.stage},
        {"key", m.key},
        {"title", m.title},
        {"owner", opt_json(m.owner)},
        {"planned_on", opt_json(m.planned_on)},
        {"done_on", opt_json(m.done_on)},
        {"deadline", time_json(deadline)},
        {"colour", m.stage == p.stage || m.done_on
                       ? enum_name(projects::kColourNames, projects::milestone_colour(m, p.stage_since, now))
                       : std::string_view("green")},
        {"checklist", checklist},
        {"required_documents", m.required_documents},
        {"snoozed_until", time_json(m.snoozed_until)},
        {"version", m.version}};
}


// A project the caller may see: 404 for a missing one and for another's (project managers: their own; sales
// reps: those of the leads they converted).
Checked<projects::Project> load_visible_project(ApiContext& ctx, const Request& req) {
    auto id = number_param(req, "id", "project");
    if (!id) return id.refusal();
    auto p = projects::get_project(*ctx.db, *id);
    if (!p) return from_error(p.error());
    const bool mine = *p && ((req.role == "project_manager" && (*p)->manager == req.user) ||
                             (req.role == "sales" && (*p)->sales_rep == req.user));
    if (!*p || ((req.role == "project_manager" || req.role == "sales") && !mine))
        return problem(404, "Not Found",
                       "no project " + std::to_string(*id) +
                           (req.role == "project_manager" || req.role == "sales" ? " of yours" : ""));
    return **p;
}

// The list filters of a query; a project manager's and a rep's own projects whatever they ask.
projects::ProjectQuery query_of(const Request& req) {
    projects::ProjectQuery q;
    if (auto v = req.query_param("manager"); v && !v->empty()) q.manager = *v;
    if (auto v = req.query_param("region"); v && !v->empty()) q.region = *v;
    if (auto v = req.query_param("stage"); v && !v->empty()) q.stage = *v;
    if (req.role == "project_manager") q.manager = req.user;
    if (req.role == "sales") q.sales_rep = req.user;
    return q;
}

Response get_projects(ApiContext& ctx, Request& req) {
    long long limit = 100;
    long long cursor = 0;
    long long customer = 0;
    if (auto p = query_int(req, "limit", 1, 1000, limit); !p) return p.refusal();
    if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor); !p) return p.refusal();
    if (auto p = query_int(req, "customer_id", 1, INT64_MAX, customer); !p) return p.refusal();
    auto q = query_of(req);
    q.after_id = cursor;
    q.limit = static_cast<int>(limit);
    if (customer > 0) q.customer_id = customer;
    q.include_cancelled = req.query_param("cancelled").value_or("") == "1";
    auto list = projects::list_projects(*ctx.db, q);
    if (!list) return from_error(list.error());
    json items = json::array();
    for (const auto& p : *list) items.push_back(project_json(p));
    const bool full = static_cast<long long>(list->size()) == limit;
    return json_response(
        200,
        {{"items", items}, {"next_cursor", full ? json(std::to_string(list->back().id)) : json(nullptr)}});
}

// GET /api/projects/board: a column per stage of the default template (then any other template's stages), a
// card per project with its colour (docs/projects.md, "Deadlines and colours").
Response get_board(ApiContext& ctx, Request& req) {
    auto q = query_of(req);
    json columns = json::array();
    std::map<std::string, std::size_t> column_of;
    auto add_column = [&](const projects::StageTemplate& s) {
        if (column_of.contains(s.key)) return;
        column_of[s.key] = columns.size();
        columns.push_back({{"stage", s.key}, {"title", s.title}, {"cards", json::array()}});
    };
    if (const auto* t = ctx.project_settings.find(ctx.project_settings.default_template))
        for (const auto& s : t->stages) add_column(s);
    for (const auto& t : ctx.project_settings.templates)
        for (const auto& s : t.stages) add_column(s);
    const TimePoint now = ctx.clock->now();
    std::map<std::string, int> counts{{"green", 0}, {"yellow", 0}, {"red", 0}};
    // Every page of the filtered projects (the board is the whole pipeline, not a page of it).
    for (;;) {
        q.limit = 1000;
        auto page = projects::list_projects(*ctx.db, q);
        if (!page) return from_error(page.error());
        std::vector<std::int64_t> ids;
        for (const auto& p : *page) ids.push_back(p.id);
        auto milestones = projects::milestones_of(*ctx.db, ids);
        if (!milestones) return from_error(milestones.error());
        for (const auto& p : *page) {
            const auto colour = projects::project_colour(p, *milestones, now);
            ++counts[std::string(enum_name(projects::kColourNames, colour))];
            // The next deadline of the stage: its earliest open milestone's.
            json next = nullptr;
            for (const auto& m : *milestones)
                if (m.project_id == p.id && m.stage == p.stage && !m.done_on) {
                    const auto d = projects::deadline_of(m);
                    if (next.is_null() || (d && (next["deadline"].is_null() ||
                                                 format_iso8601(*d) < next["deadline"].get<std::string>())))
                        next = {{"id", m.id},
                                {"key", m.key},
                                {"title", m.title},
                                {"owner", opt_json(m.owner)},
                                {"deadline", time_json(d)}};
                }
            json card = {{"id", p.id},
                         {"name", p.name},
                         {"manager", opt_json(p.manager)},
                         {"region", p.region},
                         {"status", enum_name(projects::kProjectStatusNames, p.status)},
                         {"stage_since", format_iso8601(p.stage_since)},
                         {"colour", enum_name(projects::kColourNames, colour)},
                         {"next", next}};
            if (!column_of.contains(p.stage)) {
                column_of[p.stage] = columns.size();
                columns.push_back({{"stage", p.stage}, {"title", p.stage}, {"cards", json::array()}});
            }
            columns[column_of[p.stage]]["cards"].push_back(card);
        }
        if (static_cast<int>(page->size()) < q.limit) break;
        q.after_id = page->back().id;
    }
    return json_response(200, {{"columns", columns}, {"counts", counts}, {"at", format_iso8601(now)}});
}

// The project's timeline, oldest first: the lead's inquiries and touches, milestones planned and done (and by
// whom: a person, an import, the handover), the site's first production, reminders sent, the contract's
// payments and instalments due, the work orders of its site created and closed, and its documents uploaded.
Checked<json> timeline(ApiContext& ctx, const projects::Project& p,
                       const std::vector<projects::Milestone>& ms, const std::vector<documents::Document>& docs,
                       TimePoint now) {
    std::vector<std::pair<std::string, json>> events;  // (ISO time, event): ISO-8601 sorts as text
    if (p.lead_id) {
        auto touches = leads::list_touches(*ctx.db, *ctx.cipher, *p.lead_id);
        if (!touches) return from_error(touches.error());
        for (const auto& t : *touches)
            events.emplace_back(format_iso8601(t.at),
                                json{{"kind", "touch"},
                                     {"at", format_iso8601(t.at)},
                                     {"by", t.by},
                                     {"touch", enum_name(leads::kTouchKindNames, t.kind)},
                                     {"outcome", enum_name(leads::kOutcomeNames, t.outcome)},
                                     {"notes", t.notes}});
        auto inquiries = leads::list_inquiries(*ctx.db, *ctx.cipher, *p.lead_id);
        if (!inquiries) return from_error(inquiries.error());
        for (const auto& i : *inquiries)
            events.emplace_back(format_iso8601(i.at),
                                json{{"kind", "inquiry"},
                                     {"at", format_iso8601(i.at)},
                                     {"source", enum_name(leads::kSourceNames, i.source)},
                                     {"message", i.message}});
    }
    auto done_by = projects::milestones_done_by(*ctx.db, ms);
    if (!done_by) return from_error(done_by.error());
    for (const auto& m : ms) {
        if (m.done_on) {
            events.emplace_back(
                *m.done_on + "T00:00:00.000Z",
                json{{"kind", "milestone_done"},
                     {"at", *m.done_on},
                     {"milestone_id", m.id},
                     {"key", m.key},
                     {"title", m.title},
                     {"planned_on", opt_json(m.planned_on)},
                     {"by", done_by->contains(m.id) ? json(done_by->at(m.id)) : json(nullptr)}});
        } else if (m.planned_on) {
            events.emplace_back(*m.planned_on + "T00:00:00.000Z", json{{"kind", "milestone_planned"},
                                                                       {"at", *m.planned_on},
                                                                       {"milestone_id", m.id},
                                                                       {"key", m.key},
                                                                       {"title", m.title}});
        }
    }
    // The gateway's side: the site's first production, when it commissioned the project.
    auto handover = projects::handover_of_project(*ctx.db, p.id);
    if (!handover) return from_error(handover.error());
    if (*handover) {
        const auto& f = (*handover)->first;
        events.emplace_back(format_iso8601(f.at), json{{"kind", "first_production"},
                                                       {"at", format_iso8601(f.at)},
                                                       {"site_id", (*handover)->site_id},
                                                       {"device_id", f.device_id},
                                                       {"power_w", f.power_w},
                                                       {"commissioned_on", (*handover)->commissioned_on}});
    }
    auto reminders = projects::reminders_of_project(*ctx.db, p.id);
    if (!reminders) return from_error(reminders.error());
    for (const auto& r : *reminders)
        events.emplace_back(format_iso8601(r.sent_at), json{{"kind", "reminder"},
                                                            {"at", format_iso8601(r.sent_at)},
                                                            {"rule", r.rule},
                                                            {"level", r.level},
                                                            {"milestone_id", r.milestone_id},
                                                            {"recipients", r.recipients}});
    // Money: the contract's payments and its instalments' due days (bounded by the contract's own limits).
    auto contract = projects::contract_detail(*ctx.db, p.id, now);
    if (!contract) return from_error(contract.error());
    if (*contract) {
        const std::string& currency = (*contract)->contract.currency;
        for (const auto& pay : (*contract)->payments)
            events.emplace_back(pay.paid_on + "T00:00:00.000Z",
                                json{{"kind", "payment"},
                                     {"at", pay.paid_on},
                                     {"amount", pay.amount},
                                     {"currency", pay.currency},
                                     {"method", enum_name(projects::kPaymentMethodNames, pay.method)}});
        for (const auto& i : (*contract)->plan.instalments)
            if (i.due_on)
                events.emplace_back(*i.due_on + "T00:00:00.000Z",
                                    json{{"kind", "instalment_due"},
                                         {"at", *i.due_on},
                                         {"label", i.instalment.label},
                                         {"amount", i.amount},
                                         {"paid", i.paid},
                                         {"currency", currency},
                                         {"state", enum_name(projects::kInstalmentStateNames, i.state)}});
    }
    // The work orders of the project's site (else of its customer), the newest 200: created and closed.
    storage::WorkOrderQuery wq;
    if (p.site_id)
        wq.site_id = p.site_id;
    else
        wq.customer_id = p.customer_id;
    wq.limit = 200;
    auto orders = storage::list_work_orders(*ctx.db, wq);
    if (!orders) return from_error(orders.error());
    for (const auto& o : orders->items) {
        const json order{{"work_order_id", o.order.id},
                         {"site_id", o.order.site_id},
                         {"state", workorders::to_string(o.order.state)},
                         {"summary", o.order.summary}};
        json created = order;
        created["kind"] = "work_order";
        created["at"] = format_iso8601(o.order.created_at);
        events.emplace_back(format_iso8601(o.order.created_at), std::move(created));
        if (o.order.closed_at) {
            json closed = order;
            closed["kind"] = "work_order_closed";
            closed["at"] = format_iso8601(*o.order.closed_at);
            events.emplace_back(format_iso8601(*o.order.closed_at), std::move(closed));
        }
    }
    // The project's documents as they were uploaded (the live ones; the list is the project's own, bounded by
    // what one project collects).
    for (const auto& d : docs)
        events.emplace_back(format_iso8601(d.uploaded_at),
                            json{{"kind", "document"},
                                 {"at", format_iso8601(d.uploaded_at)},
                                 {"document_id", d.id},
                                 {"category", enum_name(documents::kCategoryNames, d.category)},
                                 {"file_name", d.file_name},
                                 {"by", d.uploaded_by}});
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    json out = json::array();
    for (auto& [at, e] : events) out.push_back(std::move(e));
    return out;
}

Response get_project(ApiContext& ctx, Request& req) {
    auto p = load_visible_project(ctx, req);
    if (!p) return p.refusal();
    auto ms = projects::list_milestones(*ctx.db, p->id);
    if (!ms) return from_error(ms.error());
    const TimePoint now = ctx.clock->now();
    json j = project_json(*p);
    j["colour"] = enum_name(projects::kColourNames, projects::project_colour(*p, *ms, now));
    // The documents its template asks of each milestone that the project has none of yet (by category).
    auto docs = documents::list_documents(*ctx.db, documents::OwnerKind::project, p->id);
    if (!docs) return from_error(docs.error());
    std::set<std::string> present;
    for (const auto& d : *docs) present.insert(std::string(enum_name(documents::kCategoryNames, d.category)));
    json mj = json::array();
    for (const auto& m : *ms) {
        json one = milestone_json(m, *p, now);
        json missing = json::array();
        for (const auto& kind : m.required_documents)
            if (!present.contains(kind)) missing.push_back(kind);
        one["documents_missing"] = missing;
        mj.push_back(std::move(one));
    }
    j["milestones"] = mj;
    auto events = timeline(ctx, *p, *ms, *docs, now);
    if (!events) return events.refusal();
    j["timeline"] = *events;
    return versioned_response(200, j, p->version);
}

Response post_project(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(
            req, {"name", "customer_id", "site_id", "manager", "region", "template", "started_on"}, b);
        !p)
        return p.refusal();
    projects::NewProject n;
    std::int64_t customer = 0;
    BodyReader read(b);
    read.text("name", n.name, 200, true)
        .integer("customer_id", customer, 1, INT64_MAX)
        .nullable_text("site_id", n.site_id, 64)
        .nullable_text("manager", n.manager, 64)
        .text("region", n.region, 200)
        .text("template", n.template_name, 64)
        .nullable_text("started_on", n.started_on, 16);
    if (auto s = read.status(); !s) return s.refusal();
    if (!b.contains("customer_id"))
        return problem(400, "Bad Request", "customer_id: required", "customer_id");
    n.customer_id = customer;
    if (req.role == "project_manager") {
        if (n.manager && *n.manager != req.user)
            return problem(403, "Forbidden", "manager: a project manager's new projects are their own",
                           "manager");
        n.manager = req.user;
    }
    auto created = projects::create_project(*ctx.db, ctx.project_settings, n, req.user, ctx.clock->now());
    if (!created) return from_error(created.error());
    Response r = versioned_response(201, project_json(*created), created->version);
    r.headers.emplace("Location", "/api/projects/" + std::to_string(created->id));
    return r;
}

Response patch_project(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"name", "site_id", "manager", "region", "status"}, b); !p)
        return p.refusal();
    projects::Project scratch;
    std::string status;
    BodyReader read(b);
    read.text("name", scratch.name, 200)
        .nullable_text("site_id", scratch.site_id, 64)
        .nullable_text("manager", scratch.manager, 64)
        .text("region", scratch.region, 200)
        .text("status", status, 32);
    if (auto s = read.status(); !s) return s.refusal();
    if (b.contains("status") && !enum_from_name(projects::kProjectStatusNames, status))
        return problem(400, "Bad Request",
                       "status: unknown '" + status + "' (expected " +
                           enum_names_list(projects::kProjectStatusNames) + ")",
                       "status");
    if (req.role == "project_manager" && b.contains("manager"))
        return problem(403, "Forbidden", "manager: only the back office hands a project over", "manager");
    return patch_versioned(
        req, [&] { return load_visible_project(ctx, req); },
        [&](const projects::Project& current) {
            projects::Project next = current;
            BodyReader again(b);
            again.text("name", next.name, 200)
                .nullable_text("site_id", next.site_id, 64)
                .nullable_text("manager", next.manager, 64)
                .text("region", next.region, 200);
            if (b.contains("status")) next.status = *enum_from_name(projects::kProjectStatusNames, status);
            return projects::update_project(*ctx.db, ctx.project_settings, next, current.version, req.user,
                                            ctx.clock->now());
        },
        project_json);
}

// A milestone change from a body: each member present changes its field (null clears a date or the owner).
Checked<projects::MilestoneChange> milestone_change(const json& b) {
    projects::MilestoneChange c;
    auto nullable = [&](const char* key, std::optional<std::optional<std::string>>& out) -> Checked<> {
        if (!b.contains(key)) return {};
        std::optional<std::string> v;
        BodyReader read(b);
        read.nullable_text(key, v, 64);
        if (auto s = read.status(); !s) return s;
        out = v;
        return {};
    };
    for (auto [key, out] :
         {std::pair{"owner", &c.owner}, {"planned_on", &c.planned_on}, {"done_on", &c.done_on}})
        if (auto s = nullable(key, *out); !s) return s.refusal();
    if (b.contains("snoozed_until")) {
        if (b["snoozed_until"].is_null()) {
            c.snoozed_until = std::optional<TimePoint>{};
        } else {
            std::string text;
            BodyReader read(b);
            read.text("snoozed_until", text, 64);
            if (auto s = read.status(); !s) return s.refusal();
            auto t = parse_iso8601(text);
            if (!t)
                return problem(400, "Bad Request", "snoozed_until: " + t.error().message, "snoozed_until");
            c.snoozed_until = std::optional<TimePoint>{*t};
        }
    }
    if (b.contains("checklist")) {
        const json* items = nullptr;
        BodyReader read(b);
        read.array("checklist", items, 100);
        if (auto s = read.status(); !s) return s.refusal();
        std::vector<projects::ChecklistItem> list;
        for (std::size_t i = 0; i < items->size(); ++i) {
            const std::string at = "checklist/" + std::to_string(i);
            const json& item = (*items)[i];
            if (!item.is_object())
                return problem(400, "Bad Request",
                               at + ": expected {\"item\": text, \"done\": true or false}", at);
            for (const auto& [k, v] : item.items())
                if (k != "item" && k != "done")
                    return problem(400, "Bad Request",
                                   at + "/" + k + ": unknown member (expected done, item)", at + "/" + k);
            if (!item.contains("item") || !item["item"].is_string())
                return problem(400, "Bad Request", at + "/item: expected a string", at + "/item");
            if (item.contains("done") && !item["done"].is_boolean())
                return problem(400, "Bad Request", at + "/done: expected true or false", at + "/done");
            list.push_back({item["item"].get<std::string>(), item.value("done", false)});
        }
        c.checklist = list;
    }
    return c;
}

Response patch_milestone(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"owner", "planned_on", "done_on", "checklist", "snoozed_until"}, b); !p)
        return p.refusal();
    auto change = milestone_change(b);
    if (!change) return change.refusal();
    auto mid = number_param(req, "milestone_id", "milestone");
    if (!mid) return mid.refusal();
    std::optional<projects::Project> after;  // the project once the stage followed
    return patch_versioned(
        req,
        [&]() -> Checked<projects::Milestone> {
            auto p = load_visible_project(ctx, req);
            if (!p) return p.refusal();
            auto ms = projects::list_milestones(*ctx.db, p->id);
            if (!ms) return from_error(ms.error());
            for (const auto& m : *ms)
                if (m.id == *mid) {
                    // A sales rep changes the milestones they own (the contract's), nothing else (404, as for
                    // others' projects).
                    if (req.role == "sales" && m.owner != req.user)
                        return problem(404, "Not Found",
                                       "no milestone " + std::to_string(*mid) + " of yours");
                    after = *p;
                    return m;
                }
            return problem(404, "Not Found",
                           "no milestone " + std::to_string(*mid) + " in project " + std::to_string(p->id));
        },
        [&](const projects::Milestone& current) -> Result<projects::Milestone> {
            auto r = projects::update_milestone(*ctx.db, ctx.project_settings, current.project_id, current.id,
                                                *change, current.version, req.user, ctx.clock->now());
            if (!r) return r.error();
            after = r->project;
            return r->milestone;
        },
        [&](const projects::Milestone& m) {
            json j = milestone_json(m, *after, ctx.clock->now());
            j["project"] = project_json(*after);
            return j;
        });
}

// POST /api/leads/{id}/convert.
Response post_convert(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"project_name", "manager", "template", "started_on", "site"}, b); !p)
        return p.refusal();
    projects::Conversion c;
    BodyReader read(b);
    read.text("project_name", c.project_name, 200)
        .nullable_text("manager", c.manager, 64)
        .text("template", c.template_name, 64)
        .nullable_text("started_on", c.started_on, 16);
    if (auto s = read.status(); !s) return s.refusal();
    if (b.contains("site") && !b["site"].is_null()) {
        const json& sb = b["site"];
        if (!sb.is_object()) return problem(400, "Bad Request", "site: expected an object", "site");
        for (const auto& [k, v] : sb.items())
            if (k != "site_id" && k != "name" && k != "address" && k != "latitude" && k != "longitude" &&
                k != "time_zone")
                return problem(400, "Bad Request",
                               "site/" + k +
                                   ": unknown member (expected address, latitude, longitude, name, site_id, "
                                   "time_zone)",
                               "site/" + k);
        records::Site s;
        BodyReader sr(sb, "site/");
        sr.text("site_id", s.site_id, 64, true)
            .text("name", s.name, 200)
            .text("address", s.address, 1000)
            .nullable_number("latitude", s.latitude)
            .nullable_number("longitude", s.longitude)
            .text("time_zone", s.time_zone, 64);
        if (auto st = sr.status(); !st) return st.refusal();
        c.site = s;
    }
    auto id = number_param(req, "id", "lead");
    if (!id) return id.refusal();
    c.lead_id = *id;
    if (req.role == "sales") c.only_assignee = req.user;
    auto converted = projects::convert_lead(*ctx.db, *ctx.cipher, ctx.project_settings, ctx.lead_settings, c,
                                            req.user, ctx.clock->now());
    if (!converted && converted.error().kind == ErrorKind::conflict)
        return problem(409, "Conflict", converted.error().message, converted.error().path);
    if (!converted) return from_error(converted.error());
    Response r = json_response(201, {{"lead_id", c.lead_id},
                                     {"customer_id", converted->customer_id},
                                     {"site_id", opt_json(converted->site_id)},
                                     {"project_id", converted->project.id},
                                     {"project", project_json(converted->project)}});
    r.headers.emplace("Location", "/api/projects/" + std::to_string(converted->project.id));
    return r;
}

// POST /api/projects/import: {csv}, all or nothing.
Response post_project_import(ApiContext& ctx, Request& req) {
    constexpr std::size_t kMaxBody = 64 * 1024 * 1024;  // the CSV itself is bounded by the import
    if (req.body.size() > kMaxBody) return problem(413, "Content Too Large", "the body is too large");
    json b;
    if (auto p = parse_body(req, {"csv"}, b); !p) return p.refusal();
    std::string csv;
    BodyReader read(b);
    read.text("csv", csv, kMaxBody, true);
    if (auto s = read.status(); !s) return s.refusal();
    auto report =
        projects::import_projects_csv(*ctx.db, ctx.project_settings, csv, req.user, ctx.clock->now());
    if (!report) return from_error(report.error());
    json errors = json::array();
    for (const auto& e : report->errors)
        errors.push_back({{"line", e.line}, {"column", e.column}, {"message", e.message}});
    return json_response(report->committed ? 200 : 422, {{"rows", report->rows},
                                                         {"projects_created", report->projects_created},
                                                         {"committed", report->committed},
                                                         {"errors", errors}});
}

json templates_json(const projects::ProjectSettings& s) {
    json items = json::array();
    for (const auto& t : s.templates) {
        json stages = json::array();
        for (const auto& st : t.stages) {
            json ms = json::array();
            for (const auto& m : st.milestones)
                ms.push_back({{"key", m.key},
                              {"title", m.title},
                              {"owner", m.owner},
                              {"due_days", m.due_days},
                              {"checklist", m.checklist},
                              {"required_documents", m.required_documents}});
            stages.push_back({{"key", st.key}, {"title", st.title}, {"milestones", ms}});
        }
        items.push_back({{"name", t.name}, {"default", t.name == s.default_template}, {"stages", stages}});
    }
    return {{"items", items}};
}

}  // namespace

void add_project_routes(Router& router, ApiContext& ctx) {
    router.add(
        "POST", "/api/leads/{id}/convert",
        {"Convert a lead into a customer, optionally a site, and a project (409 when converted already)",
         kConverters, "projects"},
        [&ctx](Request& req) { return post_convert(ctx, req); });
    router.add("GET", "/api/project-templates",
               {"Stage templates with their milestones", kProjectReaders, "projects"},
               [&ctx](Request&) { return json_response(200, templates_json(ctx.project_settings)); });
    router.add("GET", "/api/projects",
               {"Projects (manager, region, stage, customer_id, cancelled=1; cursor; project managers and "
                "sales reps: "
                "their own)",
                kProjectReaders, "projects"},
               [&ctx](Request& req) { return get_projects(ctx, req); });
    router.add("POST", "/api/projects",
               {"Create a project from a stage template", kProjectWriters, "projects"},
               [&ctx](Request& req) { return post_project(ctx, req); });
    router.add(
        "POST", "/api/projects/import",
        {"Import projects from CSV with their milestone dates (all or nothing; errors by line and column)",
         kOfficeRoles, "projects"},
        [&ctx](Request& req) { return post_project_import(ctx, req); });
    router.add("GET", "/api/projects/board",
               {"The board: a column per stage, cards coloured by deadline (manager, region, stage)",
                kProjectReaders, "projects"},
               [&ctx](Request& req) { return get_board(ctx, req); });
    router.add("GET", "/api/projects/{id}",
               {"One project with its milestones and timeline", kProjectReaders, "projects"},
               [&ctx](Request& req) { return get_project(ctx, req); });
    router.add("PATCH", "/api/projects/{id}",
               {"Change a project (If-Match required)", kProjectWriters, "projects"},
               [&ctx](Request& req) { return patch_project(ctx, req); });
    router.add("PATCH", "/api/projects/{id}/milestones/{milestone_id}",
               {"Change a milestone: owner, dates, checklist, snooze (If-Match: the milestone's ETag)",
                kMilestoneWriters, "projects"},
               [&ctx](Request& req) { return patch_milestone(ctx, req); });
}

}  // namespace pvfleet::api::detail
