// Projects and their milestones: reads, creation from a template, changes, the stage following the
// milestones.
#include "pvfleet/projects/repository.hpp"

#include <algorithm>

#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "rows.hpp"

namespace pvfleet::projects {
namespace detail {

using storage::Row;
using storage::Value;

const char* const kProjectColumns =
    "id, name, customer_id, site_id, lead_id, template, stage, stage_since_ms, status, manager, sales_rep, "
    "region, "
    "started_on, created_by, created_at_ms, updated_at_ms, version";
const char* const kMilestoneColumns =
    "id, project_id, stage, mkey, title, position, owner, planned_on, done_on, checklist, "
    "required_documents, "
    "snoozed_until_ms, updated_at_ms, version";

Value opt(const std::optional<std::string>& v) {
    return v ? Value{*v} : Value{nullptr};
}
Value opt(const std::optional<std::int64_t>& v) {
    return v ? Value{*v} : Value{nullptr};
}
Value opt_ms(const std::optional<TimePoint>& v) {
    return v ? Value{std::int64_t{to_epoch_ms(*v)}} : Value{nullptr};
}

Project project_from_row(const Row& row) {
    Project p;
    p.id = row.integer(0);
    p.name = row.text(1);
    p.customer_id = row.integer(2);
    p.site_id = row.opt_text(3);
    p.lead_id = row.opt_integer(4);
    p.template_name = row.text(5);
    p.stage = row.text(6);
    p.stage_since = from_epoch_ms(row.integer(7));
    p.status = enum_from_name(kProjectStatusNames, row.text(8)).value_or(ProjectStatus::active);
    p.manager = row.opt_text(9);
    p.sales_rep = row.opt_text(10);
    p.region = row.text(11);
    p.started_on = row.text(12);
    p.created_by = row.text(13);
    p.created_at = from_epoch_ms(row.integer(14));
    p.updated_at = from_epoch_ms(row.integer(15));
    p.version = row.integer(16);
    return p;
}

Milestone milestone_from_row(const Row& row) {
    Milestone m;
    m.id = row.integer(0);
    m.project_id = row.integer(1);
    m.stage = row.text(2);
    m.key = row.text(3);
    m.title = row.text(4);
    m.position = static_cast<int>(row.integer(5));
    m.owner = row.opt_text(6);
    m.planned_on = row.opt_text(7);
    m.done_on = row.opt_text(8);
    const auto checklist = nlohmann::json::parse(row.text(9), nullptr, false);
    if (checklist.is_array())
        for (const auto& c : checklist)
            if (c.is_object() && c.contains("item") && c["item"].is_string())
                m.checklist.push_back({c["item"].get<std::string>(), c.value("done", false)});
    const auto docs = nlohmann::json::parse(row.text(10), nullptr, false);
    if (docs.is_array())
        for (const auto& d : docs)
            if (d.is_string()) m.required_documents.push_back(d.get<std::string>());
    if (!row.is_null(11)) m.snoozed_until = from_epoch_ms(row.integer(11));
    m.updated_at = from_epoch_ms(row.integer(12));
    m.version = row.integer(13);
    return m;
}

std::string checklist_json(const std::vector<ChecklistItem>& items) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& c : items) j.push_back({{"item", c.item}, {"done", c.done}});
    return j.dump();
}

std::string project_audit_json(const Project& p) {
    auto o = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    return nlohmann::json{{"id", p.id},
                          {"name", p.name},
                          {"customer_id", p.customer_id},
                          {"site_id", o(p.site_id)},
                          {"lead_id", o(p.lead_id)},
                          {"template", p.template_name},
                          {"stage", p.stage},
                          {"status", enum_name(kProjectStatusNames, p.status)},
                          {"manager", o(p.manager)},
                          {"sales_rep", o(p.sales_rep)},
                          {"region", p.region},
                          {"started_on", p.started_on},
                          {"version", p.version}}
        .dump();
}

std::string milestone_audit_json(const Milestone& m) {
    auto o = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    return nlohmann::json{{"id", m.id},
                          {"project_id", m.project_id},
                          {"key", m.key},
                          {"owner", o(m.owner)},
                          {"planned_on", o(m.planned_on)},
                          {"done_on", o(m.done_on)},
                          {"checklist", nlohmann::json::parse(checklist_json(m.checklist))},
                          {"snoozed_until_ms", m.snoozed_until ? nlohmann::json(to_epoch_ms(*m.snoozed_until))
                                                               : nlohmann::json()},
                          {"version", m.version}}
        .dump();
}

Status check_user(storage::Db& db, const std::string& name, const char* role, const char* field) {
    auto r = db.run("SELECT role, disabled FROM users WHERE name = $1", {name});
    if (!r) return r.error();
    if (r->rows.empty()) return Error::at(field, "no user '" + name + "'");
    if (role != nullptr && r->rows[0].text(0) != role)
        return Error::at(field, "'" + name + "' is not a " +
                                    (std::string(role) == "project_manager" ? std::string("project manager")
                                                                            : std::string(role)));
    if (r->rows[0].integer(1) != 0) return Error::at(field, "'" + name + "' is disabled");
    return {};
}

Result<Project> write_project(storage::Db& db, Project p, const Project& before, const std::string& actor,
                              const std::string& action, TimePoint now) {
    auto u = db.run(
        "UPDATE projects SET name = $1, site_id = $2, stage = $3, stage_since_ms = $4, status = $5, manager "
        "= $6, "
        "region = $7, updated_at_ms = $8, version = version + 1 WHERE id = $9 AND version = $10",
        {p.name, opt(p.site_id), p.stage, std::int64_t{to_epoch_ms(p.stage_since)},
         std::string(enum_name(kProjectStatusNames, p.status)), opt(p.manager), p.region,
         std::int64_t{to_epoch_ms(now)}, p.id, before.version});
    if (!u) return u.error();
    if (u->affected == 0)
        return Error::at("version", "project " + std::to_string(p.id) + " was changed meanwhile: reload it",
                         ErrorKind::conflict);
    p.updated_at = now;
    p.version = before.version + 1;
    if (auto a = storage::append_audit(db, now, actor, action, "project", std::to_string(p.id),
                                       project_audit_json(before), project_audit_json(p));
        !a)
        return a.error();
    if (p.stage != before.stage) {
        // The project's manager and sales rep are told, not whoever made the change.
        storage::NewEvent event;
        event.name = "project.stage_changed";
        event.occurred_at = now;
        for (const auto& who : {p.manager, p.sales_rep})
            if (who && *who != actor) event.recipients.push_back(*who);
        event.data = {{"project_id", p.id}, {"project", p.name}, {"from_stage", before.stage}, {"stage", p.stage}};
        if (auto e = storage::append_event(db, event); !e) return e.error();
    }
    return p;
}

Result<MilestoneResult> save_milestone(storage::Db& db, const ProjectSettings& settings, Project p,
                                       const std::vector<Milestone>& all, const Milestone& before,
                                       Milestone m, const std::string& actor, TimePoint now) {
    auto u = db.run(
        "UPDATE project_milestones SET owner = $1, planned_on = $2, done_on = $3, checklist = $4, "
        "snoozed_until_ms = $5, updated_at_ms = $6, version = version + 1 WHERE id = $7 AND version = $8",
        {opt(m.owner), opt(m.planned_on), opt(m.done_on), checklist_json(m.checklist),
         opt_ms(m.snoozed_until), std::int64_t{to_epoch_ms(now)}, m.id, before.version});
    if (!u) return u.error();
    if (u->affected == 0)
        return Error::at("version", "milestone " + std::to_string(m.id) + " was changed meanwhile: reload it",
                         ErrorKind::conflict);
    m.version = before.version + 1;
    m.updated_at = now;
    if (auto a = storage::append_audit(db, now, actor, "update", "milestone", std::to_string(m.id),
                                       milestone_audit_json(before), milestone_audit_json(m));
        !a)
        return a.error();
    if (before.done_on != m.done_on)
        if (auto e = milestone_done_effects(db, settings, p, before.done_on, m, actor, now); !e)
            return e.error();
    // The stage follows the milestones: forward when a stage's last one is done, back when one is reopened.
    if (const Template* t = settings.find(p.template_name)) {
        std::vector<Milestone> after = all;
        for (auto& x : after)
            if (x.id == m.id) x = m;
        const std::string stage = current_stage(*t, after);
        if (stage != p.stage) {
            Project next = p;
            next.stage = stage;
            next.stage_since = now;
            auto saved = write_project(db, next, p, actor, "stage", now);
            if (!saved) return saved.error();
            p = *saved;
        }
    }
    return MilestoneResult{m, p};
}

}  // namespace detail

namespace {

using storage::Row;

constexpr int kMaxProjectsPerPage = 1000;
constexpr std::size_t kMaxChecklistItems = 100;

Result<std::vector<Milestone>> read_milestones(storage::Db& db, const std::string& where,
                                               const storage::Params& p) {
    auto r = db.run(std::string("SELECT ") + detail::kMilestoneColumns + " FROM project_milestones WHERE " +
                        where + " ORDER BY project_id, position, id",
                    p);
    if (!r) return r.error();
    std::vector<Milestone> out;
    out.reserve(r->rows.size());
    for (const Row& row : r->rows) out.push_back(detail::milestone_from_row(row));
    return out;
}

Status check_project_fields(storage::Db& db, const Project& p, const ProjectSettings& settings) {
    if (auto e = records::detail::check_text(p.name, 200)) return Error::at("name", *e);
    if (records::detail::trim(p.name).empty()) return Error::at("name", "required");
    if (auto e = records::detail::check_text(p.region, 200)) return Error::at("region", *e);
    if (settings.find(p.template_name) == nullptr)
        return Error::at("template", "unknown template '" + p.template_name + "'");
    if (p.manager)
        if (auto c = detail::check_user(db, *p.manager, "project_manager", "manager"); !c) return c.error();
    auto c = db.run("SELECT 1 FROM customers WHERE id = $1", {p.customer_id});
    if (!c) return c.error();
    if (c->rows.empty()) return Error::at("customer_id", "no customer " + std::to_string(p.customer_id));
    if (p.site_id) {
        auto s = db.run("SELECT customer_id FROM sites WHERE site_id = $1", {*p.site_id});
        if (!s) return s.error();
        if (s->rows.empty()) return Error::at("site_id", "no site " + *p.site_id);
        if (!s->rows[0].is_null(0) && s->rows[0].integer(0) != p.customer_id)
            return Error::at("site_id", "site " + *p.site_id + " belongs to another customer");
    }
    return {};
}

}  // namespace

Result<std::vector<Project>> list_projects(storage::Db& db, const ProjectQuery& q) {
    if (q.limit < 1 || q.limit > kMaxProjectsPerPage)
        return Error::at("limit", "must be between 1 and " + std::to_string(kMaxProjectsPerPage));
    std::string sql = std::string("SELECT ") + detail::kProjectColumns + " FROM projects WHERE id > $1";
    storage::Params params{q.after_id};
    auto add = [&](const char* column, storage::Value v) {
        params.push_back(std::move(v));
        sql += std::string(" AND ") + column + " = $" + std::to_string(params.size());
    };
    if (q.manager) add("manager", *q.manager);
    if (q.sales_rep) add("sales_rep", *q.sales_rep);
    if (q.region) add("region", *q.region);
    if (q.stage) add("stage", *q.stage);
    if (q.customer_id) add("customer_id", *q.customer_id);
    if (!q.include_cancelled) sql += " AND status <> 'cancelled'";
    params.emplace_back(std::int64_t{q.limit});
    sql += " ORDER BY id LIMIT $" + std::to_string(params.size());
    auto r = db.run(sql, params);
    if (!r) return r.error();
    std::vector<Project> out;
    for (const Row& row : r->rows) out.push_back(detail::project_from_row(row));
    return out;
}

Result<std::optional<Project>> get_project(storage::Db& db, std::int64_t id) {
    auto r = db.run(std::string("SELECT ") + detail::kProjectColumns + " FROM projects WHERE id = $1", {id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Project>{};
    return std::optional<Project>{detail::project_from_row(r->rows[0])};
}

Result<std::optional<Project>> project_of_lead(storage::Db& db, std::int64_t lead_id) {
    auto r = db.run(std::string("SELECT ") + detail::kProjectColumns + " FROM projects WHERE lead_id = $1",
                    {lead_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Project>{};
    return std::optional<Project>{detail::project_from_row(r->rows[0])};
}

namespace {
// One query text per scope; $1 the user. Written as a union of id lists so each part uses its index.
std::string scope_ids_sql(CustomerScope scope) {
    if (scope == CustomerScope::project_manager) return "SELECT customer_id AS id FROM projects WHERE manager = $1";
    return "SELECT customer_id AS id FROM projects WHERE sales_rep = $1 "
           "UNION SELECT customer_id AS id FROM leads WHERE assignee = $1 AND customer_id IS NOT NULL";
}
}  // namespace

Result<std::vector<std::int64_t>> customers_in_scope(storage::Db& db, CustomerScope scope, const std::string& user,
                                                     std::int64_t after_id, int limit) {
    if (limit < 1 || limit > 10'000) return Error::at("limit", "must be between 1 and 10000");
    auto r = db.run(
        "SELECT DISTINCT id FROM (" + scope_ids_sql(scope) + ") AS scoped WHERE id > $2 ORDER BY id LIMIT $3",
        {user, after_id, std::int64_t{limit}});
    if (!r) return r.error();
    std::vector<std::int64_t> out;
    out.reserve(r->rows.size());
    for (const Row& row : r->rows) out.push_back(row.integer(0));
    return out;
}

Result<bool> customer_in_scope(storage::Db& db, CustomerScope scope, const std::string& user,
                               std::int64_t customer_id) {
    auto r = db.run("SELECT 1 FROM (" + scope_ids_sql(scope) + ") AS scoped WHERE id = $2", {user, customer_id});
    if (!r) return r.error();
    return !r->rows.empty();
}

Result<std::vector<Milestone>> list_milestones(storage::Db& db, std::int64_t project_id) {
    return read_milestones(db, "project_id = $1", {project_id});
}

Result<std::vector<Milestone>> milestones_of(storage::Db& db, const std::vector<std::int64_t>& ids) {
    std::vector<Milestone> out;
    // In slices: a statement's parameters are bounded on both engines.
    constexpr std::size_t kSlice = 500;
    for (std::size_t i = 0; i < ids.size(); i += kSlice) {
        std::string in;
        storage::Params p;
        for (std::size_t k = i; k < std::min(ids.size(), i + kSlice); ++k) {
            p.emplace_back(ids[k]);
            in += (in.empty() ? "$" : ", $") + std::to_string(p.size());
        }
        auto part = read_milestones(db, "project_id IN (" + in + ")", p);
        if (!part) return part.error();
        out.insert(out.end(), part->begin(), part->end());
    }
    return out;
}

Result<std::map<std::int64_t, std::string>> milestones_done_by(storage::Db& db,
                                                               const std::vector<Milestone>& ms) {
    std::map<std::int64_t, std::string> out;
    for (const auto& m : ms) {
        if (!m.done_on) continue;
        // Newest first: the first entry whose after-state has the day it has now and whose before-state had
        // not.
        auto r = db.run(
            "SELECT actor, before_json, after_json FROM audit_log WHERE entity = 'milestone' AND entity_id = "
            "$1 "
            "ORDER BY id DESC LIMIT 50",
            {std::to_string(m.id)});
        if (!r) return r.error();
        for (const Row& row : r->rows) {
            const auto before = nlohmann::json::parse(row.opt_text(1).value_or("{}"), nullptr, false);
            const auto after = nlohmann::json::parse(row.opt_text(2).value_or("{}"), nullptr, false);
            if (!after.is_object() || after.value("done_on", nlohmann::json()) != nlohmann::json(*m.done_on))
                continue;
            if (before.is_object() && before.value("done_on", nlohmann::json()) == after["done_on"]) continue;
            out[m.id] = row.text(0);
            break;
        }
        if (!out.contains(m.id)) {  // done when the project was made (a converted lead's inquiry, an import)
            auto c = db.run(
                "SELECT actor FROM audit_log WHERE entity = 'project' AND entity_id = $1 AND action = "
                "'create' "
                "ORDER BY id LIMIT 1",
                {std::to_string(m.project_id)});
            if (!c) return c.error();
            if (!c->rows.empty()) out[m.id] = c->rows[0].text(0);
        }
    }
    return out;
}

Result<Project> create_project_in_transaction(storage::Db& db, const ProjectSettings& settings,
                                              const NewProject& n, const std::string& actor, TimePoint now) {
    Project p;
    p.name = records::detail::trim(n.name);
    p.customer_id = n.customer_id;
    p.site_id = n.site_id;
    p.lead_id = n.lead_id;
    p.manager = n.manager;
    p.sales_rep = n.sales_rep;
    p.region = records::detail::trim(n.region);
    p.template_name = n.template_name.empty() ? settings.default_template : n.template_name;
    p.started_on = n.started_on && !n.started_on->empty() ? *n.started_on : date_of(now);
    if (auto e = records::detail::check_date(p.started_on)) return Error::at("started_on", *e);
    if (auto c = check_project_fields(db, p, settings); !c) return c.error();
    const Template& t = *settings.find(p.template_name);
    std::vector<Milestone> milestones;
    int position = 0;
    for (const auto& stage : t.stages)
        for (const auto& mt : stage.milestones) {
            Milestone m;
            m.stage = stage.key;
            m.key = mt.key;
            m.title = mt.title;
            m.position = position++;
            m.owner = mt.owner == "sales" && p.sales_rep ? p.sales_rep : p.manager;
            m.planned_on = add_days(p.started_on, mt.due_days);
            for (const auto& item : mt.checklist) m.checklist.push_back({item, false});
            m.required_documents = mt.required_documents;
            if (n.first_stage_done_on && &stage == &t.stages.front()) m.done_on = n.first_stage_done_on;
            milestones.push_back(std::move(m));
        }
    p.stage = current_stage(t, milestones);
    p.stage_since = now;
    p.created_by = actor;
    p.created_at = p.updated_at = now;
    auto r = db.run(
        "INSERT INTO projects (name, customer_id, site_id, lead_id, template, stage, stage_since_ms, status, "
        "manager, "
        "sales_rep, region, started_on, created_by, created_at_ms, updated_at_ms, version) VALUES ($1, $2, "
        "$3, $4, "
        "$5, $6, $7, $8, $9, $10, $11, $12, $13, $7, $7, 1) RETURNING id",
        {p.name, p.customer_id, detail::opt(p.site_id), detail::opt(p.lead_id), p.template_name, p.stage,
         std::int64_t{to_epoch_ms(now)}, std::string(enum_name(kProjectStatusNames, p.status)),
         detail::opt(p.manager), detail::opt(p.sales_rep), p.region, p.started_on, actor});
    if (!r) {
        if (r.error().kind == ErrorKind::conflict && p.lead_id)
            return Error{"lead " + std::to_string(*p.lead_id) + " has a project already",
                         ErrorKind::conflict};
        return r.error();
    }
    p.id = r->rows.at(0).integer(0);
    for (const auto& m : milestones) {
        nlohmann::json docs = m.required_documents;
        auto i = db.run(
            "INSERT INTO project_milestones (project_id, stage, mkey, title, position, owner, planned_on, "
            "done_on, "
            "checklist, required_documents, updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
            "$9, $10, "
            "$11, 1)",
            {p.id, m.stage, m.key, m.title, std::int64_t{m.position}, detail::opt(m.owner),
             detail::opt(m.planned_on), detail::opt(m.done_on), detail::checklist_json(m.checklist),
             docs.dump(), std::int64_t{to_epoch_ms(now)}});
        if (!i) return i.error();
    }
    if (auto a = storage::append_audit(db, now, actor, "create", "project", std::to_string(p.id),
                                       std::nullopt, detail::project_audit_json(p));
        !a)
        return a.error();
    return p;
}

Result<Project> create_project(storage::Db& db, const ProjectSettings& settings, const NewProject& n,
                               const std::string& actor, TimePoint now) {
    return storage::in_transaction(
        db, [&]() { return create_project_in_transaction(db, settings, n, actor, now); });
}

Result<Project> update_project(storage::Db& db, const ProjectSettings& settings, Project p,
                               std::int64_t expected_version, const std::string& actor, TimePoint now) {
    p.name = records::detail::trim(p.name);
    p.region = records::detail::trim(p.region);
    return storage::in_transaction(db, [&]() -> Result<Project> {
        auto loaded = get_project(db, p.id);
        if (!loaded) return loaded.error();
        if (!*loaded) return Error{"project " + std::to_string(p.id) + ": not found", ErrorKind::not_found};
        const Project& before = **loaded;
        if (before.version != expected_version)
            return Error::at("version",
                             "project " + std::to_string(p.id) + " is at version " +
                                 std::to_string(before.version) + ", not " +
                                 std::to_string(expected_version) + " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        // What the template decides stays as stored.
        p.customer_id = before.customer_id;
        p.template_name = before.template_name;
        p.stage = before.stage;
        p.stage_since = before.stage_since;
        if (auto c = check_project_fields(db, p, settings); !c) return c.error();
        return detail::write_project(db, p, before, actor, "update", now);
    });
}

namespace {

Status apply_change(storage::Db& db, Milestone& m, const MilestoneChange& c, TimePoint now) {
    if (c.owner) {
        if (*c.owner)
            if (auto u = detail::check_user(db, **c.owner, nullptr, "owner"); !u) return u.error();
        m.owner = *c.owner;
    }
    if (c.planned_on) {
        if (*c.planned_on)
            if (auto e = records::detail::check_date(**c.planned_on)) return Error::at("planned_on", *e);
        m.planned_on = *c.planned_on;
    }
    if (c.done_on) {
        if (*c.done_on) {
            if (auto e = records::detail::check_date(**c.done_on)) return Error::at("done_on", *e);
            // The day the handover set from the site's local time may be ahead of UTC's today: kept as it is.
            if (**c.done_on > date_of(now) && *c.done_on != m.done_on)
                return Error::at("done_on", "in the future");
        }
        m.done_on = *c.done_on;
    }
    if (c.checklist) {
        if (c.checklist->size() > kMaxChecklistItems)
            return Error::at("checklist", "at most " + std::to_string(kMaxChecklistItems) + " items");
        for (std::size_t i = 0; i < c.checklist->size(); ++i)
            if (auto e = records::detail::check_text((*c.checklist)[i].item, 500);
                e || (*c.checklist)[i].item.empty())
                return Error::at("checklist/" + std::to_string(i) + "/item",
                                 e ? *e : std::string("required"));
        m.checklist = *c.checklist;
    }
    if (c.snoozed_until) m.snoozed_until = *c.snoozed_until;
    return {};
}

}  // namespace

Result<MilestoneResult> update_milestone(storage::Db& db, const ProjectSettings& settings,
                                         std::int64_t project_id, std::int64_t milestone_id,
                                         const MilestoneChange& change, std::int64_t expected_version,
                                         const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<MilestoneResult> {
        auto project = get_project(db, project_id);
        if (!project) return project.error();
        if (!*project)
            return Error{"project " + std::to_string(project_id) + ": not found", ErrorKind::not_found};
        auto all = list_milestones(db, project_id);
        if (!all) return all.error();
        auto it =
            std::find_if(all->begin(), all->end(), [&](const Milestone& m) { return m.id == milestone_id; });
        if (it == all->end())
            return Error{"milestone " + std::to_string(milestone_id) + " of project " +
                             std::to_string(project_id) + ": not found",
                         ErrorKind::not_found};
        const Milestone before = *it;
        if (before.version != expected_version)
            return Error::at("version",
                             "milestone " + std::to_string(milestone_id) + " is at version " +
                                 std::to_string(before.version) + ", not " +
                                 std::to_string(expected_version) + " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        if (auto a = apply_change(db, *it, change, now); !a) return a.error();
        return detail::save_milestone(db, settings, **project, *all, before, *it, actor, now);
    });
}

}  // namespace pvfleet::projects
