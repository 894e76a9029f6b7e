#include <algorithm>
#include <cmath>

#include "pvfleet/domain/points.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Sample;
using domain::Severity;
namespace points = domain::points;

// Not producing: no power (or a still counter) in daylight where this device has produced at this time of
// day recently; severity grows with the time down.
void not_producing(RuleContext& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.not_producing;
    const auto power = x.value(points::ac_power_w);
    const auto energy = generation_energy(s, x);
    std::optional<bool> counter_rising;
    if (energy && s.last_energy_wh && s.last_ms) {
        const double hours = static_cast<double>(to_epoch_ms(c.t) - *s.last_ms) / kHour;
        counter_rising = (*energy - *s.last_energy_wh) > c.near_zero_w * hours;
    }
    const bool producing_state = x.state && (*x.state == domain::InverterState::producing ||
                                             *x.state == domain::InverterState::throttled);
    std::optional<bool> producing;
    if (power) {
        producing = *power > c.near_zero_w;
        // A stuck power register with a rising counter is production (frozen_values reports the register).
        if (!*producing && counter_rising && *counter_rising) producing = true;
    } else if (counter_rising) {
        producing = *counter_rising;
    } else if (x.state) {
        producing = producing_state;
    }
    if (!producing) return;
    const double max_gap = cfg.max_gap_min * kMinute;
    if (*producing) {
        s.np.observe(false, c.t, max_gap);
        if (s.np.good_for(cfg.clear_min)) {
            push(c.out, c.book.clear(c.device, FaultKind::not_producing, c.t,
                                     {evidence(std::string(points::ac_power_w), power.value_or(0), c.sun.expected_ac_w,
                                               "W", c.t)}));
        }
        return;
    }
    if (!c.daylight) return;  // nothing is expected: night, dawn, dusk
    // Only where this device has produced at this time of day recently (learns obstacles' shade and the
    // real production window); before anything is learned, only in strong clear-sky sun.
    const bool learned = std::any_of(s.slots.begin(), s.slots.end(), [](int b) { return b != 0; });
    const bool expected_here = learned ? s.slots[static_cast<std::size_t>(c.slot)] != 0
                                       : c.sun.expected_ac_w >= cfg.unlearned_expected_fraction * c.sun.ac_rating_w;
    if (!expected_here) return;
    // Snow: freezing and the day never started. Melting will restart it; an outage on a cold day after
    // production started is still caught.
    if (s.ambient_c && *s.ambient_c <= cfg.snow_max_ambient_c &&
        s.today.measured_wh < cfg.snow_day_fraction * s.today.expected_wh) {
        return;
    }
    s.np.observe(true, c.t, max_gap);
    if (c.grid_suppressed) return;  // the site-wide grid outage ticket covers it
    if (!s.np.bad_for(cfg.debounce_min)) return;
    const double down_min = s.np.bad_ms / kMinute;
    Severity sev = Severity::minor;
    if (down_min >= cfg.critical_after_min) {
        sev = Severity::critical;
    } else if (down_min >= cfg.major_after_min) {
        sev = Severity::major;
    }
    std::vector<domain::EvidenceItem> ev;
    if (!c.book.is_live(c.device, FaultKind::not_producing) || sev > c.book.find(c.device, FaultKind::not_producing)->severity) {
        ev.push_back(evidence(std::string(points::ac_power_w), power.value_or(0), c.sun.expected_ac_w, "W", c.t));
        ev.push_back(evidence("down_daylight_minutes", down_min, std::nullopt, "min", c.t));
        if (energy) ev.push_back(evidence(generation_counter_name(s), *energy, std::nullopt, "Wh", c.t));
    }
    push(c.out, c.book.raise(c.device, FaultKind::not_producing, sev,
                             "inverter not producing in daylight for " + fmt(down_min) + " min (expected " +
                                 fmt(c.sun.expected_ac_w) + " W clear-sky)",
                             std::move(ev), c.t));
}

}  // namespace pvfleet::detect::rules
