#include "pvfleet/records/import.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "csv.hpp"
#include "internal.hpp"
#include "validate.hpp"

namespace pvfleet::records {
namespace {

constexpr std::array<std::string_view, 15> kCustomerCsvColumns = {
    "customer_name", "phone",     "email",     "address", "notes", "site_id", "site_name",   "site_address",
    "latitude",      "longitude", "time_zone", "kwp",     "tilt",  "azimuth", "installed_on"};
constexpr std::array<std::string_view, 9> kSiteCsvColumns = {"site_name", "site_address", "latitude",
                                                          "longitude", "time_zone",    "kwp",
                                                          "tilt",      "azimuth",      "installed_on"};

std::string expected_columns() {
    std::string out;
    for (const auto c : kCustomerCsvColumns) out += (out.empty() ? "" : ", ") + std::string(c);
    return out;
}

// One data row after checking: what to write.
struct SiteRow {
    int line = 0;
    Site site;
    bool time_zone_given = false;  // else the site keeps its zone when it is already on record
};

struct CustomerGroup {
    int first_line = 0;
    Customer customer;
    std::optional<std::int64_t> existing_id;  // a customer with this name and e-mail is already on record
    std::vector<SiteRow> sites;
};

class RowReader {
public:
    RowReader(const std::map<std::string, std::size_t>& columns, const detail::CsvRecord& record,
              std::vector<ImportRowError>& errors)
        : columns_(columns), record_(record), errors_(errors) {}

    [[nodiscard]] std::string get(std::string_view column) const {
        const auto it = columns_.find(std::string(column));
        return it == columns_.end() ? std::string() : detail::trim(record_.fields.at(it->second));
    }
    // Reports the problem at this row and column; true when there was none.
    bool check(std::string_view column, const detail::Problem& problem) {
        if (!problem) return true;
        error(column, *problem);
        return false;
    }
    void error(std::string_view column, std::string message) {
        errors_.push_back(ImportRowError{record_.line, std::string(column), std::move(message)});
    }
    std::optional<double> number(std::string_view column) {
        const auto text = get(column);
        if (text.empty()) return std::nullopt;
        auto v = detail::parse_number(text);
        if (!v) error(column, "not a number (use a dot as the decimal separator)");
        return v;
    }
    [[nodiscard]] int line() const { return record_.line; }

private:
    const std::map<std::string, std::size_t>& columns_;
    const detail::CsvRecord& record_;
    std::vector<ImportRowError>& errors_;
};

std::string customer_key(const Customer& c) {
    // Rows with the same name and e-mail are one customer; letter case does not make another person.
    return detail::fold_case(c.name) + '\x1f' + detail::fold_case(c.email);
}

// Reads the site columns of one row; nullopt when the row has no site or a site column is wrong.
std::optional<Site> read_site(RowReader& row) {
    const auto site_id = row.get("site_id");
    if (site_id.empty()) {
        for (const auto c : kSiteCsvColumns)
            if (!row.get(c).empty()) {
                row.error("site_id", "required when site columns are filled (" + std::string(c) + ")");
                break;
            }
        return std::nullopt;
    }
    bool ok = row.check("site_id", detail::check_site_id(site_id));
    Site s;
    s.site_id = site_id;
    s.name = row.get("site_name");
    s.address = row.get("site_address");
    ok &= row.check("site_name", detail::check_text(s.name, 200));
    ok &= row.check("site_address", detail::check_text(s.address, 500));
    const auto lat_text = row.get("latitude");
    const auto lon_text = row.get("longitude");
    s.latitude = row.number("latitude");
    s.longitude = row.number("longitude");
    ok &= lat_text.empty() || s.latitude.has_value();
    ok &= lon_text.empty() || s.longitude.has_value();
    if (s.latitude) ok &= row.check("latitude", detail::check_latitude(*s.latitude));
    if (s.longitude) ok &= row.check("longitude", detail::check_longitude(*s.longitude));
    if (lat_text.empty() != lon_text.empty()) {
        row.error(lat_text.empty() ? "latitude" : "longitude",
                  lat_text.empty() ? "required when longitude is given" : "required when latitude is given");
        ok = false;
    }
    if (const auto zone = row.get("time_zone"); !zone.empty()) {
        s.time_zone = zone;
        ok &= row.check("time_zone", detail::check_time_zone(zone));
    }
    const auto kwp_text = row.get("kwp");
    const auto tilt_text = row.get("tilt");
    const auto azimuth_text = row.get("azimuth");
    if (!kwp_text.empty()) {
        PvArray a;
        const auto kwp = row.number("kwp");
        const auto tilt = row.number("tilt");
        const auto azimuth = row.number("azimuth");
        ok &= kwp.has_value() && (tilt_text.empty() || tilt) && (azimuth_text.empty() || azimuth);
        if (kwp) ok &= row.check("kwp", detail::check_kwp(a.kwp = *kwp));
        if (tilt) ok &= row.check("tilt", detail::check_tilt(a.tilt_deg = *tilt));
        if (azimuth) ok &= row.check("azimuth", detail::check_azimuth(a.azimuth_deg = *azimuth));
        s.arrays.push_back(a);
    } else if (!tilt_text.empty() || !azimuth_text.empty()) {
        row.error("kwp", "required when tilt or azimuth is given");
        ok = false;
    }
    if (const auto installed = row.get("installed_on"); !installed.empty()) {
        s.installed_on = installed;
        ok &= row.check("installed_on", detail::check_date(installed));
    }
    if (!ok) return std::nullopt;
    return s;
}

// An existing site gets the values the file gives; what the file leaves empty stays as it was.
Site merged(const Site& existing, const SiteRow& row, std::int64_t customer_id) {
    const Site& from_file = row.site;
    Site s = existing;
    s.customer_id = customer_id;
    if (!from_file.name.empty()) s.name = from_file.name;
    if (!from_file.address.empty()) s.address = from_file.address;
    if (from_file.latitude) {
        s.latitude = from_file.latitude;
        s.longitude = from_file.longitude;
    }
    if (row.time_zone_given) s.time_zone = from_file.time_zone;
    if (!from_file.arrays.empty()) s.arrays = from_file.arrays;
    if (from_file.installed_on) s.installed_on = from_file.installed_on;
    return s;
}

// Parse step: the header row, known columns in any order, each at most once. Fills `columns`; false when
// the report is already final (no data row can be read).
bool read_header(const detail::CsvDocument& doc, ImportReport& report,
                 std::map<std::string, std::size_t>& columns) {
    auto& errors = report.errors;
    for (const auto& p : doc.problems) errors.push_back(ImportRowError{p.line, "", p.message});
    if (doc.records.empty() || doc.records.front().line != 1) {
        if (doc.problems.empty() || doc.problems.front().line != 1)
            errors.insert(errors.begin(),
                          ImportRowError{1, "", "header row required (first line: column names)"});
        return false;
    }
    const auto& header = doc.records.front().fields;
    for (std::size_t i = 0; i < header.size(); ++i) {
        const auto name = detail::fold_case(detail::trim(header[i]));
        if (std::find(kCustomerCsvColumns.begin(), kCustomerCsvColumns.end(), name) == kCustomerCsvColumns.end())
            errors.push_back(ImportRowError{1, detail::trim(header[i]),
                                            "unknown column (expected: " + expected_columns() + ")"});
        else if (!columns.emplace(name, i).second)
            errors.push_back(ImportRowError{1, name, "column appears twice"});
    }
    if (!columns.count("customer_name")) {
        errors.push_back(ImportRowError{1, "customer_name", "required column missing"});
        report.rows = static_cast<int>(doc.records.size()) - 1;
        return false;
    }
    return true;
}

// What the rows ask for, one group per customer.
struct ImportPlan {
    std::vector<CustomerGroup> groups;
    std::map<std::string, std::size_t> group_by_key;
};

// The customer columns of one row; false when one of them is wrong (reported at the row).
bool read_customer(RowReader& row, Customer& c) {
    c.name = row.get("customer_name");
    c.phone = row.get("phone");
    c.email = row.get("email");
    c.address = row.get("address");
    c.notes = row.get("notes");
    bool customer_ok = row.check("customer_name", detail::check_customer_name(c.name));
    customer_ok &= row.check("phone", detail::check_phone(c.phone));
    customer_ok &= row.check("email", detail::check_email(c.email));
    customer_ok &= row.check("address", detail::check_text(c.address, 500));
    customer_ok &= row.check("notes", detail::check_text(c.notes, 10'000));
    return customer_ok;
}

// The same customer on several rows (one per site): the rows must not contradict each other.
void merge_customer(CustomerGroup& group, const Customer& c, RowReader& row) {
    auto& known = group.customer;
    const std::pair<const char*, std::string Customer::*> fields[] = {
        {"phone", &Customer::phone}, {"address", &Customer::address}, {"notes", &Customer::notes}};
    for (const auto& [column, member] : fields) {
        if ((c.*member).empty()) continue;
        if ((known.*member).empty())
            known.*member = c.*member;
        else if (known.*member != c.*member)
            row.error(column,
                      "differs from line " + std::to_string(group.first_line) + " for the same customer");
    }
}

// Validate step: every row checked before anything is written.
ImportPlan read_rows(const detail::CsvDocument& doc, const std::map<std::string, std::size_t>& columns,
                     ImportReport& report) {
    auto& errors = report.errors;
    const auto& header = doc.records.front().fields;
    ImportPlan plan;
    std::map<std::string, int> site_line;
    for (std::size_t r = 1; r < doc.records.size(); ++r) {
        const auto& record = doc.records[r];
        ++report.rows;
        if (record.fields.size() != header.size()) {
            errors.push_back(ImportRowError{record.line, "",
                                            std::to_string(record.fields.size()) +
                                                " fields, the header has " + std::to_string(header.size())});
            continue;
        }
        RowReader row(columns, record, errors);
        Customer c;
        const bool customer_ok = read_customer(row, c);
        auto site = read_site(row);
        // Checked even when the site columns have errors, so a fixed file does not reveal new ones.
        if (const auto site_id = row.get("site_id"); !site_id.empty()) {
            if (auto [it, inserted] = site_line.emplace(site_id, record.line); !inserted) {
                row.error("site_id", "site " + site_id + " is also on line " + std::to_string(it->second));
                site.reset();
            }
        }
        if (!customer_ok) continue;
        auto [it, inserted] = plan.group_by_key.emplace(customer_key(c), plan.groups.size());
        if (inserted)
            plan.groups.push_back(CustomerGroup{record.line, c, std::nullopt, {}});
        else
            merge_customer(plan.groups[it->second], c, row);
        if (site)
            plan.groups[it->second].sites.push_back(
                SiteRow{record.line, std::move(*site), !row.get("time_zone").empty()});
    }
    return plan;
}

using SitesOnRecord = std::map<std::string, std::optional<Site>>;

// Write step, first half: what is already on record. Customers with the same name and e-mail get the new
// sites instead of a twin; a site of another customer is an error of its row.
Result<SitesOnRecord> match_records(storage::Db& db, const FieldCipher& cipher, ImportPlan& plan,
                                    std::vector<ImportRowError>& errors) {
    auto existing = detail::all_customers(db, cipher);
    if (!existing) return existing.error();
    for (const auto& c : *existing)
        if (auto it = plan.group_by_key.find(customer_key(c));
            it != plan.group_by_key.end() && !plan.groups[it->second].existing_id)
            plan.groups[it->second].existing_id = c.id;
    SitesOnRecord sites_on_record;
    for (const auto& g : plan.groups)
        for (const auto& s : g.sites) {
            auto on_record = detail::load_site(db, s.site.site_id);
            if (!on_record) return on_record.error();
            const auto& before = *on_record;
            if (before && before->customer_id && before->customer_id != g.existing_id)
                errors.push_back(ImportRowError{s.line, "site_id",
                                                "site " + s.site.site_id +
                                                    " belongs to another customer (id " +
                                                    std::to_string(*before->customer_id) + ")"});
            sites_on_record[s.site.site_id] = before;
        }
    return sites_on_record;
}

// Write step, second half: new customers, new sites, and sites created by ingest linked to their customer.
Status write_plan(storage::Db& db, const FieldCipher& cipher, ImportPlan& plan,
                  SitesOnRecord& sites_on_record, const std::string& actor, TimePoint now,
                  ImportReport& report) {
    for (auto& g : plan.groups) {
        std::int64_t customer_id = 0;
        if (g.existing_id) {
            customer_id = *g.existing_id;
        } else {
            auto created = detail::insert_customer(db, cipher, g.customer, actor, "import", now);
            if (!created) return created.error();
            customer_id = created->id;
            ++report.customers_created;
        }
        for (auto& row : g.sites) {
            const auto& before = sites_on_record[row.site.site_id];
            if (!before) {
                row.site.customer_id = customer_id;
                auto w = detail::write_site(db, row.site, std::nullopt, actor, "import", now);
                if (!w)
                    return Error{"line " + std::to_string(row.line) + ": " + w.error().message,
                                 w.error().kind};
                ++report.sites_created;
            } else if (!before->customer_id) {
                // A gateway that already reports (site created by ingest) is attached to its customer.
                auto w = detail::write_site(db, merged(*before, row, customer_id), before, actor,
                                            "import: link to customer", now);
                if (!w)
                    return Error{"line " + std::to_string(row.line) + ": " + w.error().message,
                                 w.error().kind};
                ++report.sites_linked;
            }
            // else: already this customer's site; left as it is.
        }
    }
    return {};
}

}  // namespace

Result<ImportReport> import_customers_csv(storage::Db& db, const FieldCipher& cipher,
                                          std::string_view csv_text, const std::string& actor,
                                          TimePoint now) {
    ImportReport report;
    const auto doc = detail::parse_csv(csv_text);
    std::map<std::string, std::size_t> columns;
    if (!read_header(doc, report, columns)) return report;
    ImportPlan plan = read_rows(doc, columns, report);

    auto result = storage::in_transaction(db, [&]() -> Result<ImportReport> {
        auto sites_on_record = match_records(db, cipher, plan, report.errors);
        if (!sites_on_record) return sites_on_record.error();
        if (!report.errors.empty()) return report;  // nothing written
        if (auto written = write_plan(db, cipher, plan, *sites_on_record, actor, now, report); !written)
            return written.error();
        report.committed = true;
        return report;
    });
    if (!result) return result.error();
    std::stable_sort(result->errors.begin(), result->errors.end(),
                     [](const ImportRowError& a, const ImportRowError& b) { return a.line < b.line; });
    return result;
}

std::string import_report_json(const ImportReport& report) {
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : report.errors)
        errors.push_back({{"line", e.line}, {"column", e.column}, {"message", e.message}});
    return nlohmann::json{{"rows", report.rows},
                          {"customers_created", report.customers_created},
                          {"sites_created", report.sites_created},
                          {"sites_linked", report.sites_linked},
                          {"committed", report.committed},
                          {"errors", errors}}
        .dump(2);
}

}  // namespace pvfleet::records
