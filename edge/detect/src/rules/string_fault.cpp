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

namespace {

const std::vector<std::optional<double>>* per_input_readings(const Sample& x) {
    for (auto name : {points::dc_power_w, points::dc_current_a}) {
        auto it = x.arrays.find(name);
        if (it != x.arrays.end() && it->second.size() >= 2) return &it->second;
    }
    return nullptr;
}

// Which inputs are judged. With the site's wiring: the wired ones (an unwired input is nobody's string). Without
// it: those that have produced since the gateway started; one that never did is not a fault but (after a
// good-sun day) an unused input.
bool judged(const RuleContext& c, const DeviceState& s, int index) {
    if (c.wired != nullptr) return std::find(c.wired->begin(), c.wired->end(), index + 1) != c.wired->end();
    auto it = s.inputs.find(index);
    return it != s.inputs.end() && it->second.produced;
}

// Learns which inputs produce, and how much of today had good sun (for the unused-input rule at dusk).
void learn_production(RuleContext& c, DeviceState& s, const std::vector<double>& vals, std::optional<double> ac) {
    const auto& cfg = c.cfg.string_fault;
    double top = 0;
    for (double v : vals) {
        if (!std::isnan(v)) top = std::max(top, v);
    }
    for (std::size_t i = 0; i < vals.size(); ++i) {
        InputState& in = s.inputs[static_cast<int>(i)];
        if (top > 0 && !std::isnan(vals[i]) && vals[i] > 0 && vals[i] >= cfg.open_ratio * top) {
            in.produced = true;
            in.unused = false;  // a string was connected since
        }
    }
    const long long now = to_epoch_ms(c.t);
    const bool sunny = ac && c.sun.expected_ac_w > 0 && *ac >= cfg.unused_good_sun_fraction * c.sun.expected_ac_w;
    if (sunny && s.good_sun_last_ms && now > *s.good_sun_last_ms) {
        s.good_sun_ms_today += std::min(static_cast<double>(now - *s.good_sun_last_ms), kHour);
    }
    s.good_sun_last_ms = sunny ? std::optional<long long>(now) : std::nullopt;
}

void judge_input(RuleContext& c, DeviceState& s, int i, double ratio) {
    const auto& cfg = c.cfg.string_fault;
    const int input = i + 1;
    const std::string key = std::to_string(i) + ":" + std::to_string(static_cast<int>(c.solar_hour));
    const bool bad = ratio < cfg.low_ratio;
    if (bad) {
        s.today_low[key] = 1;
        const unsigned bits = s.shading_bits.count(key) ? s.shading_bits[key] : 0u;
        if (std::popcount(bits & 0x7fu) >= static_cast<int>(cfg.shading_days) &&
            !c.book.is_live(c.device, FaultKind::string_fault, input)) {
            return;  // learned shading at this hour
        }
    } else {
        ++s.today_good_hours[i];
    }
    Hold& hold = s.inputs[i].hold;
    hold.observe(bad, c.t, 2 * kHour);
    if (bad) {
        const bool open = ratio < cfg.open_ratio;
        if (!hold.bad_for(open ? cfg.open_debounce_min : cfg.debounce_min)) return;
        const std::string name = "MPPT " + std::to_string(input);
        push(c.out, c.book.raise(c.device, FaultKind::string_fault, input, open ? Severity::major : Severity::minor,
                                 open ? name + " open (no input)" : name + " at " + fmt(ratio * 100) + "% of its siblings",
                                 {evidence("mppt" + std::to_string(input) + "_sibling_ratio", ratio, 1.0, "", c.t)},
                                 c.t));
    } else if (hold.good_for(cfg.clear_min)) {
        push(c.out, c.book.clear(c.device, FaultKind::string_fault, input, c.t));
    }
}

}  // namespace

// String / MPPT fault, one ticket per input: an input far below its siblings in good sun. Low hours that recur on
// inputs fine at other hours are learned as shading (learn_shading, once a day) and not ticketed. Inputs nothing
// is wired to are left out (wiring from the site config, or learned: learn_unused_inputs).
void string_fault(RuleContext& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.string_fault;
    const auto* inputs = per_input_readings(x);
    if (inputs == nullptr) return;
    const bool good_sun = c.sun.elevation_deg >= c.cfg.daylight.min_elevation_deg &&
                          (c.sun.ac_rating_w <= 0 || c.sun.expected_ac_w >= cfg.min_expected_fraction * c.sun.ac_rating_w);
    if (!good_sun) return;
    // Too dark right now (clouds, snow): inputs cannot be compared fairly.
    const auto ac = x.value(points::ac_power_w);
    if (ac && *ac < cfg.min_ac_fraction * c.sun.expected_ac_w) return;
    std::vector<double> vals;
    for (const auto& v : *inputs) vals.push_back(v.value_or(std::nan("")));
    learn_production(c, s, vals, ac);
    for (int i = 0; i < static_cast<int>(vals.size()); ++i) {
        if (!judged(c, s, i)) {
            // Unwired by the site config now: a ticket left from before the config said so is void.
            if (c.wired != nullptr) push(c.out, c.book.clear(c.device, FaultKind::string_fault, i + 1, c.t));
            continue;
        }
        const double v = vals[static_cast<std::size_t>(i)];
        if (std::isnan(v)) continue;  // absent: the reading says nothing
        std::vector<double> others;
        for (int k = 0; k < static_cast<int>(vals.size()); ++k) {
            const double o = vals[static_cast<std::size_t>(k)];
            if (k != i && !std::isnan(o) && judged(c, s, k)) others.push_back(o);
        }
        const double m = median(others);
        if (others.empty() || m <= 0) continue;
        judge_input(c, s, i, std::max(0.0, v) / m);
    }
}

// At day end: an input that has still not produced after a good-sun day is learned as unused (it stays so until
// it produces). The day's good-sun time starts again.
void learn_unused_inputs(const DetectionConfig& cfg, DeviceState& s) {
    const bool good_sun_day = s.good_sun_ms_today >= cfg.string_fault.unused_good_sun_min * kMinute;
    for (auto& [index, in] : s.inputs) {
        if (in.produced || in.unused || !good_sun_day) continue;
        ++in.dark_good_sun_days;
        if (in.dark_good_sun_days >= static_cast<int>(cfg.string_fault.unused_after_days)) in.unused = true;
    }
    s.good_sun_ms_today = 0;
    s.good_sun_last_ms.reset();
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
