#include <doctest/doctest.h>

#include <cmath>

#include "pvfleet/solar/transposition.hpp"

using namespace pvfleet::solar;

namespace {
const Irradiance clear_sky{850.0, 900.0, 100.0};
const SunGeometry sun_30{30.0, 160.0, 1366.1};
}  // namespace

TEST_CASE("angle of incidence") {
    CHECK(angle_of_incidence_deg({30.0, 160.0}, 30.0, 160.0) == doctest::Approx(0.0).epsilon(1e-6));
    CHECK(angle_of_incidence_deg({0.0, 180.0}, 42.0, 75.0) == doctest::Approx(42.0));
    // Vertical wall facing east, sun due south at 30° zenith: grazing at 90°.
    CHECK(angle_of_incidence_deg({90.0, 90.0}, 30.0, 180.0) == doctest::Approx(90.0));
    CHECK(cos_angle_of_incidence({90.0, 0.0}, 30.0, 180.0) < 0.0);  // sun behind a north wall
}

TEST_CASE("a horizontal plane receives exactly the global horizontal irradiance") {
    for (auto model : {SkyDiffuseModel::perez, SkyDiffuseModel::hay_davies, SkyDiffuseModel::isotropic}) {
        const double cos_z = std::cos(30.0 * std::acos(-1.0) / 180.0);
        const Irradiance consistent{900.0 * cos_z + 100.0, 900.0, 100.0};
        const PoaIrradiance p = transpose({0.0, 180.0}, sun_30, consistent, 0.2, model);
        // Perez's horizon band has sin(0) = 0 and its circumsolar a/b = 1: both vanish on a flat plane.
        CHECK(p.global == doctest::Approx(consistent.ghi).epsilon(1e-9));
        CHECK(p.ground_diffuse == 0.0);
    }
}

TEST_CASE("ground reflection and beam on tilted planes") {
    const PoaIrradiance p = transpose({60.0, 180.0}, sun_30, clear_sky, 0.3, SkyDiffuseModel::isotropic);
    CHECK(p.ground_diffuse == doctest::Approx(850.0 * 0.3 * (1.0 - 0.5) / 2.0));
    CHECK(p.sky_diffuse == doctest::Approx(100.0 * 1.5 / 2.0));
    CHECK(p.beam == doctest::Approx(900.0 * cos_angle_of_incidence({60.0, 180.0}, 30.0, 160.0)));
    // A north wall, facing away from the sun: no beam, and Perez puts no circumsolar light on it.
    const PoaIrradiance away = transpose({90.0, 0.0}, sun_30, clear_sky, 0.2, SkyDiffuseModel::perez);
    CHECK(away.beam == 0.0);
    const PoaIrradiance away_iso = transpose({90.0, 0.0}, sun_30, clear_sky, 0.2, SkyDiffuseModel::isotropic);
    CHECK(away.sky_diffuse < away_iso.sky_diffuse);
    // Facing the sun on a clear day, anisotropic models see more sky light than the isotropic one.
    const PoaIrradiance facing_perez = transpose({30.0, 160.0}, sun_30, clear_sky, 0.2, SkyDiffuseModel::perez);
    const PoaIrradiance facing_hay = transpose({30.0, 160.0}, sun_30, clear_sky, 0.2, SkyDiffuseModel::hay_davies);
    const PoaIrradiance facing_iso = transpose({30.0, 160.0}, sun_30, clear_sky, 0.2, SkyDiffuseModel::isotropic);
    CHECK(facing_perez.sky_diffuse > facing_iso.sky_diffuse);
    CHECK(facing_hay.sky_diffuse > facing_iso.sky_diffuse);
    CHECK(facing_perez.beam == doctest::Approx(900.0));
}

TEST_CASE("Perez sky diffuse follows the 1990 coefficients") {
    // Hand-computed case: z = 30°, DHI 100, DNI 900, I0 1366.1, AM_rel(30°) from Kasten-Young.
    // epsilon = ((100 + 900)/100 + 1.041 z^3) / (1 + 1.041 z^3) = 8.8 -> last bin (>= 6.2);
    // delta = 100 * AM / 1366.1.
    const double z = 30.0 * std::acos(-1.0) / 180.0;
    const double am = relative_airmass(30.0);
    const double delta = 100.0 * am / 1366.1;
    const double f1 = std::max(0.0, 0.6780 - 0.3270 * delta - 0.2500 * z);
    const double f2 = 0.1560 - 1.3770 * delta + 0.2510 * z;
    const double tilt = 40.0 * std::acos(-1.0) / 180.0;
    const double cos_aoi = cos_angle_of_incidence({40.0, 200.0}, 30.0, 160.0);
    const double expected = 100.0 * ((1 - f1) * (1 + std::cos(tilt)) / 2 + f1 * cos_aoi / std::cos(z) + f2 * std::sin(tilt));
    const PoaIrradiance p = transpose({40.0, 200.0}, sun_30, clear_sky, 0.2, SkyDiffuseModel::perez);
    CHECK(p.sky_diffuse == doctest::Approx(expected).epsilon(1e-9));
}

TEST_CASE("night and zero irradiance give zero") {
    const PoaIrradiance p = transpose({30.0, 180.0}, {100.0, 0.0, 1366.1}, Irradiance{}, 0.2, SkyDiffuseModel::perez);
    CHECK(p.global == 0.0);
}

TEST_CASE("physical incidence-angle modifier") {
    CHECK(incidence_angle_modifier(0.0) == doctest::Approx(1.0));
    CHECK(incidence_angle_modifier(30.0) > 0.99);
    CHECK(incidence_angle_modifier(60.0) > 0.90);
    CHECK(incidence_angle_modifier(60.0) < 0.99);
    CHECK(incidence_angle_modifier(80.0) < incidence_angle_modifier(70.0));
    CHECK(incidence_angle_modifier(90.0) == 0.0);
    CHECK(incidence_angle_modifier(120.0) == 0.0);
}
