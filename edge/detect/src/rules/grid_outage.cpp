#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Severity;

void grid_outage(const DetectionConfig& cfg, TicketBook& book, const SunModel& sun_model,
                 const std::map<std::string, std::unique_ptr<DeviceState>, std::less<>>& devices, Hold& grid,
                 TimePoint t, std::vector<domain::TicketEvent>& out) {
    const auto ids = sun_model.inverter_ids();
    if (ids.empty()) return;
    bool all_down = true;
    for (const auto& id : ids) {
        auto it = devices.find(id);
        if (it == devices.end() || !it->second->last_ms ||
            static_cast<double>(to_epoch_ms(t) - *it->second->last_ms) > 30 * kMinute) {
            all_down = false;
            break;
        }
        all_down = all_down && it->second->down_without_grid;
    }
    const SunConditions sun = sun_model.at(ids.front(), t);
    const bool daylight = judged_daylight(cfg, sun);
    if (!all_down && !grid.last_bad) {
        grid.observe(false, t, 2 * kHour);
    } else if (all_down && !daylight) {
        return;
    } else {
        grid.observe(all_down, t, 2 * kHour);
    }
    if (grid.bad_for(cfg.grid_outage.debounce_min)) {
        push(out, book.raise("site", FaultKind::grid_outage, Severity::major,
                             "grid outage: all inverters down with no AC voltage",
                             {evidence("grid_down_minutes", grid.bad_ms / kMinute, std::nullopt, "min", t)}, t));
    } else if (grid.good_for(cfg.grid_outage.clear_min)) {
        push(out, book.clear("site", FaultKind::grid_outage, t));
    }
}

}  // namespace pvfleet::detect::rules
