#include <algorithm>
#include <cmath>

#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Severity;

// Underperformance against the device's own learned baseline: the ratio of measured to clear-sky energy on clear
// days, learned over the recent weeks; a run of recent clear days far below it is a lost string (major), a
// moderate drop is underperformance (soiling, degradation, partial failure).
void underperformance(RuleContext& c, DeviceState& s, const DayFit& fit) {
    const auto& cfg = c.cfg.underperformance;
    const DayAccum& d = s.today;
    const double ratio = fit.ratio;
    const double roughness = fit.roughness;
    // The learned baseline so far (most recent learned clear days: the model's bias drifts with the season).
    std::vector<double> base;
    for (auto it = s.clear_days.rbegin(); it != s.clear_days.rend(); ++it) {
        if (it->in_baseline && static_cast<int>(base.size()) < cfg.baseline_max_days) base.push_back(it->ratio);
    }
    const bool have_baseline = static_cast<int>(base.size()) >= cfg.baseline_min_days;
    const double baseline = median(base);
    // Clear: the day has the clear-sky shape. A smooth but dim day (uniform overcast) is not clear either.
    const bool clear = roughness <= cfg.clear_day_max_roughness &&
                       (have_baseline ? ratio >= cfg.min_clear_day_fraction * baseline : ratio >= 0.2);
    if (!clear) return;

    const bool live = c.book.is_live(c.device, FaultKind::underperformance) ||
                      c.book.is_live(c.device, FaultKind::string_fault);
    s.clear_days.push_back(ClearDay{d.day, ratio, false});
    std::vector<double> recent;
    for (auto it = s.clear_days.rbegin(); it != s.clear_days.rend() && static_cast<int>(recent.size()) < cfg.recent_days;
         ++it) {
        recent.push_back(it->ratio);
    }
    // Days leave the "recent" window into the baseline once they are older than recent_days clear days.
    int seen = 0;
    for (auto it = s.clear_days.rbegin(); it != s.clear_days.rend(); ++it, ++seen) {
        if (seen >= cfg.recent_days && !it->in_baseline && !live) {
            // Only days consistent with the baseline (or before one exists) are learned.
            if (!have_baseline || it->ratio >= baseline * (1 - cfg.drop_fraction)) it->in_baseline = true;
        }
    }
    while (static_cast<int>(s.clear_days.size()) > 4 * cfg.baseline_max_days + cfg.recent_days) s.clear_days.pop_front();
    if (!have_baseline) return;

    if (static_cast<int>(recent.size()) < cfg.recent_days) return;
    // Every recent clear day far below: lost string or partial failure (inverters without per-input data).
    const double worst_recent = *std::max_element(recent.begin(), recent.end());
    if (worst_recent < baseline * (1 - c.cfg.string_fault.day_drop_fraction)) {
        push(c.out, c.book.raise(c.device, FaultKind::string_fault, Severity::major,
                                 "clear-day energy " + fmt(100 * worst_recent / baseline) +
                                     "% of the learned baseline: lost string or partial failure",
                                 {evidence("daily_energy_ratio", worst_recent, baseline, "", c.t)}, c.t));
    } else if (c.book.is_live(c.device, FaultKind::string_fault) && ratio >= baseline * (1 - cfg.drop_fraction) &&
               !c.book.find(c.device, FaultKind::string_fault)->evidence.empty() &&
               c.book.find(c.device, FaultKind::string_fault)->evidence.back().name == "daily_energy_ratio") {
        push(c.out, c.book.clear(c.device, FaultKind::string_fault, c.t,
                                 {evidence("daily_energy_ratio", ratio, baseline, "", c.t)}));
    }
    if (static_cast<int>(recent.size()) < cfg.recent_days) return;
    const double recent_ratio = median(recent);
    if (recent_ratio < baseline * (1 - cfg.drop_fraction)) {
        push(c.out, c.book.raise(c.device, FaultKind::underperformance, Severity::minor,
                                 "clear-day energy " + fmt(100 * recent_ratio / baseline) +
                                     "% of the learned baseline (soiling, degradation or partial failure)",
                                 {evidence("daily_energy_ratio", recent_ratio, baseline, "", c.t)}, c.t));
    } else if (recent_ratio >= baseline * (1 - cfg.clear_fraction)) {
        push(c.out, c.book.clear(c.device, FaultKind::underperformance, c.t,
                                 {evidence("daily_energy_ratio", recent_ratio, baseline, "", c.t)}));
    }
}

}  // namespace pvfleet::detect::rules
