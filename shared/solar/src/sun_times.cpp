// Sunrise, transit and sunset by iterating the SPA geocentric position (instead of SPA's interpolation
// between three days): the same -0.8333° convention, no assumption about where the UTC day boundary
// falls, and explicit polar day/night.
#include <cmath>

#include "pvfleet/solar/position.hpp"
#include "spa_core.hpp"

namespace pvfleet::solar {
namespace {

using detail::deg;
constexpr double sidereal_deg_per_day = 360.98564736629;
constexpr double horizon_deg = -0.8333;  // 34' refraction + 16' solar radius

TimePoint from_julian_day(double jd) {
    return TimePoint{Millis{static_cast<long long>(std::llround((jd - 2440587.5) * 86400000.0))}};
}

struct Local {
    double hour_angle_deg;  // -180..180
    double elevation_deg;   // geometric, geocentric
    double declination_deg;
};

Local local_sun(double jd, double delta_t, const Location& where) {
    const auto g = detail::geocentric_sun(jd, delta_t);
    const double h = detail::limit_degrees_180pm(g.sidereal_time_deg + where.longitude_deg - g.right_ascension_deg);
    const double phi = where.latitude_deg * deg;
    const double d = g.declination_deg * deg;
    const double e = std::asin(std::sin(phi) * std::sin(d) + std::cos(phi) * std::cos(d) * std::cos(h * deg)) / deg;
    return {h, e, g.declination_deg};
}

// Transit nearest to `jd_guess`: drive the hour angle to zero.
double find_transit(double jd_guess, double delta_t, const Location& where) {
    double jd = jd_guess;
    for (int i = 0; i < 6; ++i) {
        const double h = local_sun(jd, delta_t, where).hour_angle_deg;
        const double step = h / sidereal_deg_per_day;
        jd -= step;
        if (std::abs(step) < 1e-7) break;  // ~10 ms
    }
    return jd;
}

// Sunrise (side = -1) or sunset (+1) around a transit: Newton steps on the elevation.
std::optional<double> find_horizon_crossing(double jd_transit, double side, double delta_t, const Location& where) {
    const double phi = where.latitude_deg * deg;
    double jd = jd_transit;
    for (int i = 0; i < 12; ++i) {
        const Local s = local_sun(jd, delta_t, where);
        const double d = s.declination_deg * deg;
        const double cos_h0 = (std::sin(horizon_deg * deg) - std::sin(phi) * std::sin(d)) / (std::cos(phi) * std::cos(d));
        if (cos_h0 < -1.0 || cos_h0 > 1.0) return std::nullopt;
        if (i == 0) {
            jd = jd_transit + side * std::acos(cos_h0) / deg / sidereal_deg_per_day;
            continue;
        }
        // SPA's correction: (h - h0') / (360 cos(dec) cos(lat) sin(H)).
        const double denom = sidereal_deg_per_day * std::cos(d) * std::cos(phi) * std::sin(s.hour_angle_deg * deg);
        if (std::abs(denom) < 1e-9) return std::nullopt;
        const double step = (s.elevation_deg - horizon_deg) / denom;
        jd += step;
        if (std::abs(step) < 1e-7) return jd;
    }
    return jd;
}

SunTimes times_near(double jd_guess, const Location& where, const PositionOptions& options) {
    const double delta_t = detail::resolve_delta_t(options.delta_t_s, jd_guess);
    SunTimes out;
    const double jd_transit = find_transit(jd_guess, delta_t, where);
    out.transit = from_julian_day(jd_transit);
    const Local at_transit = local_sun(jd_transit, delta_t, where);
    out.transit_elevation_deg = at_transit.elevation_deg;

    const auto rise = find_horizon_crossing(jd_transit, -1.0, delta_t, where);
    const auto set = find_horizon_crossing(jd_transit, +1.0, delta_t, where);
    if (rise && set) {
        out.kind = DayKind::normal;
        out.sunrise = from_julian_day(*rise);
        out.sunset = from_julian_day(*set);
    } else {
        // Whether the sun is up at its highest point decides between the two polar cases.
        out.kind = at_transit.elevation_deg > horizon_deg ? DayKind::polar_day : DayKind::polar_night;
    }
    return out;
}

}  // namespace

SunTimes sun_times(std::chrono::year_month_day local_date, std::chrono::minutes utc_offset, const Location& where,
                   const PositionOptions& options) {
    using namespace std::chrono;
    // Mean solar noon in the zone's local clock, hours after local midnight, folded into the date.
    double noon_local_h = 12.0 - where.longitude_deg / 15.0 + static_cast<double>(utc_offset.count()) / 60.0;
    while (noon_local_h < 0.0) noon_local_h += 24.0;
    while (noon_local_h >= 24.0) noon_local_h -= 24.0;
    const TimePoint local_midnight_utc = TimePoint{sys_days{local_date}} - utc_offset;
    const double jd_guess = julian_day(local_midnight_utc) + noon_local_h / 24.0;
    return times_near(jd_guess, where, options);
}

SunTimes sun_times_around(TimePoint t, const Location& where, const PositionOptions& options) {
    // Local mean solar time = UTC + longitude/15 h; its noon on the day containing t.
    const double jd_lmst = julian_day(t) + where.longitude_deg / 360.0;
    const double jd_noon_lmst = std::floor(jd_lmst - 0.5) + 1.0;  // JD days start at noon: floor(x-0.5)+0.5 is midnight
    return times_near(jd_noon_lmst - where.longitude_deg / 360.0, where, options);
}

}  // namespace pvfleet::solar
