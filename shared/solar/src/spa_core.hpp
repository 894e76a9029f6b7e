#pragma once
// The time-dependent (place-independent) half of SPA, shared by solar_position and sun_times.
#include <cmath>
#include <numbers>

#include "angles.hpp"
#include "pvfleet/solar/position.hpp"

namespace pvfleet::solar::detail {

inline double limit_degrees(double x) {
    double r = std::fmod(x, 360.0);
    return r < 0.0 ? r + 360.0 : r;
}
// -180..180
inline double limit_degrees_180pm(double x) {
    double r = limit_degrees(x);
    return r > 180.0 ? r - 360.0 : r;
}


GeocentricSun geocentric_sun(double jd_ut, double delta_t_s);

// Delta-T to use: the option when given, else the estimate for the year of `jd_ut`.
double resolve_delta_t(double option_delta_t_s, double jd_ut);

}  // namespace pvfleet::solar::detail
