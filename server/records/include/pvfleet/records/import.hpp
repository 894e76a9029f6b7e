#pragma once
// CSV import of customers and their sites, how the back office moves over from spreadsheets. All or nothing:
// every row is checked first and every error reported with its line and column; only a file without errors is
// written, in one transaction. Format: docs/records.md.
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

struct ImportRowError {
    int line = 0;        // line of the file where the record starts (the header is line 1)
    std::string column;  // "" when the error is about the whole row or file
    std::string message;
};

struct ImportReport {
    int rows = 0;  // data records read
    int customers_created = 0;
    int sites_created = 0;
    std::vector<ImportRowError> errors;
    bool committed = false;
    int sites_linked = 0;  // existing unassigned sites (created by ingest) now attached to their customer
};

// Database failures are the Error; problems in the file are in the report (committed = false).
Result<ImportReport> import_customers_csv(storage::Db& db, const FieldCipher& cipher,
                                          std::string_view csv_text, const std::string& actor, TimePoint now);

// {"rows":…, "customers_created":…, "sites_created":…, "sites_linked":…, "committed":…,
//  "errors":[{"line":…, "column":…, "message":…}]}
std::string import_report_json(const ImportReport& report);

}  // namespace pvfleet::records
