#pragma once
// Pieces shared between the record writers and the CSV import: the writes without their own transaction (the
// import runs many of them in one) and the audit forms.
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/sites.hpp"

namespace pvfleet::records::detail {

// Trims and validates nothing: the caller has validated.
Result<Customer> insert_customer(storage::Db& db, const FieldCipher& cipher, Customer c,
                                 const std::string& actor, const std::string& action, TimePoint now);
// Every customer, decrypted, ordered by id.
Result<std::vector<Customer>> all_customers(storage::Db& db, const FieldCipher& cipher);

Result<std::optional<Site>> load_site(storage::Db& db, const std::string& site_id);
// Inserts (before = nullopt) or updates the site and appends the audit entry.
Result<Site> write_site(storage::Db& db, Site s, const std::optional<Site>& before, const std::string& actor,
                        const std::string& action, TimePoint now);
void normalize_site(Site& s);

}  // namespace pvfleet::records::detail
