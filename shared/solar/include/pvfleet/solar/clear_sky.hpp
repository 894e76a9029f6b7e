#pragma once
// Extraterrestrial irradiance, airmass and clear-sky irradiance (Ineichen-Perez with Linke turbidity,
// Haurwitz as the fallback). W/m², degrees.
#include <array>
#include <optional>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::solar {

// Global horizontal, direct normal and diffuse horizontal irradiance, W/m².
struct Irradiance {
    double ghi = 0.0;
    double dni = 0.0;
    double dhi = 0.0;
};

// Solar constant 1366.1 W/m² (the value Ineichen-Perez was fitted with) scaled by the Earth-Sun distance
// (Spencer 1971 series).
double extraterrestrial_normal_irradiance(int day_of_year);
double extraterrestrial_normal_irradiance(TimePoint t);

// Kasten & Young (1989) relative optical airmass for the apparent zenith; NaN at or below the horizon
// (zenith >= 90°).
double relative_airmass(double apparent_zenith_deg);
// Pressure-corrected airmass: relative * pressure / 101325 Pa.
double absolute_airmass(double relative_airmass, double pressure_pa);
// Standard-atmosphere station pressure, Pa, at an elevation in metres.
double pressure_from_elevation(double elevation_m);

// Ineichen & Perez (2002) clear-sky model with the Linke turbidity factor (air mass 2), as in
// Ineichen 2008's formulation with Perez's DNI limit. Zero when the sun is below the horizon.
Irradiance ineichen_perez(double apparent_zenith_deg, double absolute_airmass, double linke_turbidity,
                          double elevation_m, double dni_extra);

// Haurwitz (1945) clear-sky GHI: needs nothing but the zenith. Used when no turbidity is wanted;
// DNI/DHI then come from the Erbs decomposition.
double haurwitz_ghi(double apparent_zenith_deg);

// Erbs et al. (1982) split of GHI into DNI and DHI from the clearness index.
Irradiance erbs_decomposition(double ghi, double zenith_deg, double dni_extra);

// Twelve monthly Linke turbidity values, January first.
using MonthlyLinke = std::array<double, 12>;

// pvfleet's default monthly Linke turbidity when a site has no values of its own: a rural climatology
// by latitude band with an elevation correction (see docs/solar.md for the reasoning and sources).
MonthlyLinke default_linke_climatology(double latitude_deg, double elevation_m);

// Linke turbidity for a time, interpolated linearly between mid-month values.
double linke_at(const MonthlyLinke& monthly, TimePoint t);

enum class ClearSkyModel {
    ineichen_perez,  // default: needs Linke turbidity (per-site, or the default climatology)
    haurwitz,        // GHI from zenith only, split by Erbs
};

}  // namespace pvfleet::solar
