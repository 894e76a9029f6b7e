#include "pvfleet/acquisition/plausibility.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "pvfleet/domain/points.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::acquisition {
namespace {

namespace p = domain::points;

// The device's power limit P (see the header).
double power_limit(const Rating& r) {
    if (r.ac_w && *r.ac_w > 0) return kPowerMultiple * *r.ac_w;
    if (r.dc_w && *r.dc_w > 0) return kPowerMultiple * *r.dc_w;
    return kHouseholdConnectionW;
}
double dc_limit(const Rating& r) {
    return r.dc_w && *r.dc_w > 0 ? kPowerMultiple * *r.dc_w : power_limit(r);
}
double grid_limit(const Rating& r) { return std::max(power_limit(r), kHouseholdConnectionW); }

Bounds symmetric(double limit) { return {-limit, limit, false}; }

bool is_lifetime_counter(std::string_view point) {
    return point == p::energy_total_wh || point == p::grid_import_wh || point == p::grid_export_wh ||
           point == p::battery_charged_wh || point == p::battery_discharged_wh;
}

}  // namespace

bool Bounds::contains(double v) const {
    if (!std::isfinite(v)) return false;
    return (v >= lo && v <= hi) || (or_zero && v == 0.0);
}

std::optional<double> counter_rate_w(std::string_view point, const Rating& rating) {
    if (point == p::energy_total_wh || point == p::energy_today_wh) return power_limit(rating);
    if (point == p::grid_import_wh || point == p::grid_export_wh) return grid_limit(rating);
    if (point == p::battery_charged_wh || point == p::battery_discharged_wh) return power_limit(rating);
    return std::nullopt;
}

std::optional<Bounds> bounds_for(std::string_view point, const Rating& rating) {
    const double P = power_limit(rating);
    if (point == p::ac_power_w || point == p::ac_apparent_power_va || point == p::ac_reactive_power_var ||
        point == p::battery_power_w)
        return symmetric(P);
    if (point == p::dc_power_w) return symmetric(dc_limit(rating));
    if (point == p::grid_power_w) return symmetric(grid_limit(rating));
    if (point == p::ac_voltage_v) return Bounds{0, kMaxAcVoltageV};
    if (point == p::ac_frequency_hz) return Bounds{kMinFrequencyHz, kMaxFrequencyHz, true};
    if (point == p::dc_voltage_v) return Bounds{0, kMaxDcVoltageV};
    if (point == p::battery_voltage_v) return Bounds{0, kMaxBatteryVoltageV};
    if (point == p::ac_current_a) return symmetric(P / kMinGridVoltageV);
    if (point == p::dc_current_a) return symmetric(dc_limit(rating) / kMinMppVoltageV);
    if (point == p::battery_current_a) return symmetric(P / kMinBatteryVoltageV);
    if (point == p::temperature_c || point == p::battery_temperature_c || point == p::ambient_temperature_c)
        return Bounds{kMinTemperatureC, kMaxTemperatureC};
    if (point == p::battery_soc_pct) return Bounds{0, 100};
    if (point == p::power_factor) return Bounds{-1, 1};
    if (point == p::insulation_resistance_ohm) return Bounds{0, std::numeric_limits<double>::max()};
    if (point == p::energy_today_wh) return Bounds{0, P * 24};
    if (auto rate = counter_rate_w(point, rating); rate && is_lifetime_counter(point))
        return Bounds{0, *rate * kCounterLifetimeH};
    return std::nullopt;
}

bool Plausibility::counter_step_ok(const std::string& name, double value, TimePoint t, double rate_w) {
    auto [it, first] = counters_.try_emplace(name, Counter{value, t, 0, 0, {}});
    if (first) return true;
    Counter& c = it->second;
    if (value < c.value) {
        // energy_today_wh restarts every night; a lifetime counter going back is MonotonicCounters' call.
        if (name == p::energy_today_wh) c = Counter{value, t, 0, 0, {}};
        return true;
    }
    auto allowed = [rate_w](double from, TimePoint since, TimePoint now) {
        const double hours = std::max(0.0, std::chrono::duration<double, std::ratio<3600>>(now - since).count());
        return rate_w * hours + kCounterSlackWh + 1e-9 * std::abs(from);
    };
    if (value - c.value <= allowed(c.value, c.t, t)) {
        // Judged from when the counter last moved: one held still (a stuck register, a logger that stopped
        // updating it) catches up by what was produced meanwhile, which is plausible over that whole time.
        if (value > c.value) c.t = t;
        c.value = value;
        c.jumps_in_row = 0;
        return true;
    }
    // Too far ahead. A counter that keeps advancing plausibly from its new level is a new baseline.
    const bool consistent = c.jumps_in_row > 0 && value >= c.jump_value &&
                            value - c.jump_value <= allowed(c.jump_value, c.jump_t, t);
    c.jumps_in_row = consistent ? c.jumps_in_row + 1 : 1;
    c.jump_value = value;
    c.jump_t = t;
    if (c.jumps_in_row >= kCounterRebaseAfter) {
        PVF_LOG(warn, "acquisition", name << " jumped to " << value << " and stayed there: taken as its new level");
        c = Counter{value, t, 0, 0, {}};
        return true;
    }
    return false;
}

int Plausibility::filter(domain::Sample& reading, TimePoint t) {
    int moved = 0;
    for (auto it = reading.values.begin(); it != reading.values.end();) {
        const auto& [name, v] = *it;
        const auto bounds = bounds_for(name, rating_);
        bool ok = !bounds || bounds->contains(v);
        if (ok) {
            if (auto rate = counter_rate_w(name, rating_)) ok = counter_step_ok(name, v, t, *rate);
        }
        if (ok) {
            ++it;
            continue;
        }
        reading.implausible.insert_or_assign(name, v);
        ++moved;
        it = reading.values.erase(it);
    }
    for (auto& [name, arr] : reading.arrays) {
        const auto bounds = bounds_for(name, rating_);
        if (!bounds) continue;
        for (size_t i = 0; i < arr.size(); ++i) {
            if (!arr[i] || bounds->contains(*arr[i])) continue;
            reading.implausible.insert_or_assign(name + "[" + std::to_string(i) + "]", *arr[i]);
            arr[i].reset();
            ++moved;
        }
        // An array ends at its last input with a value (docs/register-maps.md).
        while (!arr.empty() && !arr.back()) arr.pop_back();
    }
    std::erase_if(reading.arrays, [](const auto& kv) { return kv.second.empty(); });
    return moved;
}

}  // namespace pvfleet::acquisition
