// Default monthly Linke turbidity when a site has no measured or map values. We cannot ship the
// Meteotest/SoDa global map, so this is a small climatology: a sea-level rural profile for northern
// mid-latitudes (the range of the Remund et al. 2003 maps over rural Europe/North America: ~3 in winter,
// ~4.3 in mid-summer when water vapour and aerosols peak), shifted by latitude band (humid, hazy tropics
// higher; high latitudes lower), mirrored by six months in the southern hemisphere, and reduced with
// elevation because the extinction above Rayleigh ((TL - 1): water vapour and aerosols) lives in the
// lowest kilometres (scale height ~2.5 km). docs/solar.md explains and gives the validation figures.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "pvfleet/solar/clear_sky.hpp"

namespace pvfleet::solar {
namespace {

constexpr MonthlyLinke northern_midlatitude_sea_level = {3.0, 3.2, 3.5, 3.8, 4.0, 4.2, 4.3, 4.2, 3.8, 3.4, 3.1, 3.0};
constexpr double profile_mean = 3.625;

// Piecewise-linear in |latitude|: offset added to the profile, and how much of its seasonal swing applies.
struct LatitudePoint {
    double abs_lat;
    double offset;
    double seasonality;
};
constexpr LatitudePoint latitude_points[] = {
    {0.0, 0.8, 0.3}, {20.0, 0.5, 0.6}, {35.0, 0.0, 1.0}, {50.0, -0.2, 1.0}, {65.0, -0.5, 0.8}, {90.0, -0.7, 0.6},
};
constexpr double water_aerosol_scale_height_m = 8000.0;

LatitudePoint at_latitude(double abs_lat) {
    for (std::size_t i = 1; i < std::size(latitude_points); ++i) {
        const auto& lo = latitude_points[i - 1];
        const auto& hi = latitude_points[i];
        if (abs_lat <= hi.abs_lat) {
            const double w = (abs_lat - lo.abs_lat) / (hi.abs_lat - lo.abs_lat);
            return {abs_lat, lo.offset + w * (hi.offset - lo.offset), lo.seasonality + w * (hi.seasonality - lo.seasonality)};
        }
    }
    return latitude_points[std::size(latitude_points) - 1];
}

}  // namespace

MonthlyLinke default_linke_climatology(double latitude_deg, double elevation_m) {
    const LatitudePoint lp = at_latitude(std::min(std::abs(latitude_deg), 90.0));
    const double altitude_factor = std::exp(-std::max(elevation_m, 0.0) / water_aerosol_scale_height_m);
    MonthlyLinke out{};
    for (int m = 0; m < 12; ++m) {
        const int source = latitude_deg >= 0.0 ? m : (m + 6) % 12;
        const double sea_level =
            profile_mean + lp.offset + lp.seasonality * (northern_midlatitude_sea_level[source] - profile_mean);
        out[m] = 1.0 + (sea_level - 1.0) * altitude_factor;
    }
    return out;
}

double linke_at(const MonthlyLinke& monthly, TimePoint t) {
    using namespace std::chrono;
    // Month values are taken as mid-month values; interpolate on the fractional month.
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const auto first = sys_days{ymd.year() / ymd.month() / 1};
    const auto next = sys_days{(ymd.year() / ymd.month() / 1) + months{1}};
    const double length = static_cast<double>((next - first).count());
    const double into = duration<double, days::period>(t - first).count();
    const double pos = static_cast<double>(static_cast<unsigned>(ymd.month()) - 1) + into / length - 0.5;  // -0.5..11.5
    const double wrapped = pos < 0.0 ? pos + 12.0 : pos;
    const int lo = static_cast<int>(std::floor(wrapped)) % 12;
    const int hi = (lo + 1) % 12;
    const double w = wrapped - std::floor(wrapped);
    return monthly[lo] * (1.0 - w) + monthly[hi] * w;
}

}  // namespace pvfleet::solar
