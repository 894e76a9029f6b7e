#include <algorithm>
#include <cmath>

#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Severity;

// Clock drift: a wrong clock moves the whole production day, so the rising and the falling edge (where
// production crosses half its peak) both sit off the clear-sky edges by the same amount. Shading moves one
// edge only (a hill in the morning delays the rise), clouds make the day ragged: those days are
// inconclusive and leave the count of drifting days as it was.
namespace {
// Minutes of solar day where a 96-slot energy profile first (rising) or last (falling) crosses half its peak,
// interpolated between slot centres; nullopt for an empty profile.
std::optional<double> half_max_crossing(const std::vector<double>& slots, bool rising) {
    if (slots.size() != 96) return std::nullopt;
    const double peak = *std::max_element(slots.begin(), slots.end());
    if (peak <= 0) return std::nullopt;
    const double half = 0.5 * peak;
    auto centre = [](int i) { return (i + 0.5) * 15.0; };
    if (rising) {
        for (int i = 1; i < 96; ++i) {
            if (slots[i] >= half && slots[i - 1] < half)
                return centre(i - 1) + 15.0 * (half - slots[i - 1]) / (slots[i] - slots[i - 1]);
        }
    } else {
        for (int i = 94; i >= 0; --i) {
            if (slots[i] >= half && slots[i + 1] < half)
                return centre(i) + 15.0 * (slots[i] - half) / (slots[i] - slots[i + 1]);
        }
    }
    return std::nullopt;
}
}  // namespace

void clock_drift(RuleContext& c, DeviceState& s, const DayFit& fit) {
    const DayAccum& d = s.today;
    const double ratio = fit.ratio;
    const bool smooth_hump = d.pmax > 0 && d.tv <= 2.3 * d.pmax && ratio >= 0.3;
    const auto rise_p = half_max_crossing(d.slot_p, true), fall_p = half_max_crossing(d.slot_p, false);
    const auto rise_e = half_max_crossing(d.slot_e, true), fall_e = half_max_crossing(d.slot_e, false);
    if (smooth_hump && rise_p && fall_p && rise_e && fall_e) {
        const double rise = *rise_p - *rise_e;
        const double fall = *fall_p - *fall_e;
        const double limit = c.cfg.data_quality.clock_drift_max_min;
        const double drift = 0.5 * (rise + fall);
        const bool agree = std::abs(rise - fall) <= limit;
        if (agree && std::abs(drift) > limit) {
            ++s.drift_days;
            if (s.drift_days >= c.cfg.data_quality.clock_drift_days) {
                push(c.out, c.book.raise(c.device, FaultKind::clock_drift, Severity::minor,
                                         "clock off by about " + fmt(drift) + " min against solar noon",
                                         {evidence("clock_offset_minutes", drift, 0.0, "min", c.t)}, c.t));
            }
        } else if (std::abs(rise) <= limit && std::abs(fall) <= limit) {
            s.drift_days = 0;
            push(c.out, c.book.clear(c.device, FaultKind::clock_drift, c.t));
        }
    }
}

}  // namespace pvfleet::detect::rules
