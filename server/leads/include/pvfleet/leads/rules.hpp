#pragma once
// The CRM's lead rules as data (docs/crm.md, config section `leads` of the server config): scoring, assignment
// round-robin within a team with a cap on open leads per rep, the touch SLA, and the limits of the public route
// and of the CSV import. All pure: a lead and a time in, a decision out.
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/leads/lead.hpp"

namespace pvfleet::leads {

// A value's points: the band with the highest `min` not above the value.
struct Band {
    double min = 0;
    int points = 0;
};
// A response's points: the band with the smallest `within_h` the first touch came within.
struct ResponseBand {
    double within_h = 0;
    int points = 0;
};

struct ScoringRules {
    std::map<std::string, int> source;        // by source name (kSourceNames)
    std::map<std::string, int> completeness;  // by field name: points when the field is filled
    std::map<std::string, int> roof;          // by roof type (kRoofNames)
    std::vector<Band> monthly_bill;
    std::vector<Band> annual_consumption_kwh;  // used when the bill is not given
    std::vector<ResponseBand> response;
};

// Round-robin: among the members of the teams that serve the lead's region, the one assigned least recently,
// unless they hold `max_open_per_rep` open leads already. Nobody fits: the lead waits unassigned.
struct Region {
    std::string name;
    std::vector<std::string> postcode_prefixes;
};
struct Team {
    std::string name;
    std::vector<std::string> regions;  // "*": every region, and leads without one
    std::vector<std::string> members;  // user names (sales reps)
};
struct AssignmentRules {
    int max_open_per_rep = 25;
    std::vector<Region> regions;
    std::vector<Team> teams;
};

// A lead without a touch is due `first_touch_h` after it came in (`hot_first_touch_h` from a score of
// `hot_score`); a touch with a next-step date makes the lead due at the end of that day; a touch without one,
// `follow_up_days` after it.
struct SlaRules {
    int first_touch_h = 24;
    int hot_score = 60;
    int hot_first_touch_h = 4;
    int follow_up_days = 7;
};

struct PublicCaptureLimits {
    std::size_t max_body_bytes = 16 * 1024;
    int per_channel_per_minute = 60;
    int per_address_per_minute = 10;
};

struct ImportLimits {
    std::size_t max_bytes = 2 * 1024 * 1024;
    int max_rows = 5000;
};

struct Settings {
    ScoringRules scoring;
    AssignmentRules assignment;
    SlaRules sla;
    PublicCaptureLimits public_capture;
    ImportLimits import;
    std::string default_country_code;  // digits, e.g. "49"; "" keeps national numbers as they are
};

// The documented defaults (docs/crm.md).
Settings default_settings();
// The `leads` section of the server config over the defaults; every error at its key path ("leads/scoring/
// source/webshop: unknown source (expected website, …)").
Result<Settings> parse_settings(const nlohmann::json& section, const std::string& path = "leads");

struct Score {
    int total = 0;
    std::vector<std::pair<std::string, int>> detail;  // "source", "completeness/phone", "roof", "bill", "response"
};
Score score_lead(const Lead& lead, const ScoringRules& rules);

// The region of a postcode: the region with the longest matching prefix; "" when none matches.
std::string region_of(const std::string& postcode, const AssignmentRules& rules);

struct RepLoad {
    std::string name;
    int open_leads = 0;
    std::optional<TimePoint> last_assigned_at;
};
// `reps`: the active sales reps (others are never chosen) with their loads.
std::optional<std::string> choose_assignee(const std::string& region, const AssignmentRules& rules,
                                           const std::vector<RepLoad>& reps);

struct SlaStatus {
    std::optional<TimePoint> due_at;  // nullopt: nothing is due (a closed lead)
    bool overdue = false;
    std::string reason;  // "first_touch", "next_step", "follow_up"
};
SlaStatus sla_status(const Lead& lead, const SlaRules& rules, TimePoint now);

}  // namespace pvfleet::leads
