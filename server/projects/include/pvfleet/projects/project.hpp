#pragma once
// A project and its milestones, and their pure rules (docs/projects.md): which stage a project is in, and the
// colour of its card on the board. No SQL here (repository.hpp), no HTTP (the API).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/projects/settings.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/enum_names.hpp"

namespace pvfleet::projects {

enum class ProjectStatus { active, on_hold, cancelled };
inline constexpr EnumNames<ProjectStatus, 3> kProjectStatusNames{{{ProjectStatus::active, "active"},
                                                                  {ProjectStatus::on_hold, "on_hold"},
                                                                  {ProjectStatus::cancelled, "cancelled"}}};

struct ChecklistItem {
    std::string item;
    bool done = false;
    bool operator==(const ChecklistItem&) const = default;
};

struct Milestone {
    std::int64_t id = 0;
    std::int64_t project_id = 0;
    std::string stage, key, title;
    int position = 0;  // order within the project (the template's order)
    std::optional<std::string> owner;
    std::optional<std::string> planned_on;  // YYYY-MM-DD; may lie in the past (projects moved from spreadsheets)
    std::optional<std::string> done_on;     // YYYY-MM-DD, the actual date; set: the milestone is done
    std::vector<ChecklistItem> checklist;
    std::vector<std::string> required_documents;
    std::optional<TimePoint> snoozed_until;  // no reminder before this instant
    TimePoint updated_at;
    std::int64_t version = 1;
};

struct Project {
    std::int64_t id = 0;
    std::string name;
    std::int64_t customer_id = 0;
    std::optional<std::string> site_id;
    std::optional<std::int64_t> lead_id;
    std::string template_name;
    std::string stage;  // the first stage not done (the last stage when all are)
    TimePoint stage_since;
    ProjectStatus status = ProjectStatus::active;
    std::optional<std::string> manager;    // a project_manager
    std::optional<std::string> sales_rep;  // the rep who converted the lead
    std::string region;
    std::string started_on;  // YYYY-MM-DD: planned dates count from here
    std::string created_by;
    TimePoint created_at, updated_at;
    std::int64_t version = 1;
};

// "2026-07-01" → 2026-07-01T00:00:00Z; nullopt unless a real calendar day.
std::optional<TimePoint> day_start(std::string_view date);
std::string date_of(TimePoint t);  // the UTC calendar day of an instant
std::string add_days(const std::string& date, int days);

// The stage a project is in: the first stage of the template (in order) with a milestone not done; the last
// stage when every milestone is done. `milestones` are the project's.
std::string current_stage(const Template& t, const std::vector<Milestone>& milestones);

// The board's colour of a project (docs/projects.md, "Deadlines and colours"). A milestone's deadline is the
// end of its planned day (planned_on + 1 day, 00:00 UTC); its window runs from the instant its stage began
// (Project::stage_since) to that deadline. Each milestone of the current stage that is not done and has a
// planned date is: red once now is past its deadline; yellow when at most 25 % of its window is left (a
// deadline at or before the stage's start counts as yellow until it passes); green otherwise. The card takes
// the worst; without any such milestone it is green.
enum class Colour { green, yellow, red };
inline constexpr EnumNames<Colour, 3> kColourNames{
    {{Colour::green, "green"}, {Colour::yellow, "yellow"}, {Colour::red, "red"}}};
Colour milestone_colour(const Milestone& m, TimePoint stage_since, TimePoint now);
Colour project_colour(const Project& p, const std::vector<Milestone>& milestones, TimePoint now);
// The deadline of a milestone (nullopt without a planned date).
std::optional<TimePoint> deadline_of(const Milestone& m);

}  // namespace pvfleet::projects
