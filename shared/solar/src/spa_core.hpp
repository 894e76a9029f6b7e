#pragma once
// The time-dependent (place-independent) half of SPA, shared by solar_position and sun_times.
#include <cmath>
#include <numbers>

namespace pvfleet::solar::detail {

inline constexpr double deg = std::numbers::pi / 180.0;

inline double limit_degrees(double x) {
    double r = std::fmod(x, 360.0);
    return r < 0.0 ? r + 360.0 : r;
}
// -180..180
inline double limit_degrees_180pm(double x) {
    double r = limit_degrees(x);
    return r > 180.0 ? r - 360.0 : r;
}

struct GeocentricSun {
    double jd = 0.0;                 // UT
    double right_ascension_deg = 0;  // apparent, 0..360
    double declination_deg = 0;
    double sidereal_time_deg = 0;    // apparent Greenwich sidereal time, 0..360
    double radius_au = 1.0;
    double nutation_longitude_deg = 0;
    double true_obliquity_deg = 0;
    double equation_of_time_min = 0;
};

GeocentricSun geocentric_sun(double jd_ut, double delta_t_s);

// Delta-T to use: the option when given, else the estimate for the year of `jd_ut`.
double resolve_delta_t(double option_delta_t_s, double jd_ut);

}  // namespace pvfleet::solar::detail
