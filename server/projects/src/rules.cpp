// The projects' pure rules: calendar days, the current stage, the board's colours.
#include <charconv>
#include <cstdio>

#include "pvfleet/projects/project.hpp"

namespace pvfleet::projects {

std::optional<TimePoint> day_start(std::string_view date) {
    if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
    int y = 0;
    unsigned m = 0, d = 0;
    auto num = [&](std::size_t at, std::size_t len, auto& out) {
        const auto r = std::from_chars(date.data() + at, date.data() + at + len, out);
        return r.ec == std::errc{} && r.ptr == date.data() + at + len;
    };
    if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::time_point_cast<Millis>(std::chrono::sys_days{ymd});
}

std::string date_of(TimePoint t) {
    const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return buf;
}

std::string add_days(const std::string& date, int days) {
    const auto start = day_start(date);
    if (!start) return date;
    return date_of(*start + std::chrono::days{days});
}

std::string current_stage(const Template& t, const std::vector<Milestone>& milestones) {
    for (const auto& stage : t.stages)
        for (const auto& m : milestones)
            if (m.stage == stage.key && !m.done_on) return stage.key;
    return t.stages.empty() ? std::string() : t.stages.back().key;
}

std::optional<TimePoint> deadline_of(const Milestone& m) {
    if (!m.planned_on) return std::nullopt;
    const auto start = day_start(*m.planned_on);
    if (!start) return std::nullopt;
    return *start + std::chrono::days{1};
}

Colour milestone_colour(const Milestone& m, TimePoint stage_since, TimePoint now) {
    if (m.done_on) return Colour::green;
    const auto deadline = deadline_of(m);
    if (!deadline) return Colour::green;
    if (now > *deadline) return Colour::red;
    if (*deadline <= stage_since) return Colour::yellow;
    const auto window = *deadline - stage_since;
    const auto left = *deadline - now;
    // At most a quarter of the window left (4 × left ≤ window, in integer milliseconds).
    return left * 4 <= window ? Colour::yellow : Colour::green;
}

Colour project_colour(const Project& p, const std::vector<Milestone>& milestones, TimePoint now) {
    Colour worst = Colour::green;
    for (const auto& m : milestones) {
        if (m.project_id != p.id || m.stage != p.stage) continue;
        const Colour c = milestone_colour(m, p.stage_since, now);
        if (static_cast<int>(c) > static_cast<int>(worst)) worst = c;
    }
    return worst;
}

}  // namespace pvfleet::projects
