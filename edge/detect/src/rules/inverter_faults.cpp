#include <algorithm>
#include <cmath>

#include "pvfleet/domain/points.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Sample;
using domain::Severity;
namespace points = domain::points;

// Inverter fault events: safety faults at once, other events when they persist, repeated grid trips within a
// window; cleared after a quiet period.
namespace {
bool is_immediate_fault(std::string_view e) { return e == "ground_fault" || e == "arc_fault" || e == "isolation_fault"; }
bool is_grid_trip(std::string_view e) {
    // Some vendors only say "out of range" (GoodWe Vac/Fac failure): a grid trip all the same.
    return e == "grid_overvoltage" || e == "grid_undervoltage" || e == "grid_overfrequency" ||
           e == "grid_underfrequency" || e == "grid_voltage_out_of_range" || e == "grid_frequency_out_of_range";
}
}  // namespace

void inverter_faults(RuleContext& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.inverter_fault;
    const long long now = to_epoch_ms(c.t);
    std::map<std::string, long long> still;
    std::vector<domain::EvidenceItem> ev;
    Severity sev = Severity::info;
    std::string what;
    bool any = false;
    const bool fault_state = x.state && *x.state == domain::InverterState::fault;
    for (const auto& e : x.events) {
        any = true;
        auto it = s.active_since_ms.find(e);
        const bool rising = it == s.active_since_ms.end();
        const long long since = rising ? now : it->second;
        still[e] = since;
        if (is_grid_trip(e)) {
            if (rising) s.grid_trips_ms.push_back(now);
            continue;
        }
        if (is_immediate_fault(e)) {
            sev = Severity::critical;
            what = e;
            ev.push_back(evidence("event:" + e, 1, std::nullopt, "", c.t));
        } else if (static_cast<double>(now - since) >= cfg.persist_min * kMinute) {
            sev = std::max(sev, Severity::major);
            if (what.empty()) what = e;
            ev.push_back(evidence("event:" + e, static_cast<double>(now - since) / kMinute, std::nullopt, "min", c.t));
        }
    }
    s.active_since_ms = std::move(still);
    if (fault_state) {
        any = true;
        auto it = s.active_since_ms.find("state:fault");
        if (it == s.active_since_ms.end()) it = s.active_since_ms.emplace("state:fault", now).first;
        if (static_cast<double>(now - it->second) >= cfg.persist_min * kMinute && c.daylight) {
            sev = std::max(sev, Severity::major);
            if (what.empty()) what = "inverter state fault";
            ev.push_back(evidence("inverter_state_fault_minutes", static_cast<double>(now - it->second) / kMinute,
                                  std::nullopt, "min", c.t));
        }
    }
    const double window = cfg.repeat_window_min * kMinute;
    std::erase_if(s.grid_trips_ms, [&](long long tm) { return static_cast<double>(now - tm) > window; });
    if (static_cast<int>(s.grid_trips_ms.size()) >= cfg.repeat_count) {
        sev = std::max(sev, Severity::major);
        if (what.empty()) what = "repeated grid trips";
        ev.push_back(evidence("grid_trips_in_window", static_cast<double>(s.grid_trips_ms.size()), std::nullopt, "",
                              c.t));
    }
    if (any || !s.grid_trips_ms.empty()) s.last_fault_ms = now;
    if (sev > Severity::info) {
        push(c.out, c.book.raise(c.device, FaultKind::inverter_fault, sev, "inverter fault: " + what, std::move(ev), c.t));
        return;
    }
    if (!any && s.last_fault_ms && static_cast<double>(now - *s.last_fault_ms) >= cfg.clear_min * kMinute) {
        push(c.out, c.book.clear(c.device, FaultKind::inverter_fault, c.t));
    }
}

}  // namespace pvfleet::detect::rules
