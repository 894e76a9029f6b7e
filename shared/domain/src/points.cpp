#include "pvfleet/domain/points.hpp"

#include <array>

namespace pvfleet::domain {
namespace {
using enum PointShape;
constexpr std::array kPoints{
    PointInfo{points::ac_power_w, "W", scalar, "AC active power fed in (total of all phases)"},
    PointInfo{points::energy_total_wh, "Wh", scalar, "lifetime AC energy counter (monotonic)"},
    PointInfo{points::energy_today_wh, "Wh", scalar, "AC energy since local midnight"},
    PointInfo{points::pv_energy_total_wh, "Wh", scalar,
              "lifetime PV generation counter (monotonic), where a hybrid's energy_total_wh includes battery discharge"},
    PointInfo{points::pv_energy_today_wh, "Wh", scalar, "PV generation since local midnight (hybrids, see pv_energy_total_wh)"},
    PointInfo{points::dc_voltage_v, "V", per_mppt, "DC input voltage per MPPT/string"},
    PointInfo{points::dc_current_a, "A", per_mppt, "DC input current per MPPT/string"},
    PointInfo{points::dc_power_w, "W", per_mppt, "DC input power per MPPT/string"},
    PointInfo{points::ac_voltage_v, "V", per_phase, "AC phase-to-neutral voltage per phase"},
    PointInfo{points::ac_current_a, "A", per_phase, "AC current per phase"},
    PointInfo{points::ac_frequency_hz, "Hz", scalar, "grid frequency"},
    PointInfo{points::ac_reactive_power_var, "var", scalar, "AC reactive power"},
    PointInfo{points::ac_apparent_power_va, "VA", scalar, "AC apparent power"},
    PointInfo{points::power_factor, "", scalar, "power factor (-1..1)"},
    PointInfo{points::temperature_c, "°C", scalar, "inverter internal (heat sink/cabinet) temperature"},
    PointInfo{points::inverter_state, "", state, "operating state: off, sleeping, starting, producing, throttled, shutting_down, fault, standby, unknown"},
    PointInfo{points::events, "", event_list, "active named events (fault and alarm codes decoded)"},
    PointInfo{points::insulation_resistance_ohm, "Ω", scalar, "DC insulation resistance to earth"},
    PointInfo{points::grid_power_w, "W", scalar, "meter active power at the grid connection, + import / - export"},
    PointInfo{points::grid_import_wh, "Wh", scalar, "meter lifetime energy imported"},
    PointInfo{points::grid_export_wh, "Wh", scalar, "meter lifetime energy exported"},
    PointInfo{points::battery_power_w, "W", scalar, "battery power, + discharge / - charge"},
    PointInfo{points::battery_soc_pct, "%", scalar, "battery state of charge"},
    PointInfo{points::battery_voltage_v, "V", scalar, "battery voltage"},
    PointInfo{points::battery_current_a, "A", scalar, "battery current, + discharge / - charge"},
    PointInfo{points::battery_temperature_c, "°C", scalar, "battery temperature"},
    PointInfo{points::battery_charged_wh, "Wh", scalar, "battery lifetime energy charged"},
    PointInfo{points::battery_discharged_wh, "Wh", scalar, "battery lifetime energy discharged"},
    PointInfo{points::ambient_temperature_c, "°C", scalar, "outdoor air temperature at the site (weather sensor)"},
};
}  // namespace

std::span<const PointInfo> all_points() { return kPoints; }

const PointInfo* find_point(std::string_view name) {
    for (const auto& p : kPoints) {
        if (p.name == name) return &p;
    }
    return nullptr;
}

}  // namespace pvfleet::domain
