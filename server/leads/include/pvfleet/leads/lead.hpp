#pragma once
// A lead and its pure rules (docs/crm.md): the fields and their checks, and the normalised contact values that
// de-duplication compares (a phone number as E.164-like digits, an e-mail address trimmed and in lower case).
// No SQL and no HTTP here: the repository (repository.hpp) stores leads, the API translates requests.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/enum_names.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::leads {

// new → contacted (the first touch) → qualified; unqualified and lost close a lead, and so does its conversion
// into a customer and a project (server/projects: converted, only by POST /api/leads/{id}/convert), which keeps
// the lead with its history, linked by customer_id (and the project by its lead_id).
enum class LeadStatus { new_lead, contacted, qualified, unqualified, lost, converted };
inline constexpr EnumNames<LeadStatus, 6> kStatusNames{{{LeadStatus::new_lead, "new"},
                                                    {LeadStatus::contacted, "contacted"},
                                                    {LeadStatus::qualified, "qualified"},
                                                    {LeadStatus::unqualified, "unqualified"},
                                                    {LeadStatus::lost, "lost"},
                                                    {LeadStatus::converted, "converted"}}};
bool is_open(LeadStatus s);  // new, contacted, qualified

enum class RoofType { unknown, tile, metal, flat, slate, shingle, other };
inline constexpr EnumNames<RoofType, 7> kRoofNames{{{RoofType::unknown, "unknown"},
                                                    {RoofType::tile, "tile"},
                                                    {RoofType::metal, "metal"},
                                                    {RoofType::flat, "flat"},
                                                    {RoofType::slate, "slate"},
                                                    {RoofType::shingle, "shingle"},
                                                    {RoofType::other, "other"}}};

// Where a lead came from; the public route takes it from its channel.
enum class Source { website, campaign, referral, phone, walk_in, partner, import, other };
inline constexpr EnumNames<Source, 8> kSourceNames{{{Source::website, "website"},
                                                    {Source::campaign, "campaign"},
                                                    {Source::referral, "referral"},
                                                    {Source::phone, "phone"},
                                                    {Source::walk_in, "walk_in"},
                                                    {Source::partner, "partner"},
                                                    {Source::import, "import"},
                                                    {Source::other, "other"}}};

enum class TouchKind { call, visit, message, email };
inline constexpr EnumNames<TouchKind, 4> kTouchKindNames{
    {{TouchKind::call, "call"}, {TouchKind::visit, "visit"}, {TouchKind::message, "message"}, {TouchKind::email, "email"}}};

enum class Outcome { reached, no_answer, left_message, scheduled, not_interested, other };
inline constexpr EnumNames<Outcome, 6> kOutcomeNames{{{Outcome::reached, "reached"},
                                                      {Outcome::no_answer, "no_answer"},
                                                      {Outcome::left_message, "left_message"},
                                                      {Outcome::scheduled, "scheduled"},
                                                      {Outcome::not_interested, "not_interested"},
                                                      {Outcome::other, "other"}}};

// Campaign tags of a web form (utm_source, utm_medium, …), kept as given.
struct Utm {
    std::string source, medium, campaign, term, content;
    bool operator==(const Utm&) const = default;
};

struct Lead {
    std::int64_t id = 0;
    LeadStatus status = LeadStatus::new_lead;
    // Personal data: AES-256-GCM at rest, like a customer's.
    std::string name, phone, email, address, notes;
    std::string postcode, region;
    RoofType roof_type = RoofType::unknown;
    std::optional<double> monthly_bill;            // the household's electricity bill per month, currency units
    std::optional<double> annual_consumption_kwh;  // or its consumption
    std::optional<double> desired_kwp;
    std::optional<double> budget;
    Source source = Source::other;
    std::optional<std::int64_t> channel_id;
    Utm utm;
    bool consent_contact = false;    // may be contacted about this inquiry
    bool consent_marketing = false;  // may receive marketing
    int score = 0;
    std::vector<std::pair<std::string, int>> score_detail;  // rule → points, as scored
    std::optional<std::string> assignee;
    std::optional<TimePoint> assigned_at, first_touch_at, last_touch_at;
    std::optional<std::string> next_step_on;  // YYYY-MM-DD, from the latest touch that set one
    std::optional<std::int64_t> customer_id;  // set by conversion (server/projects)
    std::string created_by;
    TimePoint created_at, updated_at;
    std::int64_t version = 1;
};

struct Touch {
    std::int64_t id = 0;
    std::int64_t lead_id = 0;
    TouchKind kind = TouchKind::call;
    TimePoint at;
    std::string by;
    Outcome outcome = Outcome::other;
    std::string notes;                        // encrypted at rest
    std::optional<std::string> next_step_on;  // YYYY-MM-DD
};

// Every problem of a lead's fields, each at its field ("email: not an e-mail address"); empty when fine. A
// lead needs a name and a phone number or an e-mail address.
std::vector<Error> validate_lead(const Lead& lead);
// Trims the text fields (the stored form).
void normalise_fields(Lead& lead);

// "Max@Example.COM " → "max@example.com"; "" for "".
std::string normalise_email(std::string_view email);
// A phone number as "+" and its digits: "+49 (0)171 234-5678", "0049 171 2345678" and, with the default
// country code "49", "0171 2345678" all give "+491712345678". Without a default country code a national number
// keeps its digits ("01712345678"). nullopt unless 6 to 15 digits remain.
std::optional<std::string> normalise_phone(std::string_view phone, std::string_view default_country_code);

}  // namespace pvfleet::leads
