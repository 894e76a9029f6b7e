#pragma once
// Expected AC power of a household PV site (PVWatts-style): per array plane-of-array irradiance,
// cell temperature (SAPM), DC power with temperature coefficient and system losses; arrays feeding the
// same inverter add before the inverter's efficiency curve and AC clipping.
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/solar/clear_sky.hpp"
#include "pvfleet/solar/position.hpp"
#include "pvfleet/solar/transposition.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::solar {

// Sandia (King 2004) cell-temperature model parameters for common mountings.
enum class Mounting {
    open_rack_glass_polymer,      // a=-3.56  b=-0.075   dT=3  (ground/frame racks)
    open_rack_glass_glass,        // a=-3.47  b=-0.0594  dT=3
    close_mount_glass_glass,      // a=-2.98  b=-0.0471  dT=1  (default: roof with small stand-off)
    insulated_back_glass_polymer, // a=-2.81  b=-0.0455  dT=0  (roof-integrated)
};

struct ArrayConfig {
    std::string id;
    std::string inverter_id;
    double dc_kwp = 0.0;                 // STC DC nameplate
    double tilt_deg = 0.0;
    double azimuth_deg = 180.0;          // clockwise from north, 180 = south
    double gamma_per_c = -0.0037;        // power temperature coefficient, 1/°C
    double losses = 0.14;                // DC system losses fraction (soiling, wiring, mismatch, LID, ...)
    Mounting mounting = Mounting::close_mount_glass_glass;
};

struct InverterConfig {
    std::string id;
    double ac_kw = 0.0;                  // AC limit (nameplate)
    double nominal_efficiency = 0.96;    // PVWatts eta_inv_nom
};

struct SiteModel {
    double latitude_deg = 0.0;
    double longitude_deg = 0.0;
    double elevation_m = 0.0;
    double albedo = 0.2;
    std::optional<MonthlyLinke> linke_monthly;          // none: default_linke_climatology()
    std::optional<std::array<double, 12>> ambient_monthly_c;  // daytime ambient when none is measured
    double default_ambient_c = 20.0;                    // used when neither is available
    double default_wind_ms = 1.0;
    ClearSkyModel clear_sky = ClearSkyModel::ineichen_perez;
    SkyDiffuseModel sky_diffuse = SkyDiffuseModel::perez;
    bool incidence_angle_modifier = true;               // physical IAM on the beam component
    PositionOptions position;                           // delta-T, refraction pressure/temperature
    std::vector<ArrayConfig> arrays;
    std::vector<InverterConfig> inverters;
};

// What is known at the time of the calculation besides the clock.
struct Conditions {
    std::optional<double> ambient_c{};
    std::optional<double> wind_ms{};
    // Measured irradiance replaces the clear-sky estimate. If dni or dhi is NaN, GHI is split by Erbs.
    std::optional<Irradiance> measured{};
};

struct ArrayPower {
    PoaIrradiance poa;        // W/m², before the incidence-angle modifier
    double effective_poa = 0.0;  // W/m², after IAM (what the cells convert)
    double cell_temperature_c = 0.0;
    double dc_w = 0.0;        // after temperature and system losses
};

struct InverterPower {
    double dc_w = 0.0;        // sum of the arrays feeding it
    double ac_w = 0.0;        // after efficiency and clipping
    bool clipped = false;     // AC limit reached
};

struct ExpectedPower {
    SolarPosition sun;
    Irradiance irradiance;             // horizontal irradiance used (clear-sky or measured)
    bool from_measured = false;
    double dni_extra = 0.0;
    std::vector<ArrayPower> arrays;        // same order as SiteModel::arrays
    std::vector<InverterPower> inverters;  // same order as SiteModel::inverters
    double total_dc_w = 0.0;
    double total_ac_w = 0.0;
    // Reused by ExpectedPowerModel::at(t, conditions, out): repeated calls with the same `out` at
    // nearby times skip most of the SPA work.
    SolarPositionCache position_cache;
};

struct DailyEnergy {
    double total_ac_wh = 0.0;
    std::vector<double> inverter_ac_wh;    // same order as SiteModel::inverters
    double peak_ac_w = 0.0;
    SunTimes sun;
};

// A validated site, ready for fast repeated evaluation (inverter links resolved, constants cached).
class ExpectedPowerModel {
public:
    // Refuses bad sites with a key path, e.g. "arrays/1/inverter_id: unknown inverter 'inv9'".
    static Result<ExpectedPowerModel> create(SiteModel site);

    [[nodiscard]] const SiteModel& site() const { return site_; }
    [[nodiscard]] Location location() const { return {site_.latitude_deg, site_.longitude_deg, site_.elevation_m}; }

    // Expected power at `t`. Clear-sky unless `conditions.measured` is given.
    [[nodiscard]] ExpectedPower at(TimePoint t, const Conditions& conditions = {}) const;
    // The same, reusing `out`'s storage (no allocation in steady state).
    void at(TimePoint t, const Conditions& conditions, ExpectedPower& out) const;

    // Clear-sky expected AC energy between two instants, trapezoidal integration with `step`.
    [[nodiscard]] DailyEnergy energy_between(TimePoint from, TimePoint to,
                                             std::chrono::seconds step = std::chrono::minutes(5)) const;
    // Clear-sky expected AC energy of a civil date in a time zone with the given UTC offset.
    [[nodiscard]] DailyEnergy daily_energy(std::chrono::year_month_day local_date, std::chrono::minutes utc_offset,
                                           std::chrono::seconds step = std::chrono::minutes(5)) const;
    // Clear-sky expected AC energy of the mean-solar day containing `t` (no time zone needed).
    [[nodiscard]] DailyEnergy daily_energy_around(TimePoint t, std::chrono::seconds step = std::chrono::minutes(5)) const;

    // Whether the sun is at least `min_elevation_deg` above the horizon (apparent) at `t`.
    [[nodiscard]] bool sun_high_enough(TimePoint t, double min_elevation_deg) const;

private:
    explicit ExpectedPowerModel(SiteModel site);
    void evaluate(TimePoint t, const Conditions& conditions, const SolarPosition& sun, ExpectedPower& out) const;
    [[nodiscard]] DailyEnergy integrate(TimePoint from, TimePoint to, std::chrono::seconds step) const;
    SiteModel site_;
    MonthlyLinke linke_{};
    std::vector<std::size_t> array_inverter_;  // index into site_.inverters for each array
    double pressure_pa_ = 101325.0;
};

// Cell temperature, Sandia model: T_module = E·exp(a + b·ws) + T_amb; T_cell = T_module + E/1000·dT.
double cell_temperature_sapm(double poa_wm2, double ambient_c, double wind_ms, Mounting mounting);

// PVWatts DC power, W: kWp·1000 · E/1000 · (1 + gamma (T_cell - 25)) · (1 - losses); never negative.
double pvwatts_dc(double dc_kwp, double effective_poa_wm2, double cell_temperature_c, double gamma_per_c,
                  double losses);

// PVWatts v5 inverter: efficiency curve from the nominal efficiency, AC limited to ac_limit_w.
double pvwatts_ac(double dc_w, double ac_limit_w, double nominal_efficiency = 0.96);

}  // namespace pvfleet::solar
