#include "pvfleet/acquisition/counters.hpp"

#include "pvfleet/domain/points.hpp"

namespace pvfleet::acquisition {

bool MonotonicCounters::is_lifetime_counter(std::string_view name) {
    namespace p = domain::points;
    return name == p::energy_total_wh || name == p::pv_energy_total_wh || name == p::grid_import_wh || name == p::grid_export_wh ||
           name == p::battery_charged_wh || name == p::battery_discharged_wh;
}

MonotonicCounters::Verdict MonotonicCounters::check(std::string_view name, double value) {
    auto it = counters_.find(name);
    if (it == counters_.end()) {
        // A first reading of exactly 0 is what a waking inverter reports; do not take it as a baseline.
        if (value <= 0.0) return Verdict::dropped;
        counters_.emplace(std::string(name), State{value, 0, 0.0});
        return Verdict::accepted;
    }
    State& s = it->second;
    if (value >= s.last) {
        s.last = value;
        s.lower_in_row = 0;
        return Verdict::accepted;
    }
    // Lower than before. Zero is the classic wake-up glitch and never becomes a baseline.
    if (value <= 0.0) return Verdict::dropped;
    if (s.lower_in_row > 0 && value >= s.lower_last) {
        ++s.lower_in_row;
    } else {
        s.lower_in_row = 1;
    }
    s.lower_last = value;
    if (s.lower_in_row >= rebase_after_) {
        s.last = value;
        s.lower_in_row = 0;
        return Verdict::rebased;
    }
    return Verdict::dropped;
}

std::optional<double> MonotonicCounters::last(std::string_view name) const {
    auto it = counters_.find(name);
    return it == counters_.end() ? std::nullopt : std::optional<double>(it->second.last);
}

}  // namespace pvfleet::acquisition
