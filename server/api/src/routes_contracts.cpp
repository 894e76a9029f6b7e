// Contracts and payments of a project (docs/projects.md, "Contracts and payments"): the contract with its
// change orders, payment plan and payments, and the collection-rate report. The back office and admins write;
// whoever sees the project (its project manager, the sales rep of its lead, managers) reads; the project
// manager and the sales rep may snooze an instalment's overdue reminders. Payments are recorded by the back
// office alone: they are reconciled against the bank, and the collection rate is a figure reps are measured
// by.
#include "common.hpp"
#include "pvfleet/projects/contracts.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::api::detail {
namespace {

const std::vector<std::string> kContractReaders{"admin", "back_office", "manager", "project_manager",
                                                "sales"};
const std::vector<std::string> kSnoozers{"admin", "back_office", "project_manager", "sales"};
constexpr int kMaxReportMonths = 60;

Checked<std::int64_t> path_id(const Request& req, const char* name, const char* what) {
    const auto n = parse_number<std::int64_t>(req.params.at(name));
    if (!n || *n < 1)
        return problem(400, "Bad Request", std::string(name) + ": expected a " + what + " number", name);
    return *n;
}

// The project behind the path, if the caller may see it: 404 otherwise, as for the project itself.
Checked<projects::Project> project_for_contract(ApiContext& ctx, const Request& req) {
    auto id = path_id(req, "id", "project");
    if (!id) return id.refusal();
    auto p = projects::get_project(*ctx.db, *id);
    if (!p) return from_error(p.error());
    const bool limited = req.role == "project_manager" || req.role == "sales";
    const bool mine = *p && ((req.role == "project_manager" && (*p)->manager == req.user) ||
                             (req.role == "sales" && (*p)->sales_rep == req.user));
    if (!*p || (limited && !mine))
        return problem(404, "Not Found", "no project " + std::to_string(*id) + (limited ? " of yours" : ""));
    return **p;
}

// Conflicts: a stale version is 412 (from_error); a number taken or a second contract is 409.
Response refusal_of(const Error& e) {
    if (e.kind == ErrorKind::conflict && e.path != "version")
        return problem(409, "Conflict", e.message, e.path);
    return from_error(e);
}

json instalment_json(const projects::InstalmentStatus& s) {
    const auto& i = s.instalment;
    return {{"id", i.id},
            {"label", i.label},
            {"amount", s.amount},
            {"percent", opt_json(i.percent)},
            {"due_on", opt_json(s.due_on)},
            {"fixed_due_on", opt_json(i.due_on)},
            {"after_milestone", opt_json(i.after_milestone)},
            {"days", i.after_days},
            {"paid", s.paid},
            {"remaining", s.amount - s.paid},
            {"state", enum_name(projects::kInstalmentStateNames, s.state)},
            {"snoozed_until", time_json(i.snoozed_until)},
            {"version", i.version}};
}

json change_order_json(const projects::ChangeOrder& o) {
    return {{"id", o.id},
            {"number", o.number},
            {"amount_delta", o.amount_delta},
            {"reason", o.reason},
            {"approved_on", o.approved_on},
            {"created_by", o.created_by},
            {"created_at", format_iso8601(o.created_at)}};
}

json payment_json(const projects::Payment& p) {
    return {{"id", p.id},
            {"paid_on", p.paid_on},
            {"amount", p.amount},
            {"currency", p.currency},
            {"method", enum_name(projects::kPaymentMethodNames, p.method)},
            {"reference", p.reference},
            {"recorded_by", p.recorded_by},
            {"recorded_at", format_iso8601(p.recorded_at)}};
}

json contract_json(const projects::Contract& c) {
    return {{"id", c.id},
            {"project_id", c.project_id},
            {"number", c.number},
            {"amount", c.amount},
            {"currency", c.currency},
            {"signed_on", opt_json(c.signed_on)},
            {"status", enum_name(projects::kContractStatusNames, c.status)},
            {"signed_document_id", opt_json(c.signed_document_id)},
            {"created_by", c.created_by},
            {"created_at", format_iso8601(c.created_at)},
            {"updated_at", format_iso8601(c.updated_at)},
            {"version", c.version}};
}

json detail_json(const projects::ContractDetail& d) {
    json j = contract_json(d.contract);
    const auto& plan = d.plan;
    j["total"] = plan.total;
    json changes = json::array();
    for (const auto& o : d.change_orders) changes.push_back(change_order_json(o));
    json instalments = json::array();
    for (const auto& s : plan.instalments) instalments.push_back(instalment_json(s));
    json payments = json::array();
    for (const auto& p : d.payments) payments.push_back(payment_json(p));
    j["change_orders"] = changes;
    j["instalments"] = instalments;
    j["payments"] = payments;
    j["summary"] = {{"total", plan.total},
                    {"planned", plan.planned},
                    {"unplanned", plan.total - plan.planned},
                    {"paid", plan.paid},
                    {"allocated", plan.allocated},
                    {"unallocated", plan.unallocated},
                    {"outstanding", plan.outstanding},
                    {"overdue", plan.overdue}};
    return j;
}

Response contract_answer(ApiContext& ctx, std::int64_t project_id, int status) {
    auto d = projects::contract_detail(*ctx.db, project_id, ctx.clock->now());
    if (!d) return from_error(d.error());
    if (!*d) return problem(404, "Not Found", "project " + std::to_string(project_id) + " has no contract");
    return versioned_response(status, detail_json(**d), (*d)->contract.version);
}

// The members of a contract body that are present.
Checked<projects::ContractInput> contract_input(const json& b) {
    projects::ContractInput in;
    std::string number, currency, status;
    std::int64_t amount = 0;
    std::optional<std::string> signed_on;
    std::optional<std::int64_t> signed_document_id;
    BodyReader read(b);
    read.text("number", number, 64)
        .integer("amount", amount, 1, projects::kMaxMinorAmount)
        .text("currency", currency, 3)
        .nullable_text("signed_on", signed_on, 16)
        .text("status", status, 16)
        .nullable_integer("signed_document_id", signed_document_id, 1, INT64_MAX);
    if (auto s = read.status(); !s) return s.refusal();
    if (b.contains("signed_document_id")) in.signed_document_id = signed_document_id;
    if (b.contains("number")) in.number = number;
    if (b.contains("amount")) in.amount = amount;
    if (b.contains("currency")) in.currency = currency;
    if (b.contains("signed_on")) in.signed_on = signed_on;
    if (b.contains("status")) {
        in.status = enum_from_name(projects::kContractStatusNames, status);
        if (!in.status)
            return problem(400, "Bad Request",
                           "status: unknown '" + status + "' (expected " +
                               enum_names_list(projects::kContractStatusNames) + ")",
                           "status");
    }
    return in;
}

const std::set<std::string> kContractMembers{"number",    "amount", "currency",
                                             "signed_on", "status", "signed_document_id"};

Response post_contract(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, kContractMembers, b); !p) return p.refusal();
    auto in = contract_input(b);
    if (!in) return in.refusal();
    auto p = project_for_contract(ctx, req);
    if (!p) return p.refusal();
    auto c = projects::create_contract(*ctx.db, p->id, *in, req.user, ctx.clock->now());
    if (!c) return refusal_of(c.error());
    Response r = contract_answer(ctx, p->id, 201);
    r.headers.emplace("Location", "/api/projects/" + std::to_string(p->id) + "/contract");
    return r;
}

Response patch_contract(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, kContractMembers, b); !p) return p.refusal();
    auto in = contract_input(b);
    if (!in) return in.refusal();
    auto p = project_for_contract(ctx, req);
    if (!p) return p.refusal();
    auto current = projects::contract_of_project(*ctx.db, p->id);
    if (!current) return from_error(current.error());
    if (!*current) return problem(404, "Not Found", "project " + std::to_string(p->id) + " has no contract");
    if (auto m = check_if_match(req, (*current)->version); !m) return m.refusal();
    auto c = projects::update_contract(*ctx.db, p->id, *in, (*current)->version, req.user, ctx.clock->now());
    if (!c) return refusal_of(c.error());
    return contract_answer(ctx, p->id, 200);
}

Response post_change_order(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"number", "amount_delta", "reason", "approved_on"}, b); !p)
        return p.refusal();
    projects::ChangeOrder o;
    BodyReader read(b);
    read.text("number", o.number, 64, true)
        .integer("amount_delta", o.amount_delta, -projects::kMaxMinorAmount, projects::kMaxMinorAmount)
        .text("reason", o.reason, 2000, true)
        .text("approved_on", o.approved_on, 16, true);
    if (auto s = read.status(); !s) return s.refusal();
    if (!b.contains("amount_delta"))
        return problem(400, "Bad Request", "amount_delta: required", "amount_delta");
    auto p = project_for_contract(ctx, req);
    if (!p) return p.refusal();
    auto made = projects::add_change_order(*ctx.db, p->id, o, req.user, ctx.clock->now());
    if (!made) return refusal_of(made.error());
    return contract_answer(ctx, p->id, 201);
}

Response post_instalment(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"label", "amount", "percent", "due_on", "after_milestone", "days"}, b); !p)
        return p.refusal();
    projects::Instalment i;
    std::int64_t amount = 0, percent = 0, days = 0;
    std::string due_on, after;
    BodyReader read(b);
    read.text("label", i.label, 200, true)
        .integer("amount", amount, 1, projects::kMaxMinorAmount)
        .integer("percent", percent, 1, 100)
        .text("due_on", due_on, 16)
        .text("after_milestone", after, 64)
        .integer("days", days, 0, 3650);
    if (auto s = read.status(); !s) return s.refusal();
    if (b.contains("amount")) i.amount = amount;
    if (b.contains("percent")) i.percent = static_cast<int>(percent);
    if (b.contains("due_on")) i.due_on = due_on;
    if (b.contains("after_milestone")) i.after_milestone = after;
    i.after_days = static_cast<int>(days);
    auto p = project_for_contract(ctx, req);
    if (!p) return p.refusal();
    auto made = projects::add_instalment(*ctx.db, p->id, i, req.user, ctx.clock->now());
    if (!made) return refusal_of(made.error());
    return contract_answer(ctx, p->id, 201);
}

Response patch_instalment(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"label", "snoozed_until"}, b); !p) return p.refusal();
    projects::InstalmentChange change;
    std::string label;
    BodyReader read(b);
    read.text("label", label, 200);
    if (auto s = read.status(); !s) return s.refusal();
    if (b.contains("label")) {
        if (req.role == "sales" || req.role == "project_manager")
            return problem(403, "Forbidden", "label: only the back office changes the payment plan", "label");
        change.label = label;
    }
    if (b.contains("snoozed_until")) {
        if (b["snoozed_until"].is_null()) {
            change.snoozed_until = std::optional<TimePoint>{};
        } else {
            std::string text;
            BodyReader snooze(b);
            snooze.text("snoozed_until", text, 64);
            if (auto s = snooze.status(); !s) return s.refusal();
            auto t = parse_iso8601(text);
            if (!t)
                return problem(400, "Bad Request", "snoozed_until: " + t.error().message, "snoozed_until");
            change.snoozed_until = std::optional<TimePoint>{*t};
        }
    }
    auto iid = path_id(req, "instalment_id", "instalment");
    if (!iid) return iid.refusal();
    std::int64_t project_id = 0;
    return patch_versioned(
        req,
        [&]() -> Checked<projects::Instalment> {
            auto p = project_for_contract(ctx, req);
            if (!p) return p.refusal();
            project_id = p->id;
            auto d = projects::contract_detail(*ctx.db, p->id, ctx.clock->now());
            if (!d) return from_error(d.error());
            if (*d)
                for (const auto& i : (*d)->instalments)
                    if (i.id == *iid) return i;
            return problem(404, "Not Found",
                           "no instalment " + std::to_string(*iid) + " in project " + std::to_string(p->id));
        },
        [&](const projects::Instalment& current) {
            return projects::update_instalment(*ctx.db, project_id, current.id, change, current.version,
                                               req.user, ctx.clock->now());
        },
        [&](const projects::Instalment& saved) {
            json j = {{"id", saved.id},
                      {"label", saved.label},
                      {"snoozed_until", time_json(saved.snoozed_until)},
                      {"version", saved.version}};
            return j;
        });
}

Response post_payment(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"paid_on", "amount", "currency", "method", "reference"}, b); !p)
        return p.refusal();
    projects::Payment pay;
    std::string method = "bank_transfer";
    BodyReader read(b);
    read.text("paid_on", pay.paid_on, 16, true)
        .integer("amount", pay.amount, 1, projects::kMaxMinorAmount)
        .text("currency", pay.currency, 3, true)
        .text("method", method, 32)
        .text("reference", pay.reference, 200);
    if (auto s = read.status(); !s) return s.refusal();
    if (!b.contains("amount")) return problem(400, "Bad Request", "amount: required", "amount");
    const auto m = enum_from_name(projects::kPaymentMethodNames, method);
    if (!m)
        return problem(400, "Bad Request",
                       "method: unknown '" + method + "' (expected " +
                           enum_names_list(projects::kPaymentMethodNames) + ")",
                       "method");
    pay.method = *m;
    auto p = project_for_contract(ctx, req);
    if (!p) return p.refusal();
    auto made = projects::record_payment(*ctx.db, p->id, pay, req.user, ctx.clock->now());
    if (!made) return refusal_of(made.error());
    return contract_answer(ctx, p->id, 201);
}

// "2026-07" → its first day; nullopt unless a real month.
std::optional<std::string> first_of_month(const std::string& month) {
    if (month.size() != 7) return std::nullopt;
    const std::string day = month + "-01";
    if (!projects::day_start(day)) return std::nullopt;
    return day;
}

json figures_json(const std::vector<projects::CollectionFigure>& figures, const char* key_name) {
    json out = json::array();
    for (const auto& f : figures)
        out.push_back(
            {{key_name, f.key.empty() && std::string(key_name) == "rep" ? json(nullptr) : json(f.key)},
             {"currency", f.currency},
             {"due", f.due},
             {"collected", f.collected},
             {"instalments", f.instalments},
             {"rate", f.due > 0 ? json(static_cast<double>(f.collected) / static_cast<double>(f.due))
                                : json(nullptr)}});
    return out;
}

// GET /api/reports/collections?from=YYYY-MM&to=YYYY-MM (default: the last 12 months up to this one).
Response get_collections(ApiContext& ctx, Request& req) {
    const TimePoint now = ctx.clock->now();
    const std::string this_month = projects::date_of(now).substr(0, 7);
    const std::string to = req.query_param("to").value_or(this_month);
    auto to_first = first_of_month(to);
    if (!to_first) return problem(400, "Bad Request", "to: expected a month, YYYY-MM", "to");
    std::string from;
    if (auto f = req.query_param("from")) {
        from = *f;
    } else {
        int y = std::stoi(to.substr(0, 4)), m = std::stoi(to.substr(5, 2)) - 11;
        if (m < 1) m += 12, --y;
        from = std::to_string(y) + (m < 10 ? "-0" : "-") + std::to_string(m);
    }
    auto from_first = first_of_month(from);
    if (!from_first) return problem(400, "Bad Request", "from: expected a month, YYYY-MM", "from");
    const int months = (std::stoi(to.substr(0, 4)) - std::stoi(from.substr(0, 4))) * 12 +
                       std::stoi(to.substr(5, 2)) - std::stoi(from.substr(5, 2)) + 1;
    if (months < 1) return problem(400, "Bad Request", "from: after to", "from");
    if (months > kMaxReportMonths)
        return problem(400, "Bad Request", "from: at most " + std::to_string(kMaxReportMonths) + " months",
                       "from");
    // The last day of `to`: the day before the first of the next month.
    const std::string next_month = projects::add_days(*to_first, 31).substr(0, 7) + "-01";
    const std::string to_last = projects::add_days(next_month, -1);
    auto report = projects::collection_report(*ctx.db, *from_first, to_last, now);
    if (!report) return from_error(report.error());
    return json_response(200, {{"from", from},
                               {"to", to},
                               {"at", format_iso8601(now)},
                               {"by_month", figures_json(report->by_month, "month")},
                               {"by_rep", figures_json(report->by_rep, "rep")}});
}

}  // namespace

void add_contract_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/projects/{id}/contract",
               {"The project's contract: change orders, payment plan with each instalment's state, payments, "
                "summary",
                kContractReaders, "contracts"},
               [&ctx](Request& req) {
                   auto p = project_for_contract(ctx, req);
                   if (!p) return p.refusal();
                   return contract_answer(ctx, p->id, 200);
               });
    router.add("POST", "/api/projects/{id}/contract",
               {"Create the project's contract (409 when it has one or the number is taken)", kOfficeRoles,
                "contracts"},
               [&ctx](Request& req) { return post_contract(ctx, req); });
    router.add(
        "PATCH", "/api/projects/{id}/contract",
        {"Change the contract: number, status, signed date; amount and currency while a draft (If-Match)",
         kOfficeRoles, "contracts"},
        [&ctx](Request& req) { return patch_contract(ctx, req); });
    router.add(
        "POST", "/api/projects/{id}/change-orders",
        {"Add an approved change order to a signed contract (moves its total)", kOfficeRoles, "contracts"},
        [&ctx](Request& req) { return post_change_order(ctx, req); });
    router.add(
        "POST", "/api/projects/{id}/instalments",
        {"Add an instalment to the payment plan: amount or percent; due_on or N days after a milestone",
         kOfficeRoles, "contracts"},
        [&ctx](Request& req) { return post_instalment(ctx, req); });
    router.add(
        "PATCH", "/api/projects/{id}/instalments/{instalment_id}",
        {"Change an instalment's label (back office) or snooze its overdue reminders (If-Match: its version)",
         kSnoozers, "contracts"},
        [&ctx](Request& req) { return patch_instalment(ctx, req); });
    router.add(
        "POST", "/api/projects/{id}/payments",
        {"Record a payment (allocated to the instalments oldest due first)", kOfficeRoles, "contracts"},
        [&ctx](Request& req) { return post_payment(ctx, req); });
    router.add("GET", "/api/reports/collections",
               {"Collection rate per month and per sales rep (from, to: YYYY-MM)", kReadRoles, "contracts"},
               [&ctx](Request& req) { return get_collections(ctx, req); });
}

}  // namespace pvfleet::api::detail
