#include <algorithm>

#include "pvfleet/domain/points.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Severity;
namespace points = domain::points;

// Communication lost: the device has not answered for the debounce, counted in daylight only (an inverter that
// sleeps at night is not lost). The expected energy over the gap is kept so the first answer can tell an outage
// from a mere link fault.
void comm_lost_no_answer(const DetectionConfig& cfg, TicketBook& book, const std::string& device_id,
                         const SunConditions& sun, DeviceState& s, TimePoint t,
                         std::vector<domain::TicketEvent>& out) {
    const long long now = to_epoch_ms(t);
    if (s.gap_last_ms && now <= *s.gap_last_ms) return;
    if (!s.gap_start_ms) {
        s.gap_start_ms = s.last_ms.value_or(now);
        s.gap_last_ms = s.gap_start_ms;
        s.gap_energy_before_wh = s.last_energy_wh;
    }
    const double dt = std::min(static_cast<double>(now - *s.gap_last_ms), kHour);
    if (judged_daylight(cfg, sun)) s.gap_daylight_ms += dt;
    if (sun.elevation_deg > 0) s.gap_expected_wh += sun.expected_ac_w * dt / kHour;
    s.gap_last_ms = now;
    if (s.gap_daylight_ms >= cfg.comm_lost.debounce_min * kMinute && judged_daylight(cfg, sun)) {
        const double gap_min = static_cast<double>(now - *s.gap_start_ms) / kMinute;
        std::vector<domain::EvidenceItem> ev;
        if (!book.is_live(device_id, FaultKind::comm_lost)) {
            ev.push_back(evidence("no_answer_minutes", gap_min, std::nullopt, "min", t));
        }
        push(out, book.raise(device_id, FaultKind::comm_lost, Severity::minor,
                             "device not answering (since " + fmt(gap_min) + " min)", std::move(ev), t));
    }
}

namespace {
// How much of the clear-sky energy the sky let through around the gap (0..1): the device's production so far
// today against the clear-sky model, and, when it answers producing, its power at the answer against the model
// (the lower of the two, so clouds that came up during the day count). Under clouds a producing plant makes
// far less than the clear-sky energy; the gap's expectation is scaled by this, so a cloudy gap is not taken
// for an outage. A device that answers still down says nothing about the sky: today's figure stands. With less
// than an hour's worth of 10 % of the rating behind it (a gap from before dawn) the day tells nothing either.
double sky_around_gap(const RuleContext& c, const DeviceState& s, const std::optional<double>& power) {
    double sky = 1.0;
    const double enough_wh = c.sun.ac_rating_w > 0 ? 0.1 * c.sun.ac_rating_w : 0.0;
    if (s.today.expected_wh > enough_wh && s.today.expected_wh > 0) {
        sky = std::clamp(s.today.measured_wh / s.today.expected_wh, 0.0, 1.0);
    }
    if (power && *power > c.near_zero_w && c.sun.expected_ac_w > 0) {
        sky = std::min(sky, *power / c.sun.expected_ac_w);
    }
    return sky;
}
}  // namespace

void comm_lost_answered(RuleContext& c, DeviceState& s, const domain::Sample& x) {
    if (!s.gap_start_ms) return;
    const long long now = to_epoch_ms(x.t);
    const auto energy = generation_energy(s, x);
    const double gap_min = static_cast<double>(now - *s.gap_start_ms) / kMinute;
    std::vector<domain::EvidenceItem> ev{evidence("no_answer_minutes", gap_min, std::nullopt, "min", x.t)};
    std::optional<double> ratio;
    const auto power = x.value(points::ac_power_w);
    const double sky = sky_around_gap(c, s, power);
    if (energy && s.gap_energy_before_wh && s.gap_expected_wh > 0) {
        // The counter also holds the last poll interval, in which the plant may already have been back: that
        // part is taken at the power it answers with, so a restart just before the answer still reads as down.
        const double last_interval_h = s.gap_last_ms ? static_cast<double>(now - *s.gap_last_ms) / kHour : 0.0;
        const double grown = std::max(0.0, *energy - *s.gap_energy_before_wh -
                                               std::max(0.0, power.value_or(0.0)) * std::min(last_interval_h, 1.0));
        ratio = grown / s.gap_expected_wh;
        ev.push_back(evidence("energy_during_gap_wh", grown, s.gap_expected_wh * sky, "Wh", x.t));
    }
    // Back after a communication gap: did it keep producing (as much as the sky around the gap allowed)?
    const bool was_outage = ratio && *ratio < c.cfg.comm_lost.outage_ratio * sky &&
                            s.gap_daylight_ms >= c.cfg.not_producing.debounce_min * kMinute;
    push(c.out, c.book.clear(x.device_id, FaultKind::comm_lost, x.t, ev));
    if (was_outage) {
        push(c.out, c.book.raise(x.device_id, FaultKind::not_producing, Severity::minor,
                                 "no energy produced during " + fmt(gap_min) + " min without communication",
                                 std::move(ev), x.t));
    }
    s.gap_start_ms.reset();
    s.gap_last_ms.reset();
    s.gap_energy_before_wh.reset();
    s.gap_daylight_ms = 0;
    s.gap_expected_wh = 0;
}

}  // namespace pvfleet::detect::rules
