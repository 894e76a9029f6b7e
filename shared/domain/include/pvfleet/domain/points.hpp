#pragma once
// Canonical point names: one vocabulary for edge, wire, server, CLI and UI. Values are SI units.
#include <span>
#include <string_view>

namespace pvfleet::domain {

enum class PointShape {
    scalar,       // one number
    per_mppt,     // array, one entry per MPPT/string (index 0 = MPPT 1)
    per_phase,    // array, one entry per AC phase (single-phase devices have one entry)
    state,        // inverter_state: a text name from InverterState
    event_list,   // events: list of active named events
};

struct PointInfo {
    std::string_view name;
    std::string_view unit;  // "W", "Wh", "V", "A", "Hz", "°C", "%", "var", "VA", "" for unitless
    PointShape shape;
    std::string_view description;
};

namespace points {
inline constexpr std::string_view ac_power_w = "ac_power_w";
inline constexpr std::string_view energy_total_wh = "energy_total_wh";
inline constexpr std::string_view energy_today_wh = "energy_today_wh";
// Hybrids whose AC output counters include battery discharge also count PV generation on its own.
inline constexpr std::string_view pv_energy_total_wh = "pv_energy_total_wh";
inline constexpr std::string_view pv_energy_today_wh = "pv_energy_today_wh";
inline constexpr std::string_view dc_voltage_v = "dc_voltage_v";
inline constexpr std::string_view dc_current_a = "dc_current_a";
inline constexpr std::string_view dc_power_w = "dc_power_w";
inline constexpr std::string_view ac_voltage_v = "ac_voltage_v";
inline constexpr std::string_view ac_current_a = "ac_current_a";
inline constexpr std::string_view ac_frequency_hz = "ac_frequency_hz";
inline constexpr std::string_view ac_reactive_power_var = "ac_reactive_power_var";
inline constexpr std::string_view ac_apparent_power_va = "ac_apparent_power_va";
inline constexpr std::string_view power_factor = "power_factor";
inline constexpr std::string_view temperature_c = "temperature_c";
inline constexpr std::string_view inverter_state = "inverter_state";
inline constexpr std::string_view events = "events";
inline constexpr std::string_view insulation_resistance_ohm = "insulation_resistance_ohm";
// Meter (grid connection point): positive = import from grid.
inline constexpr std::string_view grid_power_w = "grid_power_w";
inline constexpr std::string_view grid_import_wh = "grid_import_wh";
inline constexpr std::string_view grid_export_wh = "grid_export_wh";
// Battery: positive = discharging.
inline constexpr std::string_view battery_power_w = "battery_power_w";
inline constexpr std::string_view battery_soc_pct = "battery_soc_pct";
inline constexpr std::string_view battery_voltage_v = "battery_voltage_v";
inline constexpr std::string_view battery_current_a = "battery_current_a";
inline constexpr std::string_view battery_temperature_c = "battery_temperature_c";
inline constexpr std::string_view battery_charged_wh = "battery_charged_wh";
inline constexpr std::string_view battery_discharged_wh = "battery_discharged_wh";
// Site weather sensor (optional): lets detection tell snow cover from an outage.
inline constexpr std::string_view ambient_temperature_c = "ambient_temperature_c";
}  // namespace points

// Every canonical point, in documentation order.
std::span<const PointInfo> all_points();
// nullptr when the name is not canonical.
const PointInfo* find_point(std::string_view name);

}  // namespace pvfleet::domain
