#pragma once
// Solar position by the NREL Solar Position Algorithm (Reda & Andreas 2004, rev. 2008), written for
// pvfleet: uncertainty ±0.0003° for years -2000..6000. Angles in degrees, time in UTC.
#include <chrono>
#include <limits>
#include <optional>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::solar {

// A place on Earth. Longitude positive east, latitude positive north.
struct Location {
    double latitude_deg = 0.0;
    double longitude_deg = 0.0;
    double elevation_m = 0.0;
};

// What the position calculation needs beyond time and place.
struct PositionOptions {
    // TT - UT1 in seconds. NaN: estimated from the year (Espenak & Meeus polynomial, ~69 s around 2020).
    double delta_t_s = std::numeric_limits<double>::quiet_NaN();
    // Local annual-mean station pressure for the refraction correction. NaN: from elevation (standard
    // atmosphere).
    double pressure_mbar = std::numeric_limits<double>::quiet_NaN();
    // Local annual-mean air temperature for the refraction correction.
    double temperature_c = 12.0;
    // Atmospheric refraction applies only while the sun is above -(0.26667 + this) degrees (SPA's
    // convention: sun radius + refraction at the horizon).
    double atmospheric_refraction_deg = 0.5667;
};

struct SolarPosition {
    double zenith_deg = 90.0;              // topocentric, refraction-corrected
    double azimuth_deg = 0.0;              // topocentric, clockwise from north (180 = south)
    double apparent_elevation_deg = 0.0;   // 90 - zenith_deg (with refraction)
    double elevation_deg = 0.0;            // topocentric, without refraction
    double declination_deg = 0.0;          // geocentric
    double topocentric_declination_deg = 0.0;
    double right_ascension_deg = 0.0;      // geocentric, 0..360
    double hour_angle_deg = 0.0;           // topocentric local hour angle, -180..180 (negative = morning)
    double equation_of_time_min = 0.0;     // apparent minus mean solar time, minutes
    double earth_sun_distance_au = 1.0;
    double julian_day = 0.0;               // UT
};

// Delta-T (TT - UT1) estimate in seconds for a decimal year (Espenak & Meeus 2006 polynomials,
// clamped to the 2005..2050 branch outside the years they cover well).
double estimate_delta_t_seconds(double decimal_year);

// Julian day (UT) of a UTC time point.
double julian_day(TimePoint t);

SolarPosition solar_position(TimePoint t, const Location& where, const PositionOptions& options = {});

namespace detail {
// The place-independent half of SPA at one instant (what SolarPositionCache keeps).
struct GeocentricSun {
    double jd = 0.0;                     // UT
    double right_ascension_deg = 0.0;    // apparent, 0..360
    double declination_deg = 0.0;
    double sidereal_time_deg = 0.0;      // apparent Greenwich sidereal time, 0..360
    double radius_au = 1.0;
    double nutation_longitude_deg = 0.0;
    double true_obliquity_deg = 0.0;
    double equation_of_time_min = 0.0;
};
}  // namespace detail

// Fast repeated positions for nearby instants (replays, daily integration, many sites at one time):
// keeps the full-SPA geocentric sun at the two enclosing whole hours and interpolates it linearly,
// then does the observer-dependent part exactly. Interpolation error < 1e-5° (tested), far below SPA's
// own 3e-4°. A stepping replay costs one full SPA evaluation per hour instead of one per sample.
// Holds state: one cache per thread.
class SolarPositionCache {
public:
    SolarPosition at(TimePoint t, const Location& where, const PositionOptions& options = {});

private:
    detail::GeocentricSun first_;
    detail::GeocentricSun second_;
    double node_jd_ = 0.0;
    double delta_t_s_ = 0.0;
    bool valid_ = false;
};

// True when the sun's apparent elevation is at least `min_elevation_deg`.
inline bool sun_above(const SolarPosition& p, double min_elevation_deg) {
    return p.apparent_elevation_deg >= min_elevation_deg;
}

// ---- sunrise, solar transit, sunset ----

enum class DayKind {
    normal,       // the sun rises and sets
    polar_day,    // the sun stays above the horizon: no sunrise/sunset
    polar_night,  // the sun stays below the horizon: no sunrise/sunset
};

struct SunTimes {
    DayKind kind = DayKind::normal;
    TimePoint transit{};                 // solar noon (sun on the local meridian), always set
    std::optional<TimePoint> sunrise;    // set when kind == normal
    std::optional<TimePoint> sunset;     // set when kind == normal
    double transit_elevation_deg = 0.0;  // geometric, geocentric elevation at transit
};

// Sunrise/transit/sunset for a civil date in a time zone with the given UTC offset: the transit that
// falls on that local date, and the sunrise before / sunset after it. Sunrise and sunset are when the
// sun's geometric centre is at -0.8333° (SPA convention: 34' refraction + 16' radius), to ~1 s.
SunTimes sun_times(std::chrono::year_month_day local_date, std::chrono::minutes utc_offset,
                   const Location& where, const PositionOptions& options = {});

// The same for the local mean-solar day (UTC shifted by longitude/15 h) that contains `t`: what a
// detector wants when it has a sample and no time-zone.
SunTimes sun_times_around(TimePoint t, const Location& where, const PositionOptions& options = {});

}  // namespace pvfleet::solar
