#include "pvfleet/solar/transposition.hpp"
#include "angles.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace pvfleet::solar {
namespace {

using detail::deg;

// Perez et al. 1990, "allsitescomposite1990": F1 = f11 + f12·delta + z·f13, F2 = f21 + f22·delta + z·f23,
// one row per sky-clearness (epsilon) bin.
struct PerezRow {
    double f11, f12, f13, f21, f22, f23;
};
constexpr PerezRow perez_1990[8] = {
    {-0.0080, 0.5880, -0.0620, -0.0600, 0.0720, -0.0220}, {0.1300, 0.6830, -0.1510, -0.0190, 0.0660, -0.0290},
    {0.3300, 0.4870, -0.2210, 0.0550, -0.0640, -0.0260},  {0.5680, 0.1870, -0.2950, 0.1090, -0.1520, -0.0140},
    {0.8730, -0.3920, -0.3620, 0.2260, -0.4620, 0.0010},  {1.1320, -1.2370, -0.4120, 0.2880, -0.8230, 0.0560},
    {1.0600, -1.6000, -0.3590, 0.2640, -1.1270, 0.1310},  {0.6780, -0.3270, -0.2500, 0.1560, -1.3770, 0.2510},
};
constexpr double epsilon_bin_upper[7] = {1.065, 1.23, 1.5, 1.95, 2.8, 4.5, 6.2};

double perez_sky(double tilt_r, double cos_aoi, double zenith_deg, const Irradiance& irr, double dni_extra, double am) {
    if (!(irr.dhi > 0.0)) return 0.0;
    const double z = zenith_deg * deg;
    const double kappa_z3 = 1.041 * z * z * z;
    const double epsilon = ((irr.dhi + irr.dni) / irr.dhi + kappa_z3) / (1.0 + kappa_z3);
    const double delta = irr.dhi * am / dni_extra;
    int bin = 0;
    while (bin < 7 && epsilon >= epsilon_bin_upper[bin]) ++bin;
    const PerezRow& c = perez_1990[bin];
    const double f1 = std::max(0.0, c.f11 + c.f12 * delta + z * c.f13);
    const double f2 = c.f21 + c.f22 * delta + z * c.f23;
    const double a = std::max(0.0, cos_aoi);
    const double b = std::max(std::cos(85.0 * deg), std::cos(z));
    const double sky = irr.dhi * ((1.0 - f1) * (1.0 + std::cos(tilt_r)) / 2.0 + f1 * a / b + f2 * std::sin(tilt_r));
    return std::max(0.0, sky);
}

double hay_davies_sky(double tilt_r, double cos_aoi, double zenith_deg, const Irradiance& irr, double dni_extra) {
    const double anisotropy = std::clamp(irr.dni / dni_extra, 0.0, 1.0);
    const double rb = std::max(0.0, cos_aoi) / std::max(std::cos(zenith_deg * deg), 0.01745);
    return std::max(0.0, irr.dhi * (anisotropy * rb + (1.0 - anisotropy) * (1.0 + std::cos(tilt_r)) / 2.0));
}

}  // namespace

double cos_angle_of_incidence(const PlaneOrientation& plane, double zenith_deg, double azimuth_deg) {
    const double t = plane.tilt_deg * deg;
    const double z = zenith_deg * deg;
    return std::clamp(std::cos(t) * std::cos(z) + std::sin(t) * std::sin(z) * std::cos((azimuth_deg - plane.azimuth_deg) * deg),
                      -1.0, 1.0);
}

double angle_of_incidence_deg(const PlaneOrientation& plane, double zenith_deg, double azimuth_deg) {
    return std::acos(cos_angle_of_incidence(plane, zenith_deg, azimuth_deg)) / deg;
}

PoaIrradiance transpose(const PlaneOrientation& plane, const SunGeometry& sun, const Irradiance& irr, double albedo,
                        SkyDiffuseModel model) {
    PoaIrradiance out;
    const double tilt_r = plane.tilt_deg * deg;
    const double cos_aoi = cos_angle_of_incidence(plane, sun.zenith_deg, sun.azimuth_deg);
    const bool sun_up = sun.zenith_deg < 90.0;
    out.beam = sun_up ? std::max(0.0, irr.dni * cos_aoi) : 0.0;
    switch (model) {
    case SkyDiffuseModel::perez: {
        double am = sun.relative_airmass;
        if (std::isnan(am)) am = relative_airmass(std::min(sun.zenith_deg, 89.99));
        out.sky_diffuse = sun_up ? perez_sky(tilt_r, cos_aoi, sun.zenith_deg, irr, sun.dni_extra, am)
                                 : std::max(0.0, irr.dhi) * (1.0 + std::cos(tilt_r)) / 2.0;
        break;
    }
    case SkyDiffuseModel::hay_davies:
        out.sky_diffuse = sun_up ? hay_davies_sky(tilt_r, cos_aoi, sun.zenith_deg, irr, sun.dni_extra)
                                 : std::max(0.0, irr.dhi) * (1.0 + std::cos(tilt_r)) / 2.0;
        break;
    case SkyDiffuseModel::isotropic:
        out.sky_diffuse = std::max(0.0, irr.dhi) * (1.0 + std::cos(tilt_r)) / 2.0;
        break;
    }
    out.ground_diffuse = std::max(0.0, irr.ghi) * albedo * (1.0 - std::cos(tilt_r)) / 2.0;
    out.global = out.beam + out.sky_diffuse + out.ground_diffuse;
    return out;
}

double incidence_angle_modifier(double aoi_deg) {
    constexpr double n = 1.526;
    constexpr double kl = 4.0 * 0.002;
    const double theta = std::abs(aoi_deg) * deg;
    if (!(theta < std::numbers::pi / 2.0)) return 0.0;
    const double tau0 = std::exp(-kl) * (1.0 - std::pow((n - 1.0) / (n + 1.0), 2));
    if (theta < 1e-6) return 1.0;
    const double theta_r = std::asin(std::sin(theta) / n);
    const double rs = std::pow(std::sin(theta_r - theta), 2) / std::pow(std::sin(theta_r + theta), 2);
    const double rp = std::pow(std::tan(theta_r - theta), 2) / std::pow(std::tan(theta_r + theta), 2);
    const double tau = std::exp(-kl / std::cos(theta_r)) * (1.0 - 0.5 * (rs + rp));
    return std::clamp(tau / tau0, 0.0, 1.0);
}

}  // namespace pvfleet::solar
