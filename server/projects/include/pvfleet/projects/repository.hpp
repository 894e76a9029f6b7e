#pragma once
// The projects' repository (SQL over storage::Db, both engines): projects with their milestones, copied from
// a stage template when a project is made, and the conversion of a lead. Each public call is one transaction;
// every change goes to the audit log. docs/projects.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/leads/rules.hpp"
#include "pvfleet/projects/project.hpp"
#include "pvfleet/records/crypto.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/db.hpp"

namespace pvfleet::projects {

struct ProjectQuery {
    std::optional<std::string> manager;    // only this project manager's projects
    std::optional<std::string> sales_rep;  // only projects of leads this rep converted
    std::optional<std::string> region;
    std::optional<std::string> stage;
    std::optional<std::int64_t> customer_id;
    bool include_cancelled = false;
    std::int64_t after_id = 0;  // keyset paging: ids greater than this
    int limit = 100;            // 1..1000
};

Result<std::vector<Project>> list_projects(storage::Db& db, const ProjectQuery& query);
Result<std::optional<Project>> get_project(storage::Db& db, std::int64_t id);
Result<std::optional<Project>> project_of_lead(storage::Db& db, std::int64_t lead_id);

// The customers a sales rep or a project manager may read (docs/projects.md, "Roles"): a rep's are the
// customers their leads were converted into and those of the projects they are the rep of; a project
// manager's are the customers of the projects they manage. The other roles' scope is not this function's (all
// customers, or none).
enum class CustomerScope { sales_rep, project_manager };
// Ids ascending, greater than `after_id`, at most `limit` (1–10 000).
Result<std::vector<std::int64_t>> customers_in_scope(storage::Db& db, CustomerScope scope,
                                                     const std::string& user, std::int64_t after_id,
                                                     int limit);
Result<bool> customer_in_scope(storage::Db& db, CustomerScope scope, const std::string& user,
                               std::int64_t customer_id);
Result<std::vector<Milestone>> list_milestones(storage::Db& db, std::int64_t project_id);
// The milestones of many projects at once (the board), by project id.
Result<std::vector<Milestone>> milestones_of(storage::Db& db, const std::vector<std::int64_t>& project_ids);

// Who set each done milestone's day last (the audit log: a person, an import, `system:handover`), by
// milestone id; at most 50 audit entries per milestone are read.
Result<std::map<std::int64_t, std::string>> milestones_done_by(storage::Db& db,
                                                               const std::vector<Milestone>& ms);

// What a new project needs; the rest comes from the template.
struct NewProject {
    std::string name;
    std::int64_t customer_id = 0;
    std::optional<std::string> site_id;
    std::optional<std::int64_t> lead_id;
    std::optional<std::string> manager;
    std::optional<std::string> sales_rep;
    std::string region;
    std::string template_name;              // "" : the default template
    std::optional<std::string> started_on;  // "" / nullopt: today (UTC); may lie in the past
    // The milestones of the template's first stage done on this day (a converted lead: its inquiry is behind
    // it).
    std::optional<std::string> first_stage_done_on;
};

// Creates the project and its milestones (planned dates from the template's due_days), audited. Errors at the
// field ("manager: 'x' is not a project manager", "template: unknown 'x'").
Result<Project> create_project(storage::Db& db, const ProjectSettings& settings, const NewProject& p,
                               const std::string& actor, TimePoint now);
// create_project inside the caller's transaction (the conversion).
Result<Project> create_project_in_transaction(storage::Db& db, const ProjectSettings& settings,
                                              const NewProject& p, const std::string& actor, TimePoint now);

// Changes name, manager, site, region, status; ErrorKind::conflict when the project is not at
// `expected_version`.
Result<Project> update_project(storage::Db& db, const ProjectSettings& settings, Project p,
                               std::int64_t expected_version, const std::string& actor, TimePoint now);

// Changes a milestone (owner, planned and actual dates, checklist, snooze); then the project's stage follows
// (a stage is done when its milestones are: the project moves to the first stage not done, and back when a
// milestone is reopened). A done date may lie in the past, never in the future. ErrorKind::conflict when the
// milestone is not at `expected_version`.
struct MilestoneChange {
    std::optional<std::optional<std::string>> owner, planned_on, done_on;  // outer nullopt: unchanged
    std::optional<std::vector<ChecklistItem>> checklist;
    std::optional<std::optional<TimePoint>> snoozed_until;
};
struct MilestoneResult {
    Milestone milestone;
    Project project;  // after the stage followed
};
Result<MilestoneResult> update_milestone(storage::Db& db, const ProjectSettings& settings,
                                         std::int64_t project_id, std::int64_t milestone_id,
                                         const MilestoneChange& change, std::int64_t expected_version,
                                         const std::string& actor, TimePoint now);

// ---- Conversion of a lead (POST /api/leads/{id}/convert) ----
struct Conversion {
    std::int64_t lead_id = 0;
    std::string project_name;               // "" : the lead's name
    std::optional<std::string> manager;     // a project_manager
    std::string template_name;              // "" : the default
    std::optional<std::string> started_on;  // "" / nullopt: today
    std::optional<records::Site> site;      // a new site for the customer (site_id, name, address, …)
    // Only this rep's lead (a sales rep converts their own); nullopt: any.
    std::optional<std::string> only_assignee;
};
struct Converted {
    std::int64_t customer_id = 0;
    std::optional<std::string> site_id;
    Project project;
};
// In one transaction: the customer from the lead's contact (encrypted like any customer's; its de-duplication
// keys written at once, so a repeat inquiry of the person finds the customer), the site when given, the
// project (sales_rep: the lead's assignee), and the lead marked converted with its customer. A converted lead
// is ErrorKind::conflict; a missing one (or another rep's) not_found.
Result<Converted> convert_lead(storage::Db& db, const records::FieldCipher& cipher,
                               const ProjectSettings& settings, const leads::Settings& lead_settings,
                               const Conversion& conversion, const std::string& actor, TimePoint now);

}  // namespace pvfleet::projects
