// The CSV import of projects: check every row, then write all of them in one transaction or none.
#include "pvfleet/projects/import.hpp"

#include <map>
#include <set>

#include "pvfleet/records/csv.hpp"
#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/util/number.hpp"
#include "rows.hpp"

namespace pvfleet::projects {
namespace {

namespace checks = records::detail;
using records::ImportRowError;

const std::vector<std::string> kBaseColumns{"name",   "customer_id", "site_id",   "manager",
                                            "region", "template",    "started_on"};
constexpr const char* kPlannedSuffix = "_planned";

struct CsvProject {
    int line = 0;
    NewProject project;
    std::map<std::string, std::string> done, planned;  // milestone key → date
};

// Every milestone key of any template: a column may name one.
std::set<std::string> milestone_keys(const ProjectSettings& settings) {
    std::set<std::string> keys;
    for (const auto& t : settings.templates)
        for (const auto& s : t.stages)
            for (const auto& m : s.milestones) keys.insert(m.key);
    return keys;
}

// The header's columns by name; errors for unknown and repeated ones.
std::map<std::string, std::size_t> read_header(const std::vector<std::string>& header,
                                               const ProjectSettings& settings,
                                               std::vector<ImportRowError>& errors) {
    const auto keys = milestone_keys(settings);
    std::map<std::string, std::size_t> columns;
    for (std::size_t i = 0; i < header.size(); ++i) {
        const std::string name = checks::trim(header[i]);
        std::string key = name;
        if (key.size() > std::string_view(kPlannedSuffix).size() && key.ends_with(kPlannedSuffix))
            key.resize(key.size() - std::string_view(kPlannedSuffix).size());
        const bool known = std::find(kBaseColumns.begin(), kBaseColumns.end(), name) != kBaseColumns.end() ||
                           keys.contains(key);
        if (!known)
            errors.push_back({1, name,
                              "unknown column (expected name, customer_id, site_id, manager, region, "
                              "template, started_on, or a milestone key with or without _planned)"});
        else if (!columns.emplace(name, i).second)
            errors.push_back({1, name, "appears twice"});
    }
    for (const char* required : {"name", "customer_id"})
        if (!columns.contains(required)) errors.push_back({1, required, "required column"});
    return columns;
}

CsvProject read_row(const checks::CsvRecord& record, const std::map<std::string, std::size_t>& columns,
                    const ProjectSettings& settings, TimePoint now, std::vector<ImportRowError>& errors) {
    CsvProject row;
    row.line = record.line;
    auto cell = [&](const std::string& column) {
        const auto it = columns.find(column);
        return it == columns.end() || it->second >= record.fields.size()
                   ? std::string()
                   : checks::trim(record.fields[it->second]);
    };
    auto error = [&](const std::string& column, const std::string& message) {
        errors.push_back({record.line, column, message});
    };
    NewProject& p = row.project;
    p.name = cell("name");
    if (p.name.empty())
        error("name", "required");
    else if (auto e = checks::check_text(p.name, 200))
        error("name", *e);
    const auto customer = parse_number<std::int64_t>(cell("customer_id"));
    if (!customer || *customer < 1)
        error("customer_id", "expected a customer number");
    else
        p.customer_id = *customer;
    if (auto s = cell("site_id"); !s.empty()) p.site_id = s;
    if (auto m = cell("manager"); !m.empty()) p.manager = m;
    p.region = cell("region");
    p.template_name = cell("template");
    const Template* t = settings.find(p.template_name.empty() ? settings.default_template : p.template_name);
    if (t == nullptr) error("template", "unknown template '" + p.template_name + "'");
    if (auto s = cell("started_on"); !s.empty()) {
        if (auto e = checks::check_date(s)) error("started_on", *e);
        p.started_on = s;
    }
    const std::string today = date_of(now);
    for (const auto& [column, index] : columns) {
        const std::string value = cell(column);
        if (value.empty() ||
            std::find(kBaseColumns.begin(), kBaseColumns.end(), column) != kBaseColumns.end())
            continue;
        const bool is_planned = column.ends_with(kPlannedSuffix) &&
                                column.size() > std::string_view(kPlannedSuffix).size() &&
                                (t == nullptr || t->milestone(column) == nullptr);
        const std::string key =
            is_planned ? column.substr(0, column.size() - std::string_view(kPlannedSuffix).size()) : column;
        if (t != nullptr && t->milestone(key) == nullptr) {
            error(column, "template '" + t->name + "' has no milestone '" + key + "'");
            continue;
        }
        if (auto e = checks::check_date(value)) {
            error(column, *e);
            continue;
        }
        if (!is_planned && value > today) {
            error(column, "a done date ahead of today");
            continue;
        }
        (is_planned ? row.planned : row.done)[key] = value;
    }
    return row;
}

// Writes one checked row: the project, its milestones' dates, its stage.
Status write_row(storage::Db& db, const ProjectSettings& settings, const CsvProject& row,
                 const std::string& actor, TimePoint now) {
    auto p = create_project_in_transaction(db, settings, row.project, actor, now);
    if (!p) return p.error();
    for (const auto& [dates, column] :
         {std::pair{&row.planned, "planned_on"}, std::pair{&row.done, "done_on"}})
        for (const auto& [key, date] : *dates)
            if (auto u = db.run(std::string("UPDATE project_milestones SET ") + column +
                                    " = $1 WHERE project_id = $2 AND mkey = $3",
                                {date, p->id, key});
                !u)
                return u.error();
    auto milestones = list_milestones(db, p->id);
    if (!milestones) return milestones.error();
    const std::string stage = current_stage(*settings.find(p->template_name), *milestones);
    if (stage != p->stage)
        if (auto u = db.run("UPDATE projects SET stage = $1 WHERE id = $2", {stage, p->id}); !u)
            return u.error();
    // A grid acceptance or commissioning imported with its day tells the site, as when done by hand.
    for (const auto& m : *milestones)
        if (m.done_on)
            if (auto e = detail::milestone_done_effects(db, settings, *p, std::nullopt, m, actor, now); !e)
                return Error::at("line " + std::to_string(row.line), e.error().message);
    return {};
}

}  // namespace

Result<ProjectImportReport> import_projects_csv(storage::Db& db, const ProjectSettings& settings,
                                                std::string_view csv, const std::string& actor,
                                                TimePoint now) {
    ProjectImportReport report;
    if (csv.size() > kImportMaxBytes) {
        report.errors.push_back(
            {0, "", "larger than " + std::to_string(kImportMaxBytes) + " bytes: split the file"});
        return report;
    }
    const auto doc = checks::parse_csv(csv);
    for (const auto& p : doc.problems) report.errors.push_back({p.line, "", p.message});
    if (doc.records.empty() || doc.records.front().line != 1) {
        report.errors.insert(report.errors.begin(),
                             {1, "", "header row required (first line: column names)"});
        return report;
    }
    report.rows = static_cast<int>(doc.records.size()) - 1;
    if (report.rows > kImportMaxRows) {
        report.errors.push_back(
            {0, "", "more than " + std::to_string(kImportMaxRows) + " rows: split the file"});
        return report;
    }
    const auto columns = read_header(doc.records.front().fields, settings, report.errors);
    if (!report.errors.empty()) return report;
    std::vector<CsvProject> rows;
    for (std::size_t i = 1; i < doc.records.size(); ++i)
        rows.push_back(read_row(doc.records[i], columns, settings, now, report.errors));
    if (!report.errors.empty()) return report;
    // What only the database can tell (a customer, a site, a manager): every row tried, all rolled back on
    // any.
    auto written = storage::in_transaction(db, [&]() -> Result<int> {
        for (const auto& row : rows) {
            auto w = write_row(db, settings, row, actor, now);
            if (!w && w.error().kind != ErrorKind::invalid) return w.error();
            if (!w) {
                const auto& e = w.error();
                report.errors.push_back(
                    {row.line, e.path, e.path.empty() ? e.message : e.message.substr(e.path.size() + 2)});
            }
        }
        if (!report.errors.empty()) return Error{"the file has errors", ErrorKind::invalid};
        return static_cast<int>(rows.size());
    });
    if (!written) {
        if (report.errors.empty()) return written.error();
        return report;
    }
    report.projects_created = *written;
    report.committed = true;
    return report;
}

}  // namespace pvfleet::projects
