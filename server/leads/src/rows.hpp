#pragma once
// Between a lead and its row: the column list, decryption, the stored forms of its JSON columns and its audit
// form; shared by the repository's files.
#include <nlohmann/json.hpp>
#include <string>

#include "pvfleet/leads/repository.hpp"

namespace pvfleet::leads::detail {

extern const char* const kLeadColumns;  // in lead_from_row's order

Result<Lead> lead_from_row(const records::FieldCipher& cipher, const storage::Row& row);
std::string utm_json(const Utm& utm);
Utm utm_from_json(const std::string& text);
std::string score_json(const std::vector<std::pair<std::string, int>>& detail);

struct EncryptedLead {
    std::string name, phone, email, address, notes;
};
EncryptedLead encrypt(const records::FieldCipher& cipher, const Lead& lead);
// The audit log keeps the ciphertext as stored, like a customer's.
std::string audit_json(const Lead& lead, const EncryptedLead& enc);

// The (kind, blind index) pairs of a lead's phone number and e-mail address (none for an empty one).
std::vector<std::pair<std::string, std::string>> contact_keys(const records::FieldCipher& cipher, const Lead& lead,
                                                              const std::string& default_country_code);

storage::Value opt(const std::optional<double>& v);
storage::Value opt(const std::optional<std::int64_t>& v);
storage::Value opt(const std::optional<std::string>& v);
storage::Value opt_ms(const std::optional<TimePoint>& v);

// An active (not disabled) user with the role sales: the only ones leads are assigned to.
Status check_rep(storage::Db& db, const std::string& name, const char* field);

// Writes all columns of an existing lead (version + 1 when it was `expected_version`), audited as `action`.
Result<Lead> write_lead(storage::Db& db, const records::FieldCipher& cipher, Lead lead, const Lead& before,
                        std::int64_t expected_version, const std::string& actor, const std::string& action,
                        TimePoint now);

}  // namespace pvfleet::leads::detail
