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

// An active user with `role`: errors at `field` ("manager: 'x' is not a project manager").
Status check_user(storage::Db& db, const std::string& name, const char* role, const char* field);

}  // namespace pvfleet::projects::detail
