#include <algorithm>
#include <bit>
#include <cmath>

#include "pvfleet/domain/points.hpp"
#include "pvfleet/util/number.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Sample;
using domain::Severity;
namespace points = domain::points;

// String / MPPT fault: one input far below its siblings in good sun. Low hours that recur on inputs fine at other
// hours are learned as shading (learn_shading, once a day) and not ticketed.
void string_fault(RuleContext& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.string_fault;
    const std::vector<std::optional<double>>* inputs = nullptr;
    for (auto name : {points::dc_power_w, points::dc_current_a}) {
        auto it = x.arrays.find(name);
        if (it != x.arrays.end() && it->second.size() >= 2) {
            inputs = &it->second;
            break;
        }
    }
    if (inputs == nullptr) return;
    const bool good_sun = c.sun.elevation_deg >= c.cfg.daylight.min_elevation_deg &&
                          (c.sun.ac_rating_w <= 0 || c.sun.expected_ac_w >= cfg.min_expected_fraction * c.sun.ac_rating_w);
    if (!good_sun) return;
    // Too dark right now (clouds, snow): inputs cannot be compared fairly.
    const auto ac = x.value(points::ac_power_w);
    if (ac && *ac < cfg.min_ac_fraction * c.sun.expected_ac_w) return;
    std::vector<double> vals;
    for (const auto& v : *inputs) vals.push_back(v.value_or(std::nan("")));
    double worst_ratio = 1e9;
    int worst = -1;
    const int hour = static_cast<int>(c.solar_hour);
    for (std::size_t i = 0; i < vals.size(); ++i) {
        if (std::isnan(vals[i])) continue;
        std::vector<double> others;
        for (std::size_t k = 0; k < vals.size(); ++k) {
            if (k != i && !std::isnan(vals[k])) others.push_back(vals[k]);
        }
        const double m = median(others);
        if (others.empty() || m <= 0) continue;
        const double ratio = std::max(0.0, vals[i]) / m;
        const std::string key = std::to_string(i) + ":" + std::to_string(hour);
        if (ratio < cfg.low_ratio) {
            s.today_low[key] = 1;
            const unsigned bits = s.shading_bits.count(key) ? s.shading_bits[key] : 0u;
            if (std::popcount(bits & 0x7fu) >= static_cast<int>(cfg.shading_days) &&
                !c.book.is_live(c.device, FaultKind::string_fault)) {
                continue;  // learned shading at this hour
            }
        } else {
            ++s.today_good_hours[static_cast<int>(i)];
        }
        if (ratio < worst_ratio) {
            worst_ratio = ratio;
            worst = static_cast<int>(i);
        }
    }
    if (worst < 0) return;
    const bool bad = worst_ratio < cfg.low_ratio;
    s.string.observe(bad, c.t, 2 * kHour);
    if (bad) {
        const bool open = worst_ratio < cfg.open_ratio;
        const double need = open ? cfg.open_debounce_min : cfg.debounce_min;
        if (s.string.bad_for(need)) {
            push(c.out, c.book.raise(c.device, FaultKind::string_fault, open ? Severity::major : Severity::minor,
                                     "MPPT " + std::to_string(worst + 1) + (open ? " open (no input)" : " at ") +
                                         (open ? "" : fmt(worst_ratio * 100) + "% of its siblings"),
                                     {evidence("mppt" + std::to_string(worst + 1) + "_sibling_ratio", worst_ratio, 1.0,
                                               "", c.t)},
                                     c.t));
        }
    } else if (s.string.good_for(cfg.clear_min)) {
        push(c.out, c.book.clear(c.device, FaultKind::string_fault, c.t));
    }
}

// At day end: shift the day's low hours into the shading bits, only for inputs that were fine at other hours.
void learn_shading(DeviceState& s) {
    for (auto& [key, bits] : s.shading_bits) bits = (bits << 1) & 0x7fu;
    for (const auto& [key, low] : s.today_low) {
        // Keys are "<mppt>:<hour>", written by this file; a key without a number would be no input's.
        const auto mppt_number = parse_number<int>(std::string_view(key).substr(0, key.find(':')));
        if (!mppt_number) continue;
        const int mppt = *mppt_number;
        if (low && s.today_good_hours[mppt] >= 8) s.shading_bits[key] |= 1u;
    }
    s.today_low.clear();
    s.today_good_hours.clear();
}

}  // namespace pvfleet::detect::rules
