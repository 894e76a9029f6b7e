#pragma once
// One sample of the benchmark fleet's inverter, shared by bench_ingest (the fleet) and bench_codec (decoding its
// batches): a producing inverter with four scalar values, per-MPPT and per-phase arrays and its state.
#include <cmath>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::bench {

inline domain::Sample fleet_sample(int site, TimePoint t) {
    const double tod = static_cast<double>((to_epoch_ms(t) / 1000) % 86400) / 3600.0;
    const double p = tod > 6 && tod < 20 ? (3000 + site % 5000) * std::sin((tod - 6) / 14 * 3.14159) : 0;
    domain::Sample s;
    s.device_id = "inv1";
    s.t = t;
    s.values["ac_power_w"] = std::round(p);
    s.values["energy_total_wh"] = std::round(8e6 + static_cast<double>(to_epoch_ms(t)) / 1e6);
    s.values["ac_frequency_hz"] = 50.0 + 0.01 * static_cast<double>((to_epoch_ms(t) / 10000) % 7);
    s.values["temperature_c"] = 30.0 + std::round(p / 500);
    s.arrays["dc_voltage_v"] = {412.3 + site % 7, 398.7};
    s.arrays["dc_current_a"] = {std::round(p / 2 / 412.3 * 100) / 100, std::round(p / 2 / 398.7 * 100) / 100};
    s.arrays["ac_voltage_v"] = {230.1, 231.4, 229.8};
    s.state = p > 0 ? domain::InverterState::producing : domain::InverterState::sleeping;
    return s;
}

}  // namespace pvfleet::bench
