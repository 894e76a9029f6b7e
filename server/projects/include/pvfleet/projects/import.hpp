#pragma once
// CSV import of projects (moving over from a spreadsheet): all or nothing like the customer and lead imports —
// every row is checked first, each error named by its line and column; only a file without errors is written, in
// one transaction. Columns (docs/projects.md): name, customer_id, site_id, manager, region, template, started_on,
// and per milestone of the template `<milestone key>` (its done date) and `<milestone key>_planned` (its planned
// date); dates may lie in the past, done dates not ahead. Each project's stage follows its milestones.
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/import.hpp"

namespace pvfleet::projects {

inline constexpr std::size_t kImportMaxBytes = 2 * 1024 * 1024;
inline constexpr int kImportMaxRows = 5000;

struct ProjectImportReport {
    int rows = 0;
    int projects_created = 0;
    std::vector<records::ImportRowError> errors;
    bool committed = false;
};

// Database failures are the Error; problems in the file are in the report (committed = false).
Result<ProjectImportReport> import_projects_csv(storage::Db& db, const ProjectSettings& settings, std::string_view csv,
                                                const std::string& actor, TimePoint now);

}  // namespace pvfleet::projects
