// Leads (docs/crm.md): the back office's and the reps' routes, capture channels, the CSV import, and the public
// capture route for the company's website and campaign forms. Sales reps see and change only their own leads.
#include "common.hpp"
#include "pvfleet/leads/import.hpp"
#include "pvfleet/leads/repository.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::api::detail {
namespace {

const std::vector<std::string> kLeadReaders{"admin", "back_office", "manager", "sales"};
const std::vector<std::string> kLeadWriters{"admin", "back_office", "sales"};
const std::vector<std::string> kAdminOnly{"admin"};

constexpr std::size_t kMaxImportBodyBytes = 64 * 1024 * 1024;  // leads/import/max_bytes bounds the CSV itself


json utm_json(const leads::Utm& u) {
    return {{"source", u.source}, {"medium", u.medium}, {"campaign", u.campaign}, {"term", u.term}, {"content", u.content}};
}

json lead_json(const ApiContext& ctx, const leads::Lead& l) {
    json detail = json::object();
    for (const auto& [rule, points] : l.score_detail) detail[rule] = points;
    const auto sla = leads::sla_status(l, ctx.lead_settings.sla, ctx.clock->now());
    return {{"id", l.id},
            {"status", enum_name(leads::kStatusNames, l.status)},
            {"name", l.name},
            {"phone", l.phone},
            {"email", l.email},
            {"address", l.address},
            {"postcode", l.postcode},
            {"region", l.region},
            {"roof_type", enum_name(leads::kRoofNames, l.roof_type)},
            {"monthly_bill", opt_json(l.monthly_bill)},
            {"annual_consumption_kwh", opt_json(l.annual_consumption_kwh)},
            {"desired_kwp", opt_json(l.desired_kwp)},
            {"budget", opt_json(l.budget)},
            {"notes", l.notes},
            {"source", enum_name(leads::kSourceNames, l.source)},
            {"channel_id", opt_json(l.channel_id)},
            {"utm", utm_json(l.utm)},
            {"consent_contact", l.consent_contact},
            {"consent_marketing", l.consent_marketing},
            {"score", l.score},
            {"score_detail", detail},
            {"assignee", opt_json(l.assignee)},
            {"assigned_at", time_json(l.assigned_at)},
            {"first_touch_at", time_json(l.first_touch_at)},
            {"last_touch_at", time_json(l.last_touch_at)},
            {"next_step_on", opt_json(l.next_step_on)},
            {"customer_id", opt_json(l.customer_id)},
            {"created_by", l.created_by},
            {"created_at", format_iso8601(l.created_at)},
            {"updated_at", format_iso8601(l.updated_at)},
            {"version", l.version},
            {"sla",
             {{"due_at", time_json(sla.due_at)},
              {"overdue", sla.overdue},
              {"reason", sla.due_at ? json(sla.reason) : json(nullptr)}}}};
}

json touch_json(const leads::Touch& t) {
    return {{"id", t.id},
            {"lead_id", t.lead_id},
            {"kind", enum_name(leads::kTouchKindNames, t.kind)},
            {"at", format_iso8601(t.at)},
            {"by", t.by},
            {"outcome", enum_name(leads::kOutcomeNames, t.outcome)},
            {"notes", t.notes},
            {"next_step_on", opt_json(t.next_step_on)}};
}

json channel_json(const leads::Channel& c) {
    return {{"id", c.id},
            {"name", c.name},
            {"source", enum_name(leads::kSourceNames, c.source)},
            {"region", c.region},
            {"key_hint", c.key_hint},
            {"disabled", c.disabled},
            {"created_by", c.created_by},
            {"created_at", format_iso8601(c.created_at)}};
}

Checked<> read_flag(const json& b, const char* key, bool& out) {
    const auto it = b.find(key);
    if (it == b.end()) return {};
    if (!it->is_boolean()) return problem(400, "Bad Request", std::string(key) + ": expected true or false", key);
    out = it->get<bool>();
    return {};
}

template <class E, std::size_t N>
Checked<> read_choice(const json& b, const char* key, const EnumNames<E, N>& names, E& out) {
    std::string text;
    BodyReader read(b);
    read.text(key, text, 64);
    if (auto s = read.status(); !s) return s;
    if (!b.contains(key)) return {};
    auto v = enum_from_name(names, text);
    if (!v)
        return problem(400, "Bad Request",
                       std::string(key) + ": unknown '" + text + "' (expected " + enum_names_list(names) + ")", key);
    out = *v;
    return {};
}

const std::set<std::string> kLeadFields{"name",     "phone",        "email",       "address",
                                        "postcode", "region",       "roof_type",   "monthly_bill",
                                        "annual_consumption_kwh",   "desired_kwp", "budget",
                                        "notes",    "consent_contact", "consent_marketing"};

// The lead fields of a body; a missing member keeps `l`'s value.
Checked<> lead_from(const json& b, leads::Lead& l) {
    BodyReader read(b);
    read.text("name", l.name, 1000)
        .text("phone", l.phone, 1000)
        .text("email", l.email, 1000)
        .text("address", l.address, 1000)
        .text("postcode", l.postcode, 64)
        .text("region", l.region, 200)
        .nullable_number("monthly_bill", l.monthly_bill)
        .nullable_number("annual_consumption_kwh", l.annual_consumption_kwh)
        .nullable_number("desired_kwp", l.desired_kwp)
        .nullable_number("budget", l.budget)
        .text("notes", l.notes, 10'000);
    if (auto s = read.status(); !s) return s;
    if (auto s = read_choice(b, "roof_type", leads::kRoofNames, l.roof_type); !s) return s;
    if (auto s = read_flag(b, "consent_contact", l.consent_contact); !s) return s;
    return read_flag(b, "consent_marketing", l.consent_marketing);
}

Checked<> utm_from(const json& b, leads::Utm& u) {
    BodyReader read(b);
    read.text("utm_source", u.source, 1000)
        .text("utm_medium", u.medium, 1000)
        .text("utm_campaign", u.campaign, 1000)
        .text("utm_term", u.term, 1000)
        .text("utm_content", u.content, 1000);
    return read.status();
}

Checked<std::int64_t> id_param(const Request& req, const char* what) {
    const auto n = parse_number<std::int64_t>(req.params.at("id"));
    if (!n || *n < 1) return problem(400, "Bad Request", std::string("id: expected a ") + what + " number", "id");
    return *n;
}

// A lead the caller may see: 404 for a missing one and for a sales rep's look at another rep's lead.
Checked<leads::Lead> load_visible_lead(ApiContext& ctx, const Request& req) {
    auto id = id_param(req, "lead");
    if (!id) return id.refusal();
    auto l = leads::get_lead(*ctx.db, *ctx.cipher, *id);
    if (!l) return from_error(l.error());
    if (!*l || (req.role == "sales" && (*l)->assignee != req.user))
        return problem(404, "Not Found", "no lead " + std::to_string(*id) + (req.role == "sales" ? " of yours" : ""));
    return **l;
}

// POST /api/leads: a lead from the back office or a rep (a rep's own lead unless it repeats a known person).
Response post_lead(ApiContext& ctx, Request& req) {
    json b;
    std::set<std::string> allowed = kLeadFields;
    for (const char* k : {"source", "message", "assignee", "utm_source", "utm_medium", "utm_campaign", "utm_term",
                          "utm_content"})
        allowed.insert(k);
    if (auto p = parse_body(req, allowed, b); !p) return p.refusal();
    leads::Lead l;
    l.source = leads::Source::phone;
    std::string message;
    std::optional<std::string> assignee;
    BodyReader read(b);
    read.text("message", message, 10'000).nullable_text("assignee", assignee, 64);
    if (auto s = read.status(); !s) return s.refusal();
    if (auto s = lead_from(b, l); !s) return s.refusal();
    if (auto s = utm_from(b, l.utm); !s) return s.refusal();
    if (auto s = read_choice(b, "source", leads::kSourceNames, l.source); !s) return s.refusal();
    if (req.role == "sales") {
        if (assignee && *assignee != req.user)
            return problem(403, "Forbidden", "assignee: a sales rep's new leads are their own", "assignee");
        assignee = req.user;
    }
    auto c = leads::capture(*ctx.db, *ctx.cipher, l, message, ctx.lead_settings, assignee, req.user, ctx.clock->now());
    if (!c) return from_error(c.error());
    json out = {{"outcome", enum_name(leads::kCapturedNames, c->outcome)}, {"inquiry_id", c->inquiry_id}};
    if (c->customer_id) out["customer_id"] = *c->customer_id;
    if (c->lead) {
        out["lead_id"] = c->lead->id;
        // A rep learns that the person is another rep's lead, not what it holds.
        if (req.role != "sales" || c->lead->assignee == req.user) out["lead"] = lead_json(ctx, *c->lead);
    }
    Response r = json_response(c->outcome == leads::Captured::created ? 201 : 200, out);
    if (c->lead) r.headers.emplace("Location", "/api/leads/" + std::to_string(c->lead->id));
    return r;
}

Response get_leads(ApiContext& ctx, Request& req) {
    long long limit = 50;
    long long cursor = 0;
    if (auto p = query_int(req, "limit", 1, 500, limit); !p) return p.refusal();
    if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor); !p) return p.refusal();
    leads::LeadQuery q;
    q.after_id = cursor;
    q.limit = static_cast<int>(limit);
    if (auto s = req.query_param("status")) {
        q.status = enum_from_name(leads::kStatusNames, *s);
        if (!q.status)
            return problem(400, "Bad Request",
                           "status: unknown '" + *s + "' (expected " + enum_names_list(leads::kStatusNames) + ")",
                           "status");
    }
    if (auto a = req.query_param("assignee")) q.assignee = *a;
    q.unassigned = req.query_param("unassigned").value_or("") == "1";
    q.open_only = req.query_param("open").value_or("") == "1";
    const bool overdue_only = req.query_param("overdue").value_or("") == "1";
    if (req.role == "sales") {
        q.assignee = req.user;
        q.unassigned = false;
    }
    // Overdue is judged on the clock, not in SQL: read further pages until this one is full.
    json items = json::array();
    std::optional<std::int64_t> next;
    const TimePoint now = ctx.clock->now();
    for (;;) {
        auto page = leads::list_leads(*ctx.db, *ctx.cipher, q);
        if (!page) return from_error(page.error());
        for (const auto& l : *page) {
            q.after_id = l.id;
            if (overdue_only && !leads::sla_status(l, ctx.lead_settings.sla, now).overdue) continue;
            items.push_back(lead_json(ctx, l));
            if (static_cast<long long>(items.size()) == limit) break;
        }
        if (static_cast<long long>(items.size()) == limit) {
            next = q.after_id;
            break;
        }
        if (static_cast<int>(page->size()) < q.limit) break;
    }
    return json_response(200, {{"items", items}, {"next_cursor", next ? json(std::to_string(*next)) : json(nullptr)}});
}

Response get_lead(ApiContext& ctx, Request& req) {
    auto l = load_visible_lead(ctx, req);
    if (!l) return l.refusal();
    auto inquiries = leads::list_inquiries(*ctx.db, *ctx.cipher, l->id);
    if (!inquiries) return from_error(inquiries.error());
    auto touches = leads::list_touches(*ctx.db, *ctx.cipher, l->id);
    if (!touches) return from_error(touches.error());
    json j = lead_json(ctx, *l);
    json ij = json::array();
    for (const auto& i : *inquiries)
        ij.push_back({{"id", i.id},
                      {"at", format_iso8601(i.at)},
                      {"source", enum_name(leads::kSourceNames, i.source)},
                      {"channel_id", opt_json(i.channel_id)},
                      {"utm", utm_json(i.utm)},
                      {"message", i.message},
                      {"created_by", i.created_by}});
    json tj = json::array();
    for (const auto& t : *touches) tj.push_back(touch_json(t));
    j["inquiries"] = ij;
    j["touches"] = tj;
    // The conversion's links (server/projects): the customer is in "customer_id", the project here.
    auto project = projects::project_of_lead(*ctx.db, l->id);
    if (!project) return from_error(project.error());
    j["project_id"] = *project ? json((*project)->id) : json(nullptr);
    return versioned_response(200, j, l->version);
}

Response patch_lead(ApiContext& ctx, Request& req) {
    std::set<std::string> allowed = kLeadFields;
    allowed.insert("status");
    allowed.insert("assignee");
    json b;
    if (auto p = parse_body(req, allowed, b); !p) return p.refusal();
    // Every member's type first: a bad body is a 400 whatever the stored lead.
    leads::Lead unused;
    if (auto s = lead_from(b, unused); !s) return s.refusal();
    if (auto s = read_choice(b, "status", leads::kStatusNames, unused.status); !s) return s.refusal();
    BodyReader read(b);
    read.nullable_text("assignee", unused.assignee, 64);
    if (auto s = read.status(); !s) return s.refusal();
    if (req.role == "sales" && b.contains("assignee"))
        return problem(403, "Forbidden", "assignee: only the back office reassigns leads", "assignee");
    return patch_versioned(
        req, [&] { return load_visible_lead(ctx, req); },
        [&](const leads::Lead& current) {
            leads::Lead next = current;
            (void)lead_from(b, next);  // checked above
            (void)read_choice(b, "status", leads::kStatusNames, next.status);
            BodyReader again(b);
            again.nullable_text("assignee", next.assignee, 64);
            return leads::update_lead(*ctx.db, *ctx.cipher, next, current.version, ctx.lead_settings, req.user,
                                      ctx.clock->now());
        },
        [&](const leads::Lead& l) { return lead_json(ctx, l); });
}

Response post_touch(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"kind", "outcome", "at", "notes", "next_step_on"}, b); !p) return p.refusal();
    leads::Touch t;
    std::optional<std::string> at;
    BodyReader read(b);
    read.nullable_text("at", at, 64).text("notes", t.notes, 10'000).nullable_text("next_step_on", t.next_step_on, 32);
    if (auto s = read.status(); !s) return s.refusal();
    if (!b.contains("kind")) return problem(400, "Bad Request", "kind: required", "kind");
    if (!b.contains("outcome")) return problem(400, "Bad Request", "outcome: required", "outcome");
    if (auto s = read_choice(b, "kind", leads::kTouchKindNames, t.kind); !s) return s.refusal();
    if (auto s = read_choice(b, "outcome", leads::kOutcomeNames, t.outcome); !s) return s.refusal();
    t.at = ctx.clock->now();
    if (at) {
        auto parsed = parse_iso8601(*at);
        if (!parsed) return problem(400, "Bad Request", "at: " + parsed.error().message, "at");
        t.at = *parsed;
    }
    auto l = load_visible_lead(ctx, req);
    if (!l) return l.refusal();
    t.lead_id = l->id;
    auto saved = leads::add_touch(*ctx.db, *ctx.cipher, t, ctx.lead_settings, req.user, ctx.clock->now());
    if (!saved) return from_error(saved.error());
    return json_response(201, touch_json(*saved));
}

Response post_import(ApiContext& ctx, Request& req) {
    if (req.body.size() > kMaxImportBodyBytes) return problem(413, "Content Too Large", "the body is too large");
    json b;
    if (auto p = parse_body(req, {"csv"}, b); !p) return p.refusal();
    std::string csv;
    BodyReader read(b);
    read.text("csv", csv, kMaxImportBodyBytes, true);
    if (auto s = read.status(); !s) return s.refusal();
    auto report = leads::import_leads_csv(*ctx.db, *ctx.cipher, csv, ctx.lead_settings, req.user, ctx.clock->now());
    if (!report) return from_error(report.error());
    json errors = json::array();
    for (const auto& e : report->errors)
        errors.push_back({{"line", e.line}, {"column", e.column}, {"message", e.message}});
    return json_response(report->committed ? 200 : 422, {{"rows", report->rows},
                                                         {"leads_created", report->leads_created},
                                                         {"attached_to_leads", report->attached_to_leads},
                                                         {"attached_to_customers", report->attached_to_customers},
                                                         {"committed", report->committed},
                                                         {"errors", errors}});
}

void add_channel_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/lead-channels", {"Capture channels of the public lead route", kAdminOnly, "leads"},
               [&ctx](Request&) {
                   auto list = leads::list_channels(*ctx.db);
                   if (!list) return from_error(list.error());
                   json items = json::array();
                   for (const auto& c : *list) items.push_back(channel_json(c));
                   return json_response(200, {{"items", items}});
               });
    router.add("POST", "/api/lead-channels",
               {"Create a capture channel; its key is in this answer only", kAdminOnly, "leads"}, [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"name", "source", "region"}, b); !p) return p.refusal();
                   std::string name;
                   std::string region;
                   leads::Source source = leads::Source::website;
                   BodyReader read(b);
                   read.text("name", name, 1000, true).text("region", region, 200);
                   if (auto s = read.status(); !s) return s.refusal();
                   if (auto s = read_choice(b, "source", leads::kSourceNames, source); !s) return s.refusal();
                   auto c = leads::create_channel(*ctx.db, name, source, region, req.user, ctx.clock->now());
                   if (!c && c.error().kind == ErrorKind::conflict)
                       return problem(409, "Conflict", c.error().message, c.error().path);
                   if (!c) return from_error(c.error());
                   json j = channel_json(c->channel);
                   j["key"] = c->key;
                   return json_response(201, j);
               });
    router.add("PATCH", "/api/lead-channels/{id}", {"Disable or enable a capture channel", kAdminOnly, "leads"},
               [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"disabled"}, b); !p) return p.refusal();
                   bool disabled = false;
                   if (!b.contains("disabled")) return problem(400, "Bad Request", "disabled: required", "disabled");
                   if (auto s = read_flag(b, "disabled", disabled); !s) return s.refusal();
                   auto id = id_param(req, "channel");
                   if (!id) return id.refusal();
                   auto c = leads::set_channel_disabled(*ctx.db, *id, disabled, req.user, ctx.clock->now());
                   if (!c) return from_error(c.error());
                   return json_response(200, channel_json(*c));
               });
}

}  // namespace

void add_lead_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/leads",
               {"Leads (status, assignee, unassigned=1, open=1, overdue=1; cursor pagination; sales: their own)",
                kLeadReaders, "leads"},
               [&ctx](Request& req) { return get_leads(ctx, req); });
    router.add("POST", "/api/leads",
               {"Capture a lead (a repeat of a known phone number or e-mail attaches to its lead or customer)",
                kLeadWriters, "leads"},
               [&ctx](Request& req) { return post_lead(ctx, req); });
    router.add("POST", "/api/leads/import",
               {"Import leads from CSV (all or nothing; errors by line and column)", kOfficeRoles, "leads"},
               [&ctx](Request& req) { return post_import(ctx, req); });
    router.add("GET", "/api/leads/{id}", {"One lead with its inquiries and touches", kLeadReaders, "leads"},
               [&ctx](Request& req) { return get_lead(ctx, req); });
    router.add("PATCH", "/api/leads/{id}", {"Change a lead (If-Match required)", kLeadWriters, "leads"},
               [&ctx](Request& req) { return patch_lead(ctx, req); });
    router.add("POST", "/api/leads/{id}/touches", {"Log a call, visit, message or e-mail", kLeadWriters, "leads"},
               [&ctx](Request& req) { return post_touch(ctx, req); });
    add_channel_routes(router, ctx);
    add_public_lead_route(router, ctx);
}

}  // namespace pvfleet::api::detail
