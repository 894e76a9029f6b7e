#include <algorithm>
#include <cmath>

#include "pvfleet/domain/points.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Sample;
using domain::Severity;
namespace points = domain::points;

// Data quality: an energy counter going backwards; readings frozen in daylight.
void data_quality(RuleContext& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.data_quality;
    const long long now = to_epoch_ms(c.t);
    const auto energy = generation_energy(s, x);
    if (energy && s.last_energy_wh && *energy < *s.last_energy_wh - cfg.counter_tolerance_wh) {
        s.last_backwards_ms = now;
        push(c.out, c.book.raise(c.device, FaultKind::counter_backwards, Severity::minor,
                                 "energy counter went backwards by " + fmt(*s.last_energy_wh - *energy) + " Wh",
                                 {evidence(generation_counter_name(s), *energy, *s.last_energy_wh, "Wh", c.t)},
                                 c.t));
    } else if (s.last_backwards_ms && static_cast<double>(now - *s.last_backwards_ms) >= cfg.counter_clear_min * kMinute) {
        push(c.out, c.book.clear(c.device, FaultKind::counter_backwards, c.t));
        s.last_backwards_ms.reset();
    }

    // Frozen: the same non-zero power reading (or a still counter while power says it produces) in daylight.
    const auto power = x.value(points::ac_power_w);
    bool frozen_now = false;
    std::string frozen_what;
    if (power && std::abs(*power) > c.near_zero_w) {
        if (s.frozen_value && *s.frozen_value == *power) {
            ++s.frozen_count;
        } else {
            s.frozen_value = *power;
            s.frozen_since_ms = now;
            s.frozen_count = 1;
        }
        if (s.frozen_count >= cfg.frozen_samples &&
            static_cast<double>(now - *s.frozen_since_ms) >= cfg.frozen_min * kMinute) {
            frozen_now = true;
            frozen_what = std::string(points::ac_power_w);
        }
    } else {
        s.frozen_value.reset();
        s.frozen_count = 0;
    }
    if (energy && power && *power > c.near_zero_w) {
        if (!s.counter_still_value || *s.counter_still_value != *energy) {
            s.counter_still_value = *energy;
            s.counter_still_since_ms = now;
        } else if (static_cast<double>(now - *s.counter_still_since_ms) >= cfg.frozen_min * kMinute) {
            frozen_now = true;
            frozen_what = generation_counter_name(s);
        }
    } else {
        s.counter_still_value.reset();
    }
    if (!c.daylight && !frozen_now) return;
    s.frozen.observe(frozen_now, c.t, 2 * kHour);
    if (frozen_now && c.daylight) {
        push(c.out, c.book.raise(c.device, FaultKind::frozen_values, Severity::minor,
                                 "readings frozen in daylight: " + frozen_what,
                                 {evidence(frozen_what, frozen_what == points::ac_power_w ? *power : *energy,
                                           std::nullopt, frozen_what == points::ac_power_w ? "W" : "Wh", c.t)},
                                 c.t));
    } else if (s.frozen.good_for(15)) {
        push(c.out, c.book.clear(c.device, FaultKind::frozen_values, c.t));
    }
}

}  // namespace pvfleet::detect::rules
