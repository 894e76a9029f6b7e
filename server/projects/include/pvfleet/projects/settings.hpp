#pragma once
// The projects' rules as data (docs/projects.md): stage templates (the config section `projects`) and stall
// rules with the scheduler's interval (the section `reminders`). Parsed over documented defaults; every error
// at its key path ("projects/templates/0/stages/3/milestones/1/key: 'survey' appears twice").
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/util/enum_names.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::projects {

// One milestone of a stage as the template describes it; a project copies it when it is created.
struct MilestoneTemplate {
    std::string key;    // unique within the template ("grid_application_submitted")
    std::string title;  // shown in the web app
    // Who owns it on a new project: "project_manager" (the project's manager) or "sales" (the converting
    // rep).
    std::string owner = "project_manager";
    // The planned date of a new project's milestone: this many days after the project's start.
    int due_days = 0;
    std::vector<std::string> checklist;           // items to tick
    std::vector<std::string> required_documents;  // document kinds ("signed_contract", "grid_approval")
};

struct StageTemplate {
    std::string key;  // "grid_application"
    std::string title;
    std::vector<MilestoneTemplate> milestones;  // a stage is done when all of them are (none: done at once)
};

struct Template {
    std::string name;
    std::vector<StageTemplate> stages;  // in order; the last is where a finished project stays (O&M)

    [[nodiscard]] const StageTemplate* stage(const std::string& key) const;
    [[nodiscard]] const MilestoneTemplate* milestone(const std::string& key) const;
};

// What a rule watches: a milestone not done in time, or an instalment of a payment plan not paid in time.
enum class RuleKind { milestone, payment_overdue };
inline constexpr EnumNames<RuleKind, 2> kRuleKindNames{
    {{RuleKind::milestone, "milestone"}, {RuleKind::payment_overdue, "payment_overdue"}}};

// kind milestone: "Milestone `milestone` not done `after_days` days after milestone `after` was done → remind
// its owner; after `escalate_after_days` more days → escalate to the owner's supervisor." `after` empty:
// counted from the day the milestone's stage began. kind payment_overdue: "an instalment still not paid
// `after_days` days after its due day → remind the project's sales rep (else its manager);
// `escalate_after_days` later → their supervisor" (contracts.hpp). Levels: 1 remind, 2 escalate.
struct StallRule {
    std::string name;  // unique; part of each reminder's key
    std::string milestone;
    std::string after;
    int after_days = 7;
    int escalate_after_days = 0;
    RuleKind kind = RuleKind::milestone;
};

// The handover to O&M (docs/projects.md, "Handover to O&M"): which milestones the plant and the grid operator
// complete, what counts as production, and what commissioning starts.
struct HandoverSettings {
    std::string commissioning_milestone = "commissioning";  // done by the site's first production
    std::string grid_acceptance_milestone =
        "grid_acceptance";    // its done day is the site's grid_connected_on
    double min_power_w = 50;  // a sample's ac_power_w at least this is production
    int warranty_years =
        10;  // the site's warranty_end = commissioning + this (when not set already); 0: none
};

struct ProjectSettings {
    std::vector<Template> templates;  // the first is the default
    std::string default_template;
    HandoverSettings handover;
    [[nodiscard]] const Template* find(const std::string& name) const;
};

struct ReminderSettings {
    int check_interval_s = 60;
    std::vector<StallRule> rules;
};

// The documented defaults: the template "residential" (inquiry → site survey → design & quote → contract
// signed → installation → grid-connection application → grid acceptance → commissioning → O&M) and the rule
// "grid_application_pending" (the application not approved 7 days after it was submitted: the project manager
// and, at once, their supervisor), and the rule "payment_overdue" (an instalment unpaid 7 days after its due
// day: the sales rep; 7 days later their supervisor).
ProjectSettings default_project_settings();
ReminderSettings default_reminder_settings();

Result<ProjectSettings> parse_project_settings(const nlohmann::json& section,
                                               const std::string& path = "projects");
// Rules name milestones of the templates: each is checked against every template that has it (a rule whose
// milestone no template knows is an error at its key).
Result<ReminderSettings> parse_reminder_settings(const nlohmann::json& section,
                                                 const ProjectSettings& projects,
                                                 const std::string& path = "reminders");

}  // namespace pvfleet::projects
