#pragma once
// The personal-data key and the database belong together: the database keeps a check value of its key
// (FieldCipher::check_value(), table field_key_check), stored on first use. Opening the key through here
// refuses a key that does not match it, and never creates a new key for a database that already holds
// encrypted data — either would make the stored customers unreadable, or encrypt new ones under a key that
// no one keeps.
#include <string>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

struct KeyFileOptions {
    std::string path;
    // The default key file is created (random key, mode 0600) when it is missing and the database holds
    // neither a check value nor encrypted data; a configured one must exist.
    bool create_if_missing = false;
};

// The key of `options.path`, checked against the database (migrated):
// - check value stored: the key must match it;
// - none stored but customers exist: the key must decrypt the oldest customer, then its check value is stored;
// - neither: the check value is stored.
// A missing key file with a check value or customers in the database is an error (no new key is created).
// Every error message names the key file.
Result<FieldCipher> open_field_cipher(storage::Db& db, const KeyFileOptions& options, TimePoint now);

}  // namespace pvfleet::records
