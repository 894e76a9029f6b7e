#include <algorithm>
#include <cmath>

#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Severity;

// Once per solar day at dusk: learn shading, judge the day's clear periods, fit the day to the clear-sky shape for
// the clock-drift rule.
void day_end(RuleContext& c, DeviceState& s) {
    DayAccum& d = s.today;
    d.evaluated = true;
    learn_shading(s);
    underperformance(c, s);
    if (d.expected_wh <= 0 || d.n < 8 || d.see <= 0) return;
    const double k = d.spe / d.see;  // best scale of the clear-sky shape onto the measured one
    const double resid = std::max(0.0, d.spp - 2 * k * d.spe + k * k * d.see);
    const double mean_fit = k * std::sqrt(d.see / d.n);
    DayFit fit;
    fit.roughness = mean_fit > 0 ? std::sqrt(resid / d.n) / mean_fit : 1e9;
    fit.ratio = d.measured_wh / d.expected_wh;
    clock_drift(c, s, fit);
}

}  // namespace pvfleet::detect::rules
