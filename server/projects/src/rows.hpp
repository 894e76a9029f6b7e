#pragma once
// Between projects, milestones and their rows; shared by the repository's files.
#include <nlohmann/json.hpp>
#include <string>

#include "pvfleet/projects/repository.hpp"

namespace pvfleet::projects::detail {

extern const char* const kProjectColumns;    // in project_from_row's order
extern const char* const kMilestoneColumns;  // in milestone_from_row's order

Project project_from_row(const storage::Row& row);
Milestone milestone_from_row(const storage::Row& row);
std::string checklist_json(const std::vector<ChecklistItem>& items);
std::string project_audit_json(const Project& p);
std::string milestone_audit_json(const Milestone& m);

storage::Value opt(const std::optional<std::string>& v);
storage::Value opt(const std::optional<std::int64_t>& v);
storage::Value opt_ms(const std::optional<TimePoint>& v);

// Writes the project at before.version + 1 and audits it (`action`); conflict when it moved meanwhile.
Result<Project> write_project(storage::Db& db, Project p, const Project& before, const std::string& actor,
                              const std::string& action, TimePoint now);
// Saves `m` (changed from `before`, one of the project's milestones `all`) at before.version + 1: audited,
// its done day's effects on the site (milestone_done_effects), then the project's stage following. Inside the
// caller's transaction; conflict when the milestone moved meanwhile.
Result<MilestoneResult> save_milestone(storage::Db& db, const ProjectSettings& settings, Project p,
                                       const std::vector<Milestone>& all, const Milestone& before,
                                       Milestone m, const std::string& actor, TimePoint now);
// What a milestone's done day (set, corrected or cleared: `before_done_on` → m.done_on) decides about the
// project's site (handover.cpp): grid acceptance → grid_connected_on; commissioning → commissioned_on and the
// warranty's end. Inside the caller's transaction; nothing without a site.
Status milestone_done_effects(storage::Db& db, const ProjectSettings& settings, const Project& p,
                              const std::optional<std::string>& before_done_on, const Milestone& m,
                              const std::string& actor, TimePoint now);

// An active user with `role`: errors at `field` ("manager: 'x' is not a project manager").
Status check_user(storage::Db& db, const std::string& name, const char* role, const char* field);

}  // namespace pvfleet::projects::detail
