#include "pvfleet/leads/import.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "pvfleet/records/csv.hpp"
#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/storage/db.hpp"

namespace pvfleet::leads {
namespace {

namespace checks = records::detail;

constexpr std::array<std::string_view, 22> kColumns = {
    "name",         "phone",      "email",        "address",     "postcode",        "region",
    "roof_type",    "monthly_bill", "annual_consumption_kwh", "desired_kwp", "budget", "notes",
    "source",       "utm_source", "utm_medium",   "utm_campaign", "utm_term",       "utm_content",
    "consent_contact", "consent_marketing", "assignee", "message"};

std::string column_list() {
    std::string out;
    for (const auto c : kColumns) out += (out.empty() ? "" : ", ") + std::string(c);
    return out;
}

struct CsvLead {
    int line = 0;
    Lead lead;
    std::string message;
    std::optional<std::string> assignee;
};

class Cells {
public:
    Cells(const std::map<std::string, std::size_t>& columns, const checks::CsvRecord& record,
          std::vector<records::ImportRowError>& errors)
        : columns_(columns), record_(record), errors_(errors) {}
    [[nodiscard]] std::string get(std::string_view column) const {
        const auto it = columns_.find(std::string(column));
        return it == columns_.end() ? std::string() : checks::trim(record_.fields.at(it->second));
    }
    void error(std::string_view column, std::string message) {
        errors_.push_back(records::ImportRowError{record_.line, std::string(column), std::move(message)});
    }
    std::optional<double> number(std::string_view column) {
        const auto text = get(column);
        if (text.empty()) return std::nullopt;
        auto v = checks::parse_number(text);
        if (!v) error(column, "not a number (use a dot as the decimal separator)");
        return v;
    }
    bool flag(std::string_view column) {
        const auto text = checks::fold_case(get(column));
        if (text.empty() || text == "no" || text == "false" || text == "0") return false;
        if (text == "yes" || text == "true" || text == "1") return true;
        error(column, "expected yes or no");
        return false;
    }
    template <class E, std::size_t N>
    std::optional<E> choice(std::string_view column, const EnumNames<E, N>& names) {
        const auto text = get(column);
        if (text.empty()) return std::nullopt;
        auto v = enum_from_name(names, text);
        if (!v) error(column, "unknown '" + text + "' (expected " + enum_names_list(names) + ")");
        return v;
    }

private:
    const std::map<std::string, std::size_t>& columns_;
    const checks::CsvRecord& record_;
    std::vector<records::ImportRowError>& errors_;
};

CsvLead read_row(Cells& cells, int line) {
    CsvLead row;
    row.line = line;
    Lead& l = row.lead;
    l.name = cells.get("name");
    l.phone = cells.get("phone");
    l.email = cells.get("email");
    l.address = cells.get("address");
    l.postcode = cells.get("postcode");
    l.region = cells.get("region");
    l.roof_type = cells.choice("roof_type", kRoofNames).value_or(RoofType::unknown);
    l.monthly_bill = cells.number("monthly_bill");
    l.annual_consumption_kwh = cells.number("annual_consumption_kwh");
    l.desired_kwp = cells.number("desired_kwp");
    l.budget = cells.number("budget");
    l.notes = cells.get("notes");
    l.source = cells.choice("source", kSourceNames).value_or(Source::import);
    l.utm = Utm{cells.get("utm_source"), cells.get("utm_medium"), cells.get("utm_campaign"), cells.get("utm_term"),
                cells.get("utm_content")};
    l.consent_contact = cells.flag("consent_contact");
    l.consent_marketing = cells.flag("consent_marketing");
    if (auto a = cells.get("assignee"); !a.empty()) row.assignee = a;
    row.message = cells.get("message");
    if (row.message.size() > 10'000) cells.error("message", "at most 10000 bytes");
    for (const auto& e : validate_lead(l)) cells.error(e.path, e.message.substr(e.path.size() + 2));
    return row;
}

// The header and the rows; false when nothing can be written.
bool read_file(const checks::CsvDocument& doc, const Settings& settings, LeadImportReport& report,
               std::vector<CsvLead>& rows) {
    auto& errors = report.errors;
    for (const auto& p : doc.problems) errors.push_back(records::ImportRowError{p.line, "", p.message});
    if (doc.records.empty() || doc.records.front().line != 1) {
        errors.insert(errors.begin(), records::ImportRowError{1, "", "header row required (first line: column names)"});
        return false;
    }
    report.rows = static_cast<int>(doc.records.size()) - 1;
    if (report.rows > settings.import.max_rows) {
        errors.push_back(records::ImportRowError{0, "", "more than " + std::to_string(settings.import.max_rows) +
                                                             " rows (leads/import/max_rows): split the file"});
        return false;
    }
    std::map<std::string, std::size_t> columns;
    const auto& header = doc.records.front().fields;
    for (std::size_t i = 0; i < header.size(); ++i) {
        const auto name = checks::fold_case(checks::trim(header[i]));
        if (std::find(kColumns.begin(), kColumns.end(), name) == kColumns.end())
            errors.push_back(records::ImportRowError{1, checks::trim(header[i]), "unknown column (expected: " + column_list() + ")"});
        else if (!columns.emplace(name, i).second)
            errors.push_back(records::ImportRowError{1, name, "column appears twice"});
    }
    if (!columns.count("name")) errors.push_back(records::ImportRowError{1, "name", "required column missing"});
    if (!errors.empty()) return false;
    for (std::size_t r = 1; r < doc.records.size(); ++r) {
        const auto& record = doc.records[r];
        Cells cells(columns, record, errors);
        if (record.fields.size() != header.size()) {
            cells.error("", std::to_string(record.fields.size()) + " fields, the header has " +
                                std::to_string(header.size()));
            continue;
        }
        rows.push_back(read_row(cells, record.line));
    }
    return errors.empty();
}

}  // namespace

Result<LeadImportReport> import_leads_csv(storage::Db& db, const records::FieldCipher& cipher, std::string_view csv,
                                          const Settings& settings, const std::string& actor, TimePoint now) {
    LeadImportReport report;
    if (csv.size() > settings.import.max_bytes) {
        report.errors.push_back(records::ImportRowError{
            0, "", "larger than " + std::to_string(settings.import.max_bytes) + " bytes (leads/import/max_bytes)"});
        return report;
    }
    std::vector<CsvLead> rows;
    if (!read_file(checks::parse_csv(csv), settings, report, rows)) return report;
    // A row the database refuses (an assignee who is no sales rep) is reported at its line; nothing is written.
    std::optional<records::ImportRowError> refused;
    auto written = storage::in_transaction(db, [&]() -> Status {
        for (const auto& row : rows) {
            auto c = capture_in_transaction(db, cipher, row.lead, row.message, settings, row.assignee, actor, now);
            if (!c) {
                if (c.error().kind == ErrorKind::invalid)
                    refused = records::ImportRowError{row.line, c.error().path, c.error().message};
                return c.error();
            }
            switch (c->outcome) {
                case Captured::created: ++report.leads_created; break;
                case Captured::attached_to_lead: ++report.attached_to_leads; break;
                case Captured::attached_to_customer: ++report.attached_to_customers; break;
            }
        }
        return {};
    });
    if (refused) {
        report.leads_created = report.attached_to_leads = report.attached_to_customers = 0;
        report.errors.push_back(*refused);
        return report;
    }
    if (!written) return written.error();
    report.committed = true;
    return report;
}

}  // namespace pvfleet::leads
