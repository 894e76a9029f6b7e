#pragma once
// The leads' repository (SQL over storage::Db, both engines): leads with their personal fields encrypted like
// customers', their inquiries and touches, capture channels with hashed keys, and the capture use case —
// de-duplication by normalised phone and e-mail, scoring and assignment in one transaction. Each public call is
// one transaction; every change goes to the audit log. docs/crm.md.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/leads/rules.hpp"
#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"

namespace pvfleet::leads {

struct Inquiry {
    std::int64_t id = 0;
    std::optional<std::int64_t> lead_id, customer_id;
    TimePoint at;
    Source source = Source::other;
    std::optional<std::int64_t> channel_id;
    Utm utm;
    std::string message;  // encrypted at rest
    std::string created_by;
};

struct LeadQuery {
    std::optional<std::string> assignee;  // only this rep's leads
    bool unassigned = false;              // only the unassigned queue
    std::optional<LeadStatus> status;
    bool open_only = false;
    std::int64_t after_id = 0;  // keyset paging: ids greater than this
    int limit = 50;             // 1..1000
};

Result<std::vector<Lead>> list_leads(storage::Db& db, const records::FieldCipher& cipher, const LeadQuery& query);
Result<std::optional<Lead>> get_lead(storage::Db& db, const records::FieldCipher& cipher, std::int64_t id);
Result<std::vector<Inquiry>> list_inquiries(storage::Db& db, const records::FieldCipher& cipher, std::int64_t lead_id);
Result<std::vector<Touch>> list_touches(storage::Db& db, const records::FieldCipher& cipher, std::int64_t lead_id);

// What a capture did with the inquiry: a new lead, or attached to the lead or customer it repeats.
enum class Captured { created, attached_to_lead, attached_to_customer };
inline constexpr EnumNames<Captured, 3> kCapturedNames{{{Captured::created, "created"},
                                                        {Captured::attached_to_lead, "attached_to_lead"},
                                                        {Captured::attached_to_customer, "attached_to_customer"}}};
struct CaptureResult {
    Captured outcome = Captured::created;
    std::optional<Lead> lead;  // the new or the existing lead (nullopt: a customer's inquiry)
    std::optional<std::int64_t> customer_id;
    std::int64_t inquiry_id = 0;
};

// Captures one inquiry (`lead` holds what the form or the rep gave; `message` the inquiry's text). Validates
// (errors at the field), then in one transaction: a lead or a customer with the same normalised phone number or
// e-mail address gets the inquiry attached (and the lead's empty fields filled from it); otherwise a new lead
// is scored, placed in its region (from the postcode unless given), assigned round-robin unless
// `assignee` names the rep, and its contact keys are stored — two captures of one person at once make one lead.
Result<CaptureResult> capture(storage::Db& db, const records::FieldCipher& cipher, Lead lead,
                              const std::string& message, const Settings& settings,
                              const std::optional<std::string>& assignee, const std::string& actor, TimePoint now);
// capture() inside the caller's transaction (the CSV import runs many in one); the key race is then the
// caller's to retry (ErrorKind::conflict).
Result<CaptureResult> capture_in_transaction(storage::Db& db, const records::FieldCipher& cipher, Lead lead,
                                             const std::string& message, const Settings& settings,
                                             const std::optional<std::string>& assignee, const std::string& actor,
                                             TimePoint now);

// Changes a lead (status, fields, assignee); rescored; new contact keys checked against other leads (a phone
// number of another lead is a 409-like conflict at the field). ErrorKind::conflict when its version is not
// `expected_version`.
Result<Lead> update_lead(storage::Db& db, const records::FieldCipher& cipher, Lead lead,
                         std::int64_t expected_version, const Settings& settings, const std::string& actor,
                         TimePoint now);

// Logs a touch: the lead's first and last touch, its next step (the touch's, or none), new → contacted, and its
// score (response time) follow. `touch.at` may lie in the past (logged afterwards), never in the future.
Result<Touch> add_touch(storage::Db& db, const records::FieldCipher& cipher, Touch touch, const Settings& settings,
                        const std::string& actor, TimePoint now);

// Marks a lead converted into `customer_id` inside the caller's transaction (server/projects' conversion):
// ErrorKind::conflict when it is converted already. Its contact keys stay with it, and a repeat inquiry of the
// person attaches to the customer from now on.
Result<Lead> mark_converted_in_transaction(storage::Db& db, const records::FieldCipher& cipher, std::int64_t lead_id,
                                           std::int64_t customer_id, const std::string& actor, TimePoint now);
// Renews the de-duplication keys of customers changed since their keys were made (new or edited customers,
// or keys made with another country code); runs inside the caller's transaction.
Status refresh_customer_keys(storage::Db& db, const records::FieldCipher& cipher, const std::string& country_code);

// Capture channels of the public route.
struct Channel {
    std::int64_t id = 0;
    std::string name;
    Source source = Source::website;
    std::string region;
    std::string key_hint;  // the key's last 4 characters
    bool disabled = false;
    std::string created_by;
    TimePoint created_at;
};
struct NewChannel {
    Channel channel;
    std::string key;  // shown once; only its SHA-256 is stored
};
Result<NewChannel> create_channel(storage::Db& db, const std::string& name, Source source, const std::string& region,
                                  const std::string& actor, TimePoint now);
Result<std::vector<Channel>> list_channels(storage::Db& db);
// The enabled channel of a key; nullopt for an unknown or disabled key (the caller cannot tell which).
Result<std::optional<Channel>> channel_for_key(storage::Db& db, const std::string& key);
Result<Channel> set_channel_disabled(storage::Db& db, std::int64_t id, bool disabled, const std::string& actor,
                                     TimePoint now);

// A refused public capture in the audit log: entity "lead_capture", action "refused", the reason and what is
// known of the caller (address, channel) — never the body.
Status audit_refusal(storage::Db& db, TimePoint now, const std::string& reason, const std::string& remote,
                     const std::optional<std::int64_t>& channel_id);

}  // namespace pvfleet::leads
