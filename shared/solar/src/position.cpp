// NREL SPA (Reda & Andreas, "Solar position algorithm for solar radiation applications", NREL/TP-560-34302,
// 2004, rev. 2008), step numbers in comments follow section 3 of the report.
#include "pvfleet/solar/position.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "spa_core.hpp"
#include "spa_tables.hpp"

namespace pvfleet::solar {
namespace detail {
namespace {

double sum_terms(std::span<const spa_tables::Term> terms, double jme) {
    double s = 0.0;
    for (const auto& t : terms) s += t.a * std::cos(t.b + t.c * jme);
    return s;
}

double polynomial(std::span<const double> series, double x) {  // series[0] + series[1] x + ...
    double r = 0.0;
    for (auto it = series.rbegin(); it != series.rend(); ++it) r = r * x + *it;
    return r;
}

}  // namespace

double resolve_delta_t(double option_delta_t_s, double jd_ut) {
    if (!std::isnan(option_delta_t_s)) return option_delta_t_s;
    const double year = 2000.0 + (jd_ut - 2451544.5) / 365.2425;
    return estimate_delta_t_seconds(year);
}

// Long on purpose: SPA steps 3.1-3.10 in the report's order, kept whole so it reads against the publication.
GeocentricSun geocentric_sun(double jd, double delta_t_s) {
    GeocentricSun g;
    g.jd = jd;
    // 3.1 Julian ephemeris day, century, millennium.
    const double jde = jd + delta_t_s / 86400.0;
    const double jc = (jd - 2451545.0) / 36525.0;
    const double jce = (jde - 2451545.0) / 36525.0;
    const double jme = jce / 10.0;

    // 3.2 Earth heliocentric longitude, latitude, radius.
    const double l_series[] = {sum_terms(spa_tables::L0, jme), sum_terms(spa_tables::L1, jme),
                               sum_terms(spa_tables::L2, jme), sum_terms(spa_tables::L3, jme),
                               sum_terms(spa_tables::L4, jme), sum_terms(spa_tables::L5, jme)};
    const double l_deg = limit_degrees(polynomial(l_series, jme) / 1e8 / deg);
    const double b_series[] = {sum_terms(spa_tables::B0, jme), sum_terms(spa_tables::B1, jme)};
    const double b_deg = polynomial(b_series, jme) / 1e8 / deg;
    const double r_series[] = {sum_terms(spa_tables::R0, jme), sum_terms(spa_tables::R1, jme),
                               sum_terms(spa_tables::R2, jme), sum_terms(spa_tables::R3, jme),
                               sum_terms(spa_tables::R4, jme)};
    g.radius_au = polynomial(r_series, jme) / 1e8;

    // 3.3 Geocentric longitude and latitude.
    const double theta = limit_degrees(l_deg + 180.0);
    const double beta = -b_deg;

    // 3.4 Nutation in longitude and obliquity.
    const double jce2 = jce * jce;
    const double jce3 = jce2 * jce;
    const double x[5] = {
        297.85036 + 445267.111480 * jce - 0.0019142 * jce2 + jce3 / 189474.0,  // moon-sun elongation
        357.52772 + 35999.050340 * jce - 0.0001603 * jce2 - jce3 / 300000.0,   // sun mean anomaly
        134.96298 + 477198.867398 * jce + 0.0086972 * jce2 + jce3 / 56250.0,   // moon mean anomaly
        93.27191 + 483202.017538 * jce - 0.0036825 * jce2 + jce3 / 327270.0,   // moon argument of latitude
        125.04452 - 1934.136261 * jce + 0.0020708 * jce2 + jce3 / 450000.0,    // moon ascending node
    };
    double delta_psi = 0.0;
    double delta_eps = 0.0;
    for (const auto& n : spa_tables::nutation) {
        double arg = 0.0;
        for (int j = 0; j < 5; ++j) arg += x[j] * n.y[j];
        arg *= deg;
        delta_psi += (n.a + n.b * jce) * std::sin(arg);
        delta_eps += (n.c + n.d * jce) * std::cos(arg);
    }
    delta_psi /= 36000000.0;
    delta_eps /= 36000000.0;

    // 3.5 True obliquity of the ecliptic.
    const double u = jme / 10.0;
    const double eps0_series[] = {84381.448, -4680.93, -1.55, 1999.25, -51.38, -249.67,
                                  -39.05,    7.12,     27.87, 5.79,    2.45};
    const double eps = polynomial(eps0_series, u) / 3600.0 + delta_eps;

    // 3.6 Aberration correction; 3.7 apparent sun longitude.
    const double delta_tau = -20.4898 / (3600.0 * g.radius_au);
    const double lambda = theta + delta_psi + delta_tau;

    // 3.8 Apparent sidereal time at Greenwich.
    const double nu0 = limit_degrees(280.46061837 + 360.98564736629 * (jd - 2451545.0) + 0.000387933 * jc * jc -
                                     jc * jc * jc / 38710000.0);
    g.sidereal_time_deg = limit_degrees(nu0 + delta_psi * std::cos(eps * deg));

    // 3.9, 3.10 Geocentric right ascension and declination.
    const double lambda_r = lambda * deg;
    const double eps_r = eps * deg;
    const double beta_r = beta * deg;
    g.right_ascension_deg = limit_degrees(
        std::atan2(std::sin(lambda_r) * std::cos(eps_r) - std::tan(beta_r) * std::sin(eps_r), std::cos(lambda_r)) /
        deg);
    g.declination_deg = std::asin(std::sin(beta_r) * std::cos(eps_r) +
                                  std::cos(beta_r) * std::sin(eps_r) * std::sin(lambda_r)) /
                        deg;
    g.nutation_longitude_deg = delta_psi;
    g.true_obliquity_deg = eps;

    // Equation of time (report section A.1): sun mean longitude against apparent right ascension.
    const double m_series[] = {280.4664567, 360007.6982779, 0.03032028, 1.0 / 49931.0, -1.0 / 15300.0,
                               -1.0 / 2000000.0};
    const double m = limit_degrees(polynomial(m_series, jme));
    double e_min = 4.0 * limit_degrees(m - 0.0057183 - g.right_ascension_deg + delta_psi * std::cos(eps_r));
    if (e_min > 20.0) e_min -= 1440.0;
    if (e_min < -20.0) e_min += 1440.0;
    g.equation_of_time_min = e_min;
    return g;
}

}  // namespace detail

double estimate_delta_t_seconds(double y) {
    // 2000..2025: observed values (IERS, rounded), interpolated; the Earth's rotation sped up after 2016,
    // so the Espenak-Meeus 2005-2050 polynomial overshoots by ~5 s today. Outside that span, the
    // Espenak & Meeus (2006) polynomials. A 10 s error moves the sun by only ~1e-4 degrees (the UT
    // sidereal angle does not depend on delta-T), so this estimate is ample for PV work.
    static constexpr double observed[] = {63.83, 64.69, 66.07, 67.64, 69.36, 69.20};  // 2000, 2005, ..., 2025
    if (y >= 2000.0 && y <= 2025.0) {
        const double f = (y - 2000.0) / 5.0;
        const auto i = static_cast<int>(std::min(f, 4.0));
        return observed[i] + (observed[i + 1] - observed[i]) * (f - i);
    }
    if (y > 2025.0 && y < 2050.0) {
        // Join the Espenak-Meeus long-term trend at 2050 from the 2025 observation.
        const double trend_2050 = 62.92 + 0.32217 * 50.0 + 0.005589 * 2500.0;
        const double w = (y - 2025.0) / 25.0;
        return observed[5] * (1.0 - w) + trend_2050 * w;
    }
    if (y < 2000.0 && y >= 1986.0) {
        const double t = y - 2000.0;
        return 63.86 + 0.3345 * t - 0.060374 * t * t + 0.0017275 * t * t * t + 0.000651814 * t * t * t * t +
               0.00002373599 * t * t * t * t * t;
    }
    if (y < 1986.0) {
        const double t = y - 1975.0;  // 1961..1986 branch; earlier years are outside pvfleet's scope
        return 45.45 + 1.067 * t - t * t / 260.0 - t * t * t / 718.0;
    }
    const double u = (y - 1820.0) / 100.0;
    return -20.0 + 32.0 * u * u - 0.5628 * (2150.0 - y);
}

double julian_day(TimePoint t) {
    return static_cast<double>(t.time_since_epoch().count()) / 86400000.0 + 2440587.5;
}

namespace {

// Steps 3.11-3.15: from the geocentric sun to the observer's topocentric, refracted position.
SolarPosition topocentric(const detail::GeocentricSun& g, double jd, const Location& where, const PositionOptions& options) {
    using detail::deg;

    SolarPosition p;
    p.julian_day = jd;
    p.declination_deg = g.declination_deg;
    p.right_ascension_deg = g.right_ascension_deg;
    p.equation_of_time_min = g.equation_of_time_min;
    p.earth_sun_distance_au = g.radius_au;

    // 3.11 Observer local hour angle.
    const double h = detail::limit_degrees(g.sidereal_time_deg + where.longitude_deg - g.right_ascension_deg);

    // 3.12 Topocentric right ascension and declination (parallax).
    const double xi = 8.794 / (3600.0 * g.radius_au) * deg;
    const double phi = where.latitude_deg * deg;
    const double u = std::atan(0.99664719 * std::tan(phi));
    const double x = std::cos(u) + where.elevation_m / 6378140.0 * std::cos(phi);
    const double y = 0.99664719 * std::sin(u) + where.elevation_m / 6378140.0 * std::sin(phi);
    const double h_r = h * deg;
    const double delta_r = g.declination_deg * deg;
    const double denom = std::cos(delta_r) - x * std::sin(xi) * std::cos(h_r);
    const double delta_alpha = std::atan2(-x * std::sin(xi) * std::sin(h_r), denom);
    const double delta_prime = std::atan2((std::sin(delta_r) - y * std::sin(xi)) * std::cos(delta_alpha), denom);
    p.topocentric_declination_deg = delta_prime / deg;

    // 3.13 Topocentric local hour angle.
    const double h_prime = h_r - delta_alpha;
    p.hour_angle_deg = detail::limit_degrees_180pm(h_prime / deg);

    // 3.14 Topocentric elevation without refraction; refraction for the sun above the horizon.
    const double e0 = std::asin(std::sin(phi) * std::sin(delta_prime) +
                                std::cos(phi) * std::cos(delta_prime) * std::cos(h_prime)) /
                      deg;
    p.elevation_deg = e0;
    const double pressure = std::isnan(options.pressure_mbar)
                                ? 1013.25 * std::pow(1.0 - 2.25577e-5 * where.elevation_m, 5.25588)
                                : options.pressure_mbar;
    double refraction = 0.0;
    if (e0 >= -(0.26667 + options.atmospheric_refraction_deg)) {
        refraction = pressure / 1010.0 * 283.0 / (273.0 + options.temperature_c) * 1.02 /
                     (60.0 * std::tan((e0 + 10.3 / (e0 + 5.11)) * deg));
    }
    p.apparent_elevation_deg = e0 + refraction;
    p.zenith_deg = 90.0 - p.apparent_elevation_deg;

    // 3.15 Topocentric azimuth, clockwise from north.
    const double gamma = std::atan2(std::sin(h_prime), std::cos(h_prime) * std::sin(phi) - std::tan(delta_prime) * std::cos(phi));
    p.azimuth_deg = detail::limit_degrees(gamma / deg + 180.0);
    return p;
}

constexpr double node_spacing_days = 1.0 / 24.0;
constexpr double sidereal_rate_deg_per_day = 360.98564736629;

}  // namespace

SolarPosition solar_position(TimePoint t, const Location& where, const PositionOptions& options) {
    const double jd = julian_day(t);
    return topocentric(detail::geocentric_sun(jd, detail::resolve_delta_t(options.delta_t_s, jd)), jd, where, options);
}

SolarPosition SolarPositionCache::at(TimePoint t, const Location& where, const PositionOptions& options) {
    const double jd = julian_day(t);
    const double node = std::floor(jd / node_spacing_days) * node_spacing_days;
    const double delta_t = detail::resolve_delta_t(options.delta_t_s, node);
    if (!valid_ || node != node_jd_ || delta_t != delta_t_s_) {
        if (valid_ && delta_t == delta_t_s_ && std::abs(node - (node_jd_ + node_spacing_days)) < 1e-9) {
            first_ = second_;  // moving forward by one node: reuse the later one
        } else {
            first_ = detail::geocentric_sun(node, delta_t);
        }
        second_ = detail::geocentric_sun(node + node_spacing_days, delta_t);
        node_jd_ = node;
        delta_t_s_ = delta_t;
        valid_ = true;
    }
    // Linear interpolation between the nodes; angles are unwrapped, the sidereal time is interpolated
    // as its residual from the uniform rotation.
    const double w = (jd - node_jd_) / node_spacing_days;
    auto lerp = [w](double a, double b) { return a + (b - a) * w; };
    detail::GeocentricSun g = first_;
    g.jd = jd;
    g.right_ascension_deg = detail::limit_degrees(
        first_.right_ascension_deg + w * detail::limit_degrees_180pm(second_.right_ascension_deg - first_.right_ascension_deg));
    g.declination_deg = lerp(first_.declination_deg, second_.declination_deg);
    g.radius_au = lerp(first_.radius_au, second_.radius_au);
    g.equation_of_time_min = lerp(first_.equation_of_time_min, second_.equation_of_time_min);
    g.nutation_longitude_deg = lerp(first_.nutation_longitude_deg, second_.nutation_longitude_deg);
    g.true_obliquity_deg = lerp(first_.true_obliquity_deg, second_.true_obliquity_deg);
    const double residual = detail::limit_degrees_180pm(second_.sidereal_time_deg - first_.sidereal_time_deg -
                                                        sidereal_rate_deg_per_day * node_spacing_days);
    g.sidereal_time_deg =
        detail::limit_degrees(first_.sidereal_time_deg + sidereal_rate_deg_per_day * (jd - node_jd_) + w * residual);
    return topocentric(g, jd, where, options);
}

}  // namespace pvfleet::solar
