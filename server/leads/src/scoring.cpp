// Scoring, assignment and the touch SLA: pure functions of a lead, the rules and a time.
#include <algorithm>

#include "pvfleet/leads/rules.hpp"

namespace pvfleet::leads {
namespace {

// The points of the band with the highest min not above `value` (0 when none fits).
int band_points(const std::vector<Band>& bands, double value) {
    const Band* best = nullptr;
    for (const auto& b : bands)
        if (b.min <= value && (best == nullptr || b.min > best->min)) best = &b;
    return best == nullptr ? 0 : best->points;
}

int points_of(const std::map<std::string, int>& table, std::string_view key) {
    const auto it = table.find(std::string(key));
    return it == table.end() ? 0 : it->second;
}

// Days since 1970-01-01 of a checked YYYY-MM-DD (validate_lead checked it).
std::optional<TimePoint> end_of_day(const std::string& date) {
    if (date.size() != 10) return std::nullopt;
    const int y = std::stoi(date.substr(0, 4));
    const unsigned m = static_cast<unsigned>(std::stoi(date.substr(5, 2)));
    const unsigned d = static_cast<unsigned>(std::stoi(date.substr(8, 2)));
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::time_point_cast<Millis>(std::chrono::sys_days{ymd} + std::chrono::days{1});
}

}  // namespace

Score score_lead(const Lead& lead, const ScoringRules& rules) {
    Score s;
    auto add = [&](std::string rule, int points) {
        if (points == 0) return;
        s.total += points;
        s.detail.emplace_back(std::move(rule), points);
    };
    add("source", points_of(rules.source, enum_name(kSourceNames, lead.source)));
    const std::pair<const char*, bool> filled[] = {{"phone", !lead.phone.empty()},
                                                   {"email", !lead.email.empty()},
                                                   {"address", !lead.address.empty()},
                                                   {"postcode", !lead.postcode.empty()},
                                                   {"roof_type", lead.roof_type != RoofType::unknown},
                                                   {"monthly_bill", lead.monthly_bill || lead.annual_consumption_kwh},
                                                   {"desired_kwp", lead.desired_kwp.has_value()},
                                                   {"budget", lead.budget.has_value()}};
    for (const auto& [field, is_filled] : filled)
        if (is_filled) add(std::string("completeness/") + field, points_of(rules.completeness, field));
    add("roof", points_of(rules.roof, enum_name(kRoofNames, lead.roof_type)));
    if (lead.monthly_bill)
        add("bill", band_points(rules.monthly_bill, *lead.monthly_bill));
    else if (lead.annual_consumption_kwh)
        add("bill", band_points(rules.annual_consumption_kwh, *lead.annual_consumption_kwh));
    if (lead.first_touch_at) {
        const double hours =
            std::chrono::duration<double, std::ratio<3600>>(*lead.first_touch_at - lead.created_at).count();
        const ResponseBand* best = nullptr;
        for (const auto& b : rules.response)
            if (hours <= b.within_h && (best == nullptr || b.within_h < best->within_h)) best = &b;
        if (best != nullptr) add("response", best->points);
    }
    return s;
}

std::string region_of(const std::string& postcode, const AssignmentRules& rules) {
    std::string best;
    std::size_t best_length = 0;
    for (const auto& region : rules.regions)
        for (const auto& prefix : region.postcode_prefixes)
            if (postcode.rfind(prefix, 0) == 0 && prefix.size() > best_length) {
                best = region.name;
                best_length = prefix.size();
            }
    return best;
}

std::optional<std::string> choose_assignee(const std::string& region, const AssignmentRules& rules,
                                           const std::vector<RepLoad>& reps) {
    const RepLoad* best = nullptr;
    for (const auto& team : rules.teams) {
        const bool serves = std::any_of(team.regions.begin(), team.regions.end(), [&](const std::string& r) {
            return r == "*" || (!region.empty() && r == region);
        });
        if (!serves) continue;
        for (const auto& member : team.members) {
            const auto rep = std::find_if(reps.begin(), reps.end(), [&](const RepLoad& l) { return l.name == member; });
            if (rep == reps.end() || rep->open_leads >= rules.max_open_per_rep) continue;
            // Least recently assigned first (never assigned before anyone), then by name: a rotation.
            const auto key = [](const RepLoad& l) {
                return std::make_pair(l.last_assigned_at.value_or(TimePoint::min()), l.name);
            };
            if (best == nullptr || key(*rep) < key(*best)) best = &*rep;
        }
    }
    if (best == nullptr) return std::nullopt;
    return best->name;
}

SlaStatus sla_status(const Lead& lead, const SlaRules& rules, TimePoint now) {
    SlaStatus s;
    if (!is_open(lead.status)) return s;
    if (!lead.last_touch_at) {
        const int hours = lead.score >= rules.hot_score ? rules.hot_first_touch_h : rules.first_touch_h;
        s.due_at = lead.created_at + std::chrono::hours(hours);
        s.reason = "first_touch";
    } else if (lead.next_step_on) {
        s.due_at = end_of_day(*lead.next_step_on);
        s.reason = "next_step";
    }
    if (!s.due_at) {
        s.due_at = *lead.last_touch_at + std::chrono::days(rules.follow_up_days);
        s.reason = "follow_up";
    }
    s.overdue = now >= *s.due_at;
    return s;
}

}  // namespace pvfleet::leads
