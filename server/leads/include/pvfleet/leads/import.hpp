#pragma once
// CSV import of leads (a spreadsheet of inquiries): all or nothing like the customer import — every row is
// checked first, each error named by its line and column; only a file without errors is written, in one
// transaction, each row captured as by POST /api/leads (a repeat of a known person attaches to that lead or
// customer, also within the file). Bounded by leads/import (bytes, rows). Columns: docs/crm.md.
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/leads/repository.hpp"
#include "pvfleet/records/import.hpp"

namespace pvfleet::leads {

struct LeadImportReport {
    int rows = 0;
    int leads_created = 0;
    int attached_to_leads = 0;
    int attached_to_customers = 0;
    std::vector<records::ImportRowError> errors;
    bool committed = false;
};

// Database failures are the Error; problems in the file are in the report (committed = false).
Result<LeadImportReport> import_leads_csv(storage::Db& db, const records::FieldCipher& cipher, std::string_view csv,
                                          const Settings& settings, const std::string& actor, TimePoint now);

}  // namespace pvfleet::leads
