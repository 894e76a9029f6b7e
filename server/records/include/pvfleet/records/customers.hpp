#pragma once
// Customers: name, phone, e-mail, address and notes are personal data and are stored encrypted
// (FieldCipher); the database never sees them in plain text, so searching decrypts and filters in memory.
// Each public call is one transaction: do not call these inside another one.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

struct Customer {
    std::int64_t id = 0;
    std::string name, phone, email, address, notes;
    TimePoint created_at, updated_at;
    std::int64_t version = 1;  // optimistic concurrency: the ETag of the REST API
};

struct CustomerQuery {
    std::string text;  // case-insensitive substring of name, e-mail, phone or address; "" matches all
    std::int64_t after_id = 0;  // keyset paging: ids greater than this
    int limit = 50;             // 1..1000
    // Only these customers (ascending ids; a sales rep's or a project manager's scope); nullopt: all.
    std::optional<std::vector<std::int64_t>> only_ids;
};

Result<std::vector<Customer>> list_customers(storage::Db& db, const FieldCipher& cipher,
                                             const CustomerQuery& query);
Result<std::optional<Customer>> get_customer(storage::Db& db, const FieldCipher& cipher, std::int64_t id);
// Validates (name required, e-mail shape, phone characters) and trims; errors like
// Error::at("email", "not an e-mail address"). id, created_at, updated_at and version of `c` are ignored.
Result<Customer> create_customer(storage::Db& db, const FieldCipher& cipher, Customer c,
                                 const std::string& actor, TimePoint now);
// create_customer inside the caller's transaction (a lead's conversion makes a customer, a site and a project
// at once).
Result<Customer> create_customer_in_transaction(storage::Db& db, const FieldCipher& cipher, Customer c,
                                                const std::string& actor, TimePoint now);
// ErrorKind::not_found when there is no customer c.id; ErrorKind::conflict when its version is not
// expected_version (someone else changed it since it was read).
Result<Customer> update_customer(storage::Db& db, const FieldCipher& cipher, Customer c,
                                 std::int64_t expected_version, const std::string& actor, TimePoint now);

// All validation errors of a customer (each "field: message"), for callers that report every error at once.
std::vector<Error> validate_customer(const Customer& c);

}  // namespace pvfleet::records
