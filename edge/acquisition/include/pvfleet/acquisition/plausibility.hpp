#pragma once
// The plausibility layer between decode and storage (docs/register-maps.md, "Plausibility"): every decoded
// value is checked against what the device can physically report, from the point's kind and unit and the
// device's rating in the site config. A value outside its bounds — a sentinel the map does not know, a register
// read from the wrong address, a garbled word — is taken out of the reading and kept in
// `Sample::implausible`, which detection counts as data-quality evidence; it is never a reading.
//
// Bounds (P = the device's power limit: `kPowerMultiple` × its AC rating, else × its array DC rating, else the
// household connection `kHouseholdConnectionW`):
//   ac_power_w, ac_apparent_power_va, ac_reactive_power_var, battery_power_w   |x| <= P
//   dc_power_w[i]                                                   |x| <= kPowerMultiple × DC rating (else P)
//   grid_power_w                                                    |x| <= max(P, kHouseholdConnectionW)
//   ac_voltage_v 0..kMaxAcVoltageV; ac_frequency_hz 0 (no grid) or kMinFrequencyHz..kMaxFrequencyHz
//   dc_voltage_v 0..kMaxDcVoltageV; battery_voltage_v 0..kMaxBatteryVoltageV
//   ac_current_a |x| <= P / kMinGridVoltageV; dc_current_a |x| <= DC limit / kMinMppVoltageV;
//   battery_current_a |x| <= P / kMinBatteryVoltageV
//   temperature_c, battery_temperature_c, ambient_temperature_c  kMinTemperatureC..kMaxTemperatureC
//   battery_soc_pct 0..100; power_factor -1..1; insulation_resistance_ohm >= 0
//   energy counters: >= 0, lifetime ones <= their power limit × kCounterLifetimeH, energy_today_wh <= P × 24 h,
//   and each step forward at most power limit × time since it last moved + kCounterSlackWh (a faster step is
//   dropped; a counter that keeps agreeing with itself at the new level for kCounterRebaseAfter readings is
//   accepted, as a replaced device would be). Going backwards is MonotonicCounters' judgement (counters.hpp).
// Points without a bound (unknown to this table) pass unchanged.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::acquisition {

inline constexpr double kPowerMultiple = 2.0;           // inverters overload briefly by 10-50 %, never 2x
inline constexpr double kHouseholdConnectionW = 100'000; // 3 x 125 A at 230 V = 86 kW, rounded up
inline constexpr double kMaxAcVoltageV = 500;           // line-to-line 400 V + 25 %
inline constexpr double kMinFrequencyHz = 40;
inline constexpr double kMaxFrequencyHz = 70;
inline constexpr double kMaxDcVoltageV = 1500;          // the low-voltage directive's DC limit
inline constexpr double kMaxBatteryVoltageV = 1000;
inline constexpr double kMinGridVoltageV = 100;         // lowest nominal grid voltage (Japan)
inline constexpr double kMinMppVoltageV = 80;           // below the MPP range of household string inverters
inline constexpr double kMinBatteryVoltageV = 40;       // a 48 V battery at empty
inline constexpr double kMinTemperatureC = -40;
inline constexpr double kMaxTemperatureC = 100;
inline constexpr double kCounterLifetimeH = 30.0 * 8766;  // 30 years
inline constexpr double kCounterSlackWh = 1000;         // counters of 1 kWh resolution step by a whole kWh
inline constexpr int kCounterRebaseAfter = 12;

// The device's rating from the site config; either may be unknown (a meter, an inverter without `ac_kw`).
struct Rating {
    std::optional<double> ac_w;  // inverter AC rating (`inverters[].ac_kw`)
    std::optional<double> dc_w;  // PV power on its inputs (sum of its `arrays[].dc_kw`)
};

struct Bounds {
    double lo = 0;
    double hi = 0;
    bool or_zero = false;  // exactly 0 is plausible too (no grid: 0 Hz)
    [[nodiscard]] bool contains(double v) const;
};

// The bounds of a point for a device of this rating; nullopt: the point is not judged.
std::optional<Bounds> bounds_for(std::string_view point, const Rating& rating);
// The power limit a counter's steps are judged against (W); nullopt for points that are not energy counters.
std::optional<double> counter_rate_w(std::string_view point, const Rating& rating);

class Plausibility {
public:
    explicit Plausibility(Rating rating = {}) : rating_(rating) {}

    // Moves every implausible value of `reading` (read at `t`) from values/arrays into `reading.implausible`.
    // Returns how many were moved.
    int filter(domain::Sample& reading, TimePoint t);

    [[nodiscard]] const Rating& rating() const { return rating_; }

private:
    bool counter_step_ok(const std::string& name, double value, TimePoint t, double rate_w);

    struct Counter {
        double value = 0;
        TimePoint t{};
        int jumps_in_row = 0;  // readings in a row too far ahead of `value`, each consistent with the one before
        double jump_value = 0;
        TimePoint jump_t{};
    };
    Rating rating_;
    std::map<std::string, Counter, std::less<>> counters_;
};

}  // namespace pvfleet::acquisition
