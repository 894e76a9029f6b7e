#include "pvfleet/solar/clear_sky.hpp"
#include "angles.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>

namespace pvfleet::solar {
namespace {
using detail::deg;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
}  // namespace

double extraterrestrial_normal_irradiance(int day_of_year) {
    const double b = 2.0 * std::numbers::pi * (day_of_year - 1) / 365.0;
    const double r_ratio_sq = 1.00011 + 0.034221 * std::cos(b) + 0.00128 * std::sin(b) + 0.000719 * std::cos(2 * b) +
                              0.000077 * std::sin(2 * b);
    return 1366.1 * r_ratio_sq;
}

double extraterrestrial_normal_irradiance(TimePoint t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const auto jan1 = sys_days{ymd.year() / January / 1};
    return extraterrestrial_normal_irradiance(static_cast<int>((day - jan1).count()) + 1);
}

double relative_airmass(double zenith_deg) {
    if (!(zenith_deg < 90.0)) return nan;
    return 1.0 / (std::cos(zenith_deg * deg) + 0.50572 * std::pow(96.07995 - zenith_deg, -1.6364));
}

double absolute_airmass(double relative, double pressure_pa) { return relative * pressure_pa / 101325.0; }

double pressure_from_elevation(double elevation_m) {
    return 101325.0 * std::pow(1.0 - 2.25577e-5 * elevation_m, 5.25588);
}

Irradiance ineichen_perez(double zenith_deg, double am_abs, double tl, double elevation_m, double dni_extra) {
    const double cos_z = std::cos(zenith_deg * deg);
    if (!(zenith_deg < 90.0) || !(cos_z > 0.0) || std::isnan(am_abs)) return {};
    // Ineichen & Perez 2002, eqs. (altitude corrections fh1, fh2 and cg1, cg2).
    const double fh1 = std::exp(-elevation_m / 8000.0);
    const double fh2 = std::exp(-elevation_m / 1250.0);
    const double cg1 = 5.09e-5 * elevation_m + 0.868;
    const double cg2 = 3.92e-5 * elevation_m + 0.0387;
    const double ghi = std::max(0.0, cg1 * dni_extra * cos_z * std::exp(-cg2 * am_abs * (fh1 + fh2 * (tl - 1.0))));
    // Beam: Ineichen's b coefficient, limited so that the diffuse part cannot go negative.
    const double b = 0.664 + 0.163 / fh1;
    const double dni_model = std::max(0.0, dni_extra * b * std::exp(-0.09 * am_abs * (tl - 1.0)));
    const double dni_limit =
        ghi * std::clamp((1.0 - (0.1 - 0.2 * std::exp(-tl)) / (0.1 + 0.882 / fh1)) / cos_z, 0.0, 1e20);
    const double dni = std::min(dni_model, dni_limit);
    return {ghi, dni, std::max(0.0, ghi - dni * cos_z)};
}

double haurwitz_ghi(double zenith_deg) {
    const double cos_z = std::cos(zenith_deg * deg);
    if (!(zenith_deg < 90.0) || !(cos_z > 0.0)) return 0.0;
    return 1098.0 * cos_z * std::exp(-0.059 / cos_z);
}

Irradiance erbs_decomposition(double ghi, double zenith_deg, double dni_extra) {
    if (!(ghi > 0.0)) return {std::max(ghi, 0.0), 0.0, std::max(ghi, 0.0)};
    // Clearness index with a floor on cos(z) (pvlib's 0.065, ~86°) so dawn values stay finite.
    const double cos_z = std::max(std::cos(zenith_deg * deg), 0.065);
    const double kt = std::clamp(ghi / (dni_extra * cos_z), 0.0, 1.0);
    double diffuse_fraction;
    if (kt <= 0.22) {
        diffuse_fraction = 1.0 - 0.09 * kt;
    } else if (kt <= 0.80) {
        diffuse_fraction = 0.9511 - 0.1604 * kt + 4.388 * kt * kt - 16.638 * kt * kt * kt + 12.336 * kt * kt * kt * kt;
    } else {
        diffuse_fraction = 0.165;
    }
    const double dhi = diffuse_fraction * ghi;
    const double dni = zenith_deg < 87.0 ? std::max(0.0, (ghi - dhi) / cos_z) : 0.0;
    return {ghi, dni, dhi};
}

}  // namespace pvfleet::solar
