// The `projects` and `reminders` sections of the server config: templates and stall rules as data, each error
// at its key path.
#include "pvfleet/projects/settings.hpp"

#include <set>

#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::projects {
namespace {

using config::integer;
using config::Json;
using config::optional;
using config::required;

const config::Wording kWording = config::server_wording(config::RangeWords::integer);

const config::Object kProjects{
    {optional("templates", config::array()), optional("default_template", config::string().non_empty()),
     optional("handover", config::object())},
    kWording};
const config::Object kHandover{
    {optional("commissioning_milestone", config::string().non_empty()),
     optional("grid_acceptance_milestone", config::string().non_empty()),
     optional("min_power_w", config::number(1, 1e6)), optional("warranty_years", integer(0, 50))},
    kWording};
const config::Object kTemplate{
    {required("name", config::string().non_empty()), required("stages", config::array())}, kWording};
const config::Object kStage{{required("key", config::string().non_empty()),
                             optional("title", config::string()), optional("milestones", config::array())},
                            kWording};
const config::Object kMilestone{
    {required("key", config::string().non_empty()), optional("title", config::string()),
     optional("owner", config::one_of({"project_manager", "sales"}).non_empty()),
     optional("due_days", integer(0, 3650)), optional("checklist", config::array()),
     optional("required_documents", config::array())},
    kWording};
const config::Object kReminders{
    {optional("check_interval_s", integer(1, 86400)), optional("rules", config::array())}, kWording};
const config::Object kRule{
    {required("name", config::string().non_empty()),
     optional("kind", config::one_of({"milestone", "payment_overdue"}).non_empty()),
     optional("milestone", config::string().non_empty()), optional("after", config::string()),
     optional("after_days", integer(0, 3650)), optional("escalate_after_days", integer(0, 3650))},
    kWording};

// A key: lower case letters, digits and '_' (it appears in URLs, CSV columns and reminder keys).
bool good_key(const std::string& k) {
    if (k.empty() || k.size() > 64) return false;
    for (const char c : k)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

std::vector<std::string> strings(const Json& arr, const std::string& path, config::Errors& e) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < arr.size(); ++i) {
        if (!arr[i].is_string() || arr[i].get<std::string>().empty())
            e.add(config::join(path, std::to_string(i)), "expected a non-empty string");
        else
            out.push_back(arr[i].get<std::string>());
    }
    return out;
}

// An object at `at` in an array, or an error there.
const Json* item_at(const Json& arr, std::size_t i, const std::string& at, config::Errors& e) {
    if (!arr[i].is_object()) {
        e.add(at, "expected an object");
        return nullptr;
    }
    return &arr[i];
}

MilestoneTemplate parse_milestone(const Json& m, const std::string& at, std::set<std::string>& keys,
                                  config::Errors& e) {
    kMilestone.check_keys(m, at, e);
    config::Reader r(m, at, kMilestone, e);
    MilestoneTemplate out;
    out.key = r.string("key").value_or("");
    if (!out.key.empty() && !good_key(out.key))
        e.add(at + "/key", "expected lower-case letters, digits and '_' (at most 64)");
    else if (!out.key.empty() && !keys.insert(out.key).second)
        e.add(at + "/key", "'" + out.key + "' appears twice in this template");
    out.title = r.string("title").value_or(out.key);
    out.owner = r.string("owner").value_or("project_manager");
    if (auto d = r.integer("due_days")) out.due_days = static_cast<int>(*d);
    if (const Json* c = r.value("checklist")) out.checklist = strings(*c, at + "/checklist", e);
    if (const Json* d = r.value("required_documents"))
        out.required_documents = strings(*d, at + "/required_documents", e);
    return out;
}

Template parse_template(const Json& t, const std::string& at, config::Errors& e) {
    kTemplate.check_keys(t, at, e);
    config::Reader r(t, at, kTemplate, e);
    Template out;
    out.name = r.string("name").value_or("");
    std::set<std::string> stage_keys, milestone_keys;
    if (const Json* stages = r.value("stages")) {
        if (stages->empty()) e.add(at + "/stages", "expected at least one stage");
        for (std::size_t i = 0; i < stages->size(); ++i) {
            const std::string sat = at + "/stages/" + std::to_string(i);
            const Json* s = item_at(*stages, i, sat, e);
            if (s == nullptr) continue;
            kStage.check_keys(*s, sat, e);
            config::Reader sr(*s, sat, kStage, e);
            StageTemplate stage;
            stage.key = sr.string("key").value_or("");
            if (!stage.key.empty() && !good_key(stage.key))
                e.add(sat + "/key", "expected lower-case letters, digits and '_' (at most 64)");
            else if (!stage.key.empty() && !stage_keys.insert(stage.key).second)
                e.add(sat + "/key", "'" + stage.key + "' appears twice in this template");
            stage.title = sr.string("title").value_or(stage.key);
            if (const Json* ms = sr.value("milestones"))
                for (std::size_t k = 0; k < ms->size(); ++k) {
                    const std::string mat = sat + "/milestones/" + std::to_string(k);
                    if (const Json* m = item_at(*ms, k, mat, e))
                        stage.milestones.push_back(parse_milestone(*m, mat, milestone_keys, e));
                }
            out.stages.push_back(std::move(stage));
        }
    }
    return out;
}

MilestoneTemplate ms(const char* key, const char* title, int due_days,
                     std::vector<std::string> checklist = {}, std::vector<std::string> documents = {},
                     const char* owner = "project_manager") {
    return MilestoneTemplate{key, title, owner, due_days, std::move(checklist), std::move(documents)};
}

}  // namespace

const StageTemplate* Template::stage(const std::string& key) const {
    for (const auto& s : stages)
        if (s.key == key) return &s;
    return nullptr;
}

const MilestoneTemplate* Template::milestone(const std::string& key) const {
    for (const auto& s : stages)
        for (const auto& m : s.milestones)
            if (m.key == key) return &m;
    return nullptr;
}

const Template* ProjectSettings::find(const std::string& name) const {
    for (const auto& t : templates)
        if (t.name == name) return &t;
    return nullptr;
}

ProjectSettings default_project_settings() {
    Template t;
    t.name = "residential";
    t.stages = {
        {"inquiry", "Inquiry", {ms("first_contact", "First contact", 0, {}, {}, "sales")}},
        {"site_survey",
         "Site survey",
         {ms("survey_done", "Site survey done", 14,
             {"Roof measured", "Meter cabinet photographed", "Shading noted"}, {"survey_photo"})}},
        {"design_quote",
         "Design & quote",
         {ms("quote_sent", "Quote sent", 21, {"Layout drawn", "Yield estimated"})}},
        {"contract",
         "Contract signed",
         {ms("contract_signed", "Contract signed", 35, {}, {"signed_contract"}, "sales")}},
        {"installation",
         "Installation",
         {ms("installation_done", "Installation done", 63,
             {"Modules mounted", "Inverter wired", "Gateway installed"},
             {"wiring", "serial_plate"})}},
        {"grid_application",
         "Grid-connection application",
         {ms("grid_application_submitted", "Application submitted", 70),
          ms("grid_application_approved", "Application approved", 84, {}, {"grid_approval"})}},
        {"grid_acceptance", "Grid acceptance", {ms("grid_acceptance", "Grid acceptance", 98)}},
        {"commissioning", "Commissioning", {ms("commissioning", "Commissioning (first production)", 105)}},
        {"om", "O&M", {}},
    };
    ProjectSettings s;
    s.templates.push_back(std::move(t));
    s.default_template = "residential";
    return s;
}

ReminderSettings default_reminder_settings() {
    ReminderSettings r;
    r.rules.push_back(StallRule{"grid_application_pending", "grid_application_approved",
                                "grid_application_submitted", 7, 0});
    r.rules.push_back(StallRule{"payment_overdue", "", "", 7, 7, RuleKind::payment_overdue});
    return r;
}

Result<ProjectSettings> parse_project_settings(const Json& section, const std::string& path) {
    ProjectSettings s = default_project_settings();
    if (!section.is_object()) return Error::at(path, "expected an object");
    config::Errors e;
    kProjects.check_keys(section, path, e);
    config::Reader top(section, path, kProjects, e);
    if (const Json* ts = top.value("templates")) {
        s.templates.clear();
        if (ts->empty()) e.add(path + "/templates", "expected at least one template");
        std::set<std::string> names;
        for (std::size_t i = 0; i < ts->size(); ++i) {
            const std::string at = path + "/templates/" + std::to_string(i);
            const Json* t = item_at(*ts, i, at, e);
            if (t == nullptr) continue;
            Template parsed = parse_template(*t, at, e);
            if (!parsed.name.empty() && !names.insert(parsed.name).second)
                e.add(at + "/name", "'" + parsed.name + "' appears twice");
            s.templates.push_back(std::move(parsed));
        }
        s.default_template = s.templates.empty() ? "" : s.templates.front().name;
    }
    if (auto d = top.string("default_template")) {
        if (s.find(*d) == nullptr)
            e.add(path + "/default_template", "unknown template '" + *d + "'");
        else
            s.default_template = *d;
    }
    if (const Json* h = top.value("handover")) {
        const std::string at = path + "/handover";
        kHandover.check_keys(*h, at, e);
        config::Reader hr(*h, at, kHandover, e);
        if (auto m = hr.string("commissioning_milestone")) s.handover.commissioning_milestone = *m;
        if (auto m = hr.string("grid_acceptance_milestone")) s.handover.grid_acceptance_milestone = *m;
        if (auto w = hr.number("min_power_w")) s.handover.min_power_w = *w;
        if (auto y = hr.integer("warranty_years")) s.handover.warranty_years = static_cast<int>(*y);
        // A template without the milestone is left alone by the handover; none having it is a typo.
        for (const auto& [key, name] :
             {std::pair{"commissioning_milestone", &s.handover.commissioning_milestone},
              std::pair{"grid_acceptance_milestone", &s.handover.grid_acceptance_milestone}}) {
            bool known = false;
            for (const auto& t : s.templates) known |= t.milestone(*name) != nullptr;
            if (h->contains(key) && !known)
                e.add(at + "/" + key, "no template has a milestone '" + *name + "'");
        }
    }
    if (!e.empty()) return e.joined();
    return s;
}

Result<ReminderSettings> parse_reminder_settings(const Json& section, const ProjectSettings& projects,
                                                 const std::string& path) {
    ReminderSettings s = default_reminder_settings();
    if (!section.is_object()) return Error::at(path, "expected an object");
    config::Errors e;
    kReminders.check_keys(section, path, e);
    config::Reader top(section, path, kReminders, e);
    if (auto i = top.integer("check_interval_s")) s.check_interval_s = static_cast<int>(*i);
    if (const Json* rules = top.value("rules")) {
        s.rules.clear();
        std::set<std::string> names;
        for (std::size_t i = 0; i < rules->size(); ++i) {
            const std::string at = path + "/rules/" + std::to_string(i);
            const Json* r = item_at(*rules, i, at, e);
            if (r == nullptr) continue;
            kRule.check_keys(*r, at, e);
            config::Reader rr(*r, at, kRule, e);
            StallRule rule;
            rule.name = rr.string("name").value_or("");
            rule.milestone = rr.string("milestone").value_or("");
            rule.after = rr.string("after").value_or("");
            if (auto d = rr.integer("after_days")) rule.after_days = static_cast<int>(*d);
            if (auto d = rr.integer("escalate_after_days")) rule.escalate_after_days = static_cast<int>(*d);
            if (auto k = rr.string("kind"))
                rule.kind = enum_from_name(kRuleKindNames, *k).value_or(RuleKind::milestone);
            if (!rule.name.empty() && !good_key(rule.name))
                e.add(at + "/name", "expected lower-case letters, digits and '_' (at most 64)");
            else if (!rule.name.empty() && !names.insert(rule.name).second)
                e.add(at + "/name", "'" + rule.name + "' appears twice");
            // A kind the reader refused is its error alone: what the rule needs depends on it.
            if (r->contains("kind") && !(r->at("kind").is_string() &&
                                         enum_from_name(kRuleKindNames, r->at("kind").get<std::string>())))
                continue;
            if (rule.kind == RuleKind::payment_overdue) {
                // Its days count from an instalment's due day: no milestone to name.
                for (const char* k : {"milestone", "after"})
                    if (r->contains(k)) e.add(at + "/" + k, "not a member of a payment_overdue rule");
                s.rules.push_back(std::move(rule));
                continue;
            }
            if (!r->contains("milestone")) {
                e.add(at + "/milestone", "required");
                s.rules.push_back(std::move(rule));
                continue;
            }
            bool milestone_known = false, after_known = rule.after.empty();
            for (const auto& t : projects.templates) {
                milestone_known |= t.milestone(rule.milestone) != nullptr;
                after_known |= t.milestone(rule.after) != nullptr;
            }
            if (!rule.milestone.empty() && !milestone_known)
                e.add(at + "/milestone", "no template has a milestone '" + rule.milestone + "'");
            if (!after_known) e.add(at + "/after", "no template has a milestone '" + rule.after + "'");
            if (!rule.after.empty() && rule.after == rule.milestone)
                e.add(at + "/after", "a milestone cannot wait for itself");
            s.rules.push_back(std::move(rule));
        }
    }
    if (!e.empty()) return e.joined();
    return s;
}

}  // namespace pvfleet::projects
