#include <algorithm>
#include <cmath>

#include "pvfleet/domain/points.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Sample;
using domain::Severity;
namespace points = domain::points;

namespace {

// The unit of "dc_current_a[1]" is that of dc_current_a.
std::string unit_of(const std::string& key) {
    const auto* info = domain::find_point(key.substr(0, key.find('[')));
    return info != nullptr ? std::string(info->unit) : std::string();
}

// Values the edge's plausibility layer refused (Sample::implausible, day and night): a point refused in
// `implausible_samples` readings spanning `implausible_min` raises implausible_values naming the point and its
// value; a streak ends after `implausible_clear_min` without a refusal, and the ticket resolves once none is left.
void implausible_values(RuleContext& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.data_quality;
    const long long now = to_epoch_ms(c.t);
    std::vector<domain::EvidenceItem> fresh;
    std::string named;
    for (const auto& [key, value] : x.implausible) {
        auto& p = s.implausible[key];
        if (p.count == 0) p.since_ms = now;
        ++p.count;
        p.last_ms = now;
        p.last_value = value;
        if (!p.reported && p.count >= cfg.implausible_samples &&
            static_cast<double>(now - p.since_ms) >= cfg.implausible_min * kMinute) {
            p.reported = true;
            fresh.push_back(evidence(key, value, std::nullopt, unit_of(key), c.t));
            named += (named.empty() ? "" : ", ") + key + " " + fmt(value, 1) + " " + unit_of(key) + " (" +
                     std::to_string(p.count) + " readings)";
        }
    }
    std::erase_if(s.implausible, [&](const auto& kv) {
        return static_cast<double>(now - kv.second.last_ms) >= cfg.implausible_clear_min * kMinute;
    });
    if (!fresh.empty()) {
        s.implausible_raised = true;
        push(c.out, c.book.raise(c.device, FaultKind::implausible_values, Severity::minor,
                                 "implausible readings dropped: " + named, std::move(fresh), c.t));
    } else if (s.implausible_raised && s.implausible.empty()) {
        s.implausible_raised = false;
        push(c.out, c.book.clear(c.device, FaultKind::implausible_values, c.t));
    }
}

}  // namespace

// Data quality: values refused as implausible; an energy counter going backwards; readings frozen in daylight.
void data_quality(RuleContext& c, DeviceState& s, const Sample& x) {
    implausible_values(c, s, x);
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
