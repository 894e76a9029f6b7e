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

void comm_lost_answered(RuleContext& c, DeviceState& s, const domain::Sample& x) {
    if (!s.gap_start_ms) return;
    const long long now = to_epoch_ms(x.t);
    const auto energy = generation_energy(s, x);
    const double gap_min = static_cast<double>(now - *s.gap_start_ms) / kMinute;
    std::vector<domain::EvidenceItem> ev{evidence("no_answer_minutes", gap_min, std::nullopt, "min", x.t)};
    std::optional<double> ratio;
    if (energy && s.gap_energy_before_wh && s.gap_expected_wh > 0) {
        const double grown = *energy - *s.gap_energy_before_wh;
        ratio = grown / s.gap_expected_wh;
        ev.push_back(evidence("energy_during_gap_wh", grown, s.gap_expected_wh, "Wh", x.t));
    }
    // Back after a communication gap: did it keep producing?
    const bool was_outage = ratio && *ratio < c.cfg.comm_lost.outage_ratio &&
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
