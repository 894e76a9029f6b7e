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

// The model's day is not the site's: on clear days its rising edge comes some minutes early and its falling
// edge late (horizon, row shading, low-light efficiency). The first clock_drift_learn_days smooth days whose
// mean offset is within the limit (a clock already wrong at commissioning is not learned as normal) give the
// site's own edge offsets; later days are judged against those. Until then the raw model is the reference.
namespace {
void learn_edges(const DataQualityConfig& cfg, DeviceState& s, double rise, double fall) {
    if (s.drift_rise_ref || std::abs(0.5 * (rise + fall)) > cfg.clock_drift_max_min) return;
    s.drift_learn.push_back(rise);
    s.drift_learn.push_back(fall);
    if (static_cast<int>(s.drift_learn.size()) < 2 * cfg.clock_drift_learn_days) return;
    std::vector<double> r, f;
    for (std::size_t i = 0; i + 1 < s.drift_learn.size(); i += 2) {
        r.push_back(s.drift_learn[i]);
        f.push_back(s.drift_learn[i + 1]);
    }
    s.drift_rise_ref = median(r);
    s.drift_fall_ref = median(f);
}
}  // namespace

void clock_drift(RuleContext& c, DeviceState& s, const DayFit& fit) {
    const DayAccum& d = s.today;
    const double ratio = fit.ratio;
    const bool smooth_hump = d.pmax > 0 && d.tv <= 2.3 * d.pmax && ratio >= 0.3;
    const auto rise_p = half_max_crossing(d.slot_p, true), fall_p = half_max_crossing(d.slot_p, false);
    const auto rise_e = half_max_crossing(d.slot_e, true), fall_e = half_max_crossing(d.slot_e, false);
    if (smooth_hump && rise_p && fall_p && rise_e && fall_e) {
        const auto& cfg = c.cfg.data_quality;
        const bool learned = s.drift_rise_ref.has_value();
        const double rise = *rise_p - *rise_e - s.drift_rise_ref.value_or(0.0);
        const double fall = *fall_p - *fall_e - s.drift_fall_ref.value_or(0.0);
        const double limit = cfg.clock_drift_max_min;
        const double drift = 0.5 * (rise + fall);
        const bool agree = std::abs(rise - fall) <= limit;
        if (agree && std::abs(drift) > limit) {
            ++s.drift_days;
            if (s.drift_days >= cfg.clock_drift_days) {
                push(c.out, c.book.raise(c.device, FaultKind::clock_drift, Severity::minor,
                                         "clock off by about " + fmt(drift) + " min against " +
                                             (learned ? "this site's usual production day" : "solar noon"),
                                         {evidence("clock_offset_minutes", drift, 0.0, "min", c.t)}, c.t));
            }
        } else if (std::abs(rise) <= limit && std::abs(fall) <= limit) {
            s.drift_days = 0;
            push(c.out, c.book.clear(c.device, FaultKind::clock_drift, c.t));
        }
        if (!learned) learn_edges(cfg, s, rise, fall);
    }
}

}  // namespace pvfleet::detect::rules
